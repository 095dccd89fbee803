//! Differential testing at scale: [`generate`] makes a well-typed kernel
//! and its arguments from a seed — random element types, boundary modes,
//! casts, integer division (by values that may be zero), math functions,
//! comparisons and selects, reductions of every kind, `let`s, stages read
//! at offsets, schedule blocks, and arguments full of NaN, infinities,
//! -0.0 and extreme integers at odd sizes (0 included) — and
//! [`outcomes`] runs it in every configuration: the interpreter as
//! written (the oracle), after the default passes, lowered at `-O0` and
//! `-O2` (interpreted, and compiled by Cranelift at both tiers). Strict
//! floating point throughout, so every configuration must give the same
//! bits or the same error, word for word. `pj difftest` runs N seeds;
//! `tests/difftest.rs` runs a few hundred in CI.

use pj_compiler::Module;
use pj_compiler::codegen::driver::{self, FastMath, Options, Stage};
use pj_compiler::codegen::{Backend, Tier};
use pj_compiler::dialects::arith::Scalar;
use pj_compiler::interp::{self, Tensor, Value};
use pj_compiler::passes::PassManager;
use pj_lang::types::ScalarType;
use std::fmt::Write as _;

/// Deterministic pseudo-random numbers (splitmix64).
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn bits(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.bits() % n.max(1) as u64) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.bits() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    fn pick<T: Clone>(&mut self, from: &[T]) -> T {
        from[self.below(from.len())].clone()
    }
}

/// A generated kernel and the arguments to call it with.
#[derive(Clone, Debug)]
pub struct Program {
    /// The `.pj` source; its kernel is named `k`.
    pub source: String,
    /// One value per parameter.
    pub args: Vec<Value>,
}

/// The element types programs use: every type but `bool` (last in
/// `ScalarType::ALL`), which appears through comparisons, casts and selects.
const TYPES: &[ScalarType] = match ScalarType::ALL.split_last() {
    Some((_, numbers)) => numbers,
    None => &[],
};

struct Array {
    name: String,
    elem: ScalarType,
    bounded: bool,
}

struct Gen<'a> {
    rng: &'a mut Rng,
    rank: usize,
    params: Vec<Array>,
    scalars: Vec<(String, ScalarType)>,
    /// Earlier stages (readable), earlier lets (scalars).
    stages: Vec<(String, ScalarType)>,
    lets: Vec<(String, ScalarType)>,
    /// Whether every array parameter has a boundary mode: then stages may
    /// be read at offsets (their domains grow past the arrays').
    all_bounded: bool,
    /// Inside a reduction over the last dim: its variable.
    red_var: Option<String>,
    /// Inside a `let`: no index variables.
    in_let: bool,
    reductions: usize,
}

impl Gen<'_> {
    fn vars(&self) -> Vec<String> {
        let mut v: Vec<String> = if self.rank == 1 {
            vec!["i".into()]
        } else {
            vec!["y".into(), "x".into()]
        };
        if let Some(k) = &self.red_var {
            *v.last_mut().expect("rank >= 1") = k.clone();
        }
        v
    }

    /// Indices for a read: exact, or at small offsets where allowed.
    fn indices(&mut self, offsets: bool) -> String {
        let vars = self.vars();
        let red = self.red_var.clone();
        vars.iter()
            .map(|v| {
                let off = if offsets && Some(v) != red.as_ref() && self.rng.chance(0.4) {
                    self.rng.pick(&[-2i64, -1, 1, 2])
                } else {
                    0
                };
                match off {
                    0 => v.clone(),
                    o if o < 0 => format!("{v} - {}", -o),
                    o => format!("{v} + {o}"),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn cast(&self, from: ScalarType, to: ScalarType, e: String) -> String {
        if from == to {
            e
        } else if to.is_half() && !from.is_half() && from != ScalarType::F32 {
            // a 16-bit float converts from f32 (or another 16-bit float)
            format!("{}(f32({e}))", to.name())
        } else {
            format!("{}({e})", to.name())
        }
    }

    fn literal(&mut self, t: ScalarType) -> String {
        let text = if t.is_float() {
            // f16 holds at most 65504: the 16-bit floats' large literal
            // is 2^15, which both hold exactly
            let large = if t.is_half() { "3.2768e4" } else { "3.0e8" };
            self.rng
                .pick(&[
                    "0.0", "-0.0", "1.0", "-1.0", "0.5", "2.5", "-3.75", "1e-5", large, "100.0",
                ])
                .to_string()
        } else {
            // the i64 literal is cast: wraps into the type, keeping the
            // type's extremes (the literal itself is always an i64)
            let v: i64 = match self.rng.below(6) {
                0 => 0,
                1 => 1,
                2 => -1,
                3 => i64::MAX,
                4 => i64::MIN + 1,
                _ => self.rng.below(600) as i64 - 300,
            };
            v.to_string()
        };
        format!("{}({text})", t.name())
    }

    fn leaf(&mut self, t: ScalarType) -> String {
        match self.rng.below(6) {
            0 | 1 if !self.in_let || self.red_var.is_some() => {
                let p = self.rng.below(self.params.len());
                let bounded = self.params[p].bounded;
                let idx = self.indices(bounded);
                let (name, elem) = (self.params[p].name.clone(), self.params[p].elem);
                self.cast(elem, t, format!("{name}[{idx}]"))
            }
            2 if !self.stages.is_empty() && !self.in_let => {
                let s = self.rng.below(self.stages.len());
                let (name, elem) = self.stages[s].clone();
                let idx = self.indices(self.all_bounded && self.red_var.is_none());
                self.cast(elem, t, format!("{name}[{idx}]"))
            }
            3 if !self.scalars.is_empty() => {
                let (name, elem) = self.rng.pick(&self.scalars);
                self.cast(elem, t, name)
            }
            4 if !self.lets.is_empty() => {
                let (name, elem) = self.rng.pick(&self.lets);
                self.cast(elem, t, name)
            }
            5 if !self.in_let && self.rng.chance(0.3) => {
                let v = self.rng.pick(&self.vars());
                self.cast(ScalarType::I64, t, v)
            }
            _ => self.literal(t),
        }
    }

    fn condition(&mut self, depth: usize) -> String {
        let t = self.rng.pick(TYPES);
        let (a, b) = (self.expr(t, depth), self.expr(t, depth));
        let op = self.rng.pick(&["<", "<=", ">", ">=", "==", "!="]);
        let c = format!("({a} {op} {b})");
        match self.rng.below(5) {
            0 => {
                let d = self.condition(depth.saturating_sub(1));
                format!("({c} && {d})")
            }
            1 => {
                let d = self.condition(depth.saturating_sub(1));
                format!("({c} || {d})")
            }
            2 => format!("(!{c})"),
            _ => c,
        }
    }

    fn expr(&mut self, t: ScalarType, depth: usize) -> String {
        if depth == 0 || self.rng.chance(0.2) {
            return self.leaf(t);
        }
        let d = depth - 1;
        match self.rng.below(12) {
            0..=2 => {
                let op = self.rng.pick(&["+", "-", "*", "/", "%"]);
                let (a, b) = (self.expr(t, d), self.expr(t, d));
                format!("({a} {op} {b})")
            }
            3 => format!("(-{})", self.expr(t, d)),
            4 => {
                let f = self.rng.pick(&["min", "max"]);
                format!("{f}({}, {})", self.expr(t, d), self.expr(t, d))
            }
            5 => match self.rng.below(2) {
                0 => format!("abs({})", self.expr(t, d)),
                _ => format!(
                    "clamp({}, {}, {})",
                    self.expr(t, d),
                    self.expr(t, d),
                    self.expr(t, d)
                ),
            },
            6 => {
                let c = self.condition(d.min(2));
                format!("select({c}, {}, {})", self.expr(t, d), self.expr(t, d))
            }
            7 => {
                if self.rng.chance(0.2) {
                    let c = self.condition(d.min(1));
                    self.cast(ScalarType::I32, t, format!("i32({c})"))
                } else {
                    let from = self.rng.pick(TYPES);
                    let e = self.expr(from, d);
                    self.cast(from, t, e)
                }
            }
            8 if t.is_float() => {
                let f = self.rng.pick(&[
                    "exp", "log", "sqrt", "tanh", "floor", "ceil", "sin", "cos", "tan", "erf",
                    "log1p", "expm1",
                ]);
                format!("{f}({})", self.expr(t, d))
            }
            9 if t.is_float() => {
                let f = self.rng.pick(&["pow", "atan2"]);
                format!("{f}({}, {})", self.expr(t, d), self.expr(t, d))
            }
            10 | 11 if self.red_var.is_none() && !self.in_let && self.reductions < 2 => {
                self.reductions += 1;
                let kind = self
                    .rng
                    .pick(&["sum", "prod", "min", "max", "argmax", "argmin"]);
                let size = if self.rank == 1 { "N" } else { "W" };
                let k = format!("k{}", self.reductions);
                let range = if self.rng.chance(0.2) {
                    "0..0".to_string()
                } else {
                    format!("0..{size}")
                };
                self.red_var = Some(k.clone());
                // an argmax's terms are of any type; its index is an i64
                let term = if kind.starts_with("arg") {
                    self.rng.pick(TYPES)
                } else {
                    t
                };
                let body = self.expr(term, d);
                self.red_var = None;
                let r = format!("({kind}({k} in {range}) {body})");
                if kind.starts_with("arg") {
                    self.cast(ScalarType::I64, t, r)
                } else {
                    r
                }
            }
            _ => self.leaf(t),
        }
    }
}

/// The kernel and arguments of `seed`.
pub fn generate(seed: u64) -> Program {
    let mut rng = Rng::new(seed);
    let rank = 1 + rng.below(2);
    let dims = if rank == 1 { "N" } else { "H, W" };
    let boundaries = ["clamp", "zero", "wrap", "mirror"];
    let mut params = Vec::new();
    for p in 0..1 + rng.below(3) {
        let bounded = rng.chance(0.5);
        params.push(Array {
            name: format!("a{p}"),
            elem: rng.pick(TYPES),
            bounded,
        });
    }
    let scalars: Vec<(String, ScalarType)> = (0..rng.below(2))
        .map(|s| (format!("s{s}"), rng.pick(TYPES)))
        .collect();
    let all_bounded = params.iter().all(|p| p.bounded);
    let mut g = Gen {
        rng: &mut rng,
        rank,
        params,
        scalars,
        stages: Vec::new(),
        lets: Vec::new(),
        all_bounded,
        red_var: None,
        in_let: false,
        reductions: 0,
    };
    let mut body = String::new();
    // lets: scalars from reductions over the first array
    for l in 0..g.rng.below(2) {
        let t = g.rng.pick(TYPES);
        g.in_let = true;
        g.reductions = 0;
        let e = if rank == 1 {
            let kind = g.rng.pick(&["sum", "max", "min"]);
            g.red_var = Some("k0".into());
            let inner = g.expr(t, 2);
            g.red_var = None;
            format!("({kind}(k0 in 0..N) {inner})")
        } else {
            g.expr(t, 2)
        };
        g.in_let = false;
        let name = format!("l{l}");
        let _ = writeln!(body, "    let {name} = {e};");
        g.lets.push((name, t));
    }
    let n_stages = 1 + g.rng.below(3);
    let n_results = 1 + usize::from(g.rng.chance(0.3));
    let vars = g.vars().join(", ");
    let mut results = Vec::new();
    let mut recurrences = Vec::new();
    for s in 0..n_stages + n_results {
        let t = g.rng.pick(TYPES);
        g.reductions = 0;
        let mut e = g.expr(t, 3);
        let name = if s < n_stages {
            format!("t{s}")
        } else {
            let r = format!("r{}", s - n_stages);
            results.push(format!("{r}: {}[{dims}]", t.name()));
            r
        };
        // a recurrence, sometimes: along either dim, at lags up to 3 and
        // now and then beyond what registers carry
        if g.rng.chance(0.25) {
            let scan = g.rng.below(rank);
            let back = |g: &mut Gen<'_>| {
                let lag = if g.rng.chance(0.15) {
                    9 + g.rng.below(3)
                } else {
                    1 + g.rng.below(3)
                };
                let idx: Vec<String> = g
                    .vars()
                    .iter()
                    .enumerate()
                    .map(|(d, v)| {
                        if d == scan {
                            format!("{v} - {lag}")
                        } else {
                            v.clone()
                        }
                    })
                    .collect();
                format!("{name}[{}]", idx.join(", "))
            };
            let first = back(&mut g);
            e = match g.rng.below(3) {
                0 => format!("({e}) + {first}"),
                1 => format!("max({e}, {first})"),
                _ => {
                    let second = back(&mut g);
                    format!("({e}) - {first} + {second}")
                }
            };
            let init = g.literal(t);
            e = format!("{e} init {init}");
            recurrences.push(name.clone());
        }
        let _ = writeln!(body, "    {name}[{vars}] = {e};");
        // an update of a result, sometimes: at indices computed from an
        // array's values, clamped into the result
        if s >= n_stages && !recurrences.contains(&name) && g.rng.chance(0.25) {
            let op = g.rng.pick(&["+", "max", "min"]);
            let extents: Vec<&str> = if rank == 1 { vec!["N"] } else { vec!["H", "W"] };
            let mut idx = Vec::new();
            for ext in extents {
                let p = g.rng.below(g.params.len());
                let at = g.indices(false);
                let src = format!("{}[{at}]", g.params[p].name);
                let shift = g.rng.below(3);
                idx.push(format!("clamp(i64({src}) + {shift}, 0, {ext} - 1)"));
            }
            g.reductions = 0;
            let value = g.expr(t, 2);
            let _ = writeln!(
                body,
                "    {name}[{}] {op}= {value} for {vars};",
                idx.join(", ")
            );
            // its reads are outside any group of the root's
            recurrences.push(name.clone());
        }
        g.stages.push((name, t));
    }
    // a schedule block, sometimes: directives the scheduler would choose or not
    if g.rng.chance(0.3) {
        let mut dirs = Vec::new();
        let root = "r0";
        // a recurrence is computed whole, and an update reads outside any
        // group: no groups, no tiles
        let root_tiles = !recurrences.iter().any(|r| r == root);
        for (name, _) in g.stages.iter().take(n_stages) {
            if recurrences.contains(name) || !root_tiles {
                continue;
            }
            match g.rng.below(4) {
                0 => dirs.push(format!("{name}.compute_at({root});")),
                1 => dirs.push(format!("{name}.compute_root();")),
                _ => {}
            }
        }
        match g.rng.below(5) {
            0 | 3 if !root_tiles => {}
            0 => dirs.push(format!("{root}.tile({});", 1 + g.rng.below(4))),
            1 => dirs.push(format!("{root}.parallel(false);")),
            2 => dirs.push(format!("{root}.vectorize(false);")),
            3 => dirs.push(format!("{root}.tile_bytes({});", 16 << g.rng.below(8))),
            _ => {}
        }
        if !dirs.is_empty() {
            let _ = writeln!(body, "    schedule {{ {} }}", dirs.join(" "));
        }
    }
    let mut sig: Vec<String> = g
        .params
        .iter()
        .map(|p| {
            let b = if p.bounded {
                format!(" @boundary({})", g.rng.pick(&boundaries))
            } else {
                String::new()
            };
            format!("{}: {}[{dims}]{b}", p.name, p.elem.name())
        })
        .collect();
    sig.extend(g.scalars.iter().map(|(n, t)| format!("{n}: {}", t.name())));
    // a size constraint, sometimes: the sizes below may break it
    let clause = if g.rng.chance(0.15) {
        let size = if rank == 1 {
            "N"
        } else {
            g.rng.pick(&["H", "W"])
        };
        match g.rng.below(2) {
            0 => format!(" where {size} >= {}", 1 + g.rng.below(4)),
            _ => format!(" where {size} % 2 == 1"),
        }
    } else {
        String::new()
    };
    let source = format!(
        "kernel k({}) -> ({}){clause} {{\n{body}}}\n",
        sig.join(", "),
        results.join(", ")
    );
    // arguments: odd sizes (sometimes 0), special values
    let Gen {
        params, scalars, ..
    } = g;
    let sizes: Vec<usize> = (0..rank)
        .map(|_| match rng.pick(&[0, 1, 2, 3, 5, 7, 9, 13]) {
            0 if !rng.chance(0.3) => 4,
            n => n,
        })
        .collect();
    let mut args: Vec<Value> = params
        .iter()
        .map(|p| {
            let n: usize = sizes.iter().product();
            let data = (0..n).map(|_| value(&mut rng, p.elem)).collect();
            Value::Array(Tensor::new(p.elem, sizes.clone(), data))
        })
        .collect();
    args.extend(
        scalars
            .iter()
            .map(|(_, t)| Value::Scalar(value(&mut rng, *t))),
    );
    Program { source, args }
}

/// A value of type `t`, a special one a third of the time.
fn value(rng: &mut Rng, t: ScalarType) -> Scalar {
    if t.is_float() {
        let special = [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            1.0,
            f64::from(f32::MAX),
            f64::from(f32::MIN_POSITIVE) / 4.0,
            1e300,
        ];
        if rng.chance(0.33) {
            return Scalar::F64(rng.pick(&special)).cast(t);
        }
        Scalar::F64((rng.below(20_001) as f64) / 1000.0 - 10.0).cast(t)
    } else {
        let special = [0, 1, -1, i64::MIN, i64::MAX, 127, 128, 255, -128];
        let v = if rng.chance(0.33) {
            rng.pick(&special)
        } else {
            rng.below(200) as i64 - 100
        };
        // wraps into the type: every extreme of it is reachable
        Scalar::I64(v).cast(t)
    }
}

fn run_pipeline(m: &Module, pipeline: &str) -> Result<Module, String> {
    let mut l = m.clone();
    PassManager::parse(pipeline)
        .map_err(|e| e.to_string())?
        .run(&mut l)
        .map_err(|e| format!("{pipeline}: {e}"))?;
    Ok(l)
}

/// The outcome of `kernel` of `source` in every configuration, as
/// comparable text: results bit for bit (`Debug` tells NaN and -0.0
/// apart), or `error: ...`. `Err` when the source does not compile (its
/// rendered diagnostics). A pass or backend that fails to compile a
/// verified module is an outcome too (`compile error: ...`): it is a bug.
pub fn outcomes(
    source: &str,
    kernel: &str,
    args: &[Value],
) -> Result<Vec<(String, String)>, String> {
    let m = pj_compiler::compile_source("gen.pj", source)
        .map_err(|d| pj_lang::diagnostic::render_all(&d, "gen.pj", source))?
        .module;
    let show = |r: Result<Vec<Tensor>, String>| match r {
        Ok(t) => format!("{t:?}"),
        Err(e) => format!("error: {e}"),
    };
    let interp_of = |m: &Module| show(interp::run(m, kernel, args).map_err(|e| e.to_string()));
    let mut out = vec![("interpreter".to_string(), interp_of(&m))];
    match run_pipeline(&m, pj_compiler::passes::DEFAULT_PIPELINE) {
        Ok(o) => out.push(("default passes".into(), interp_of(&o))),
        Err(e) => out.push(("default passes".into(), format!("compile error: {e}"))),
    }
    for opt_level in [0, 2] {
        let level = format!("-O{opt_level}");
        // strict floating point: every result bit for bit
        let options = Options {
            opt_level,
            fast_math: FastMath::Off,
            ..Options::default()
        };
        let lowered = match driver::lower(&m, &options, Stage::Checked) {
            Ok((l, _)) => l,
            Err(e) => {
                out.push((format!("loop level {level}"), format!("compile error: {e}")));
                continue;
            }
        };
        out.push((format!("loop level {level}"), interp_of(&lowered)));
        for backend in Backend::built() {
            for tier in [Tier::Quick, Tier::Optimizing] {
                let what = format!("{backend} {level} {tier:?}");
                let options = Options {
                    backend,
                    tier,
                    ..options.clone()
                };
                let r = match driver::jit(&lowered, &options) {
                    Ok(code) => match code.kernel(kernel) {
                        Some(k) => show(k.call(args).map_err(|e| e.message)),
                        None => format!("compile error: no kernel `{kernel}`"),
                    },
                    Err(e) => format!("compile error: {e}"),
                };
                out.push((what, r));
            }
        }
    }
    Ok(out)
}

/// What one program came to.
pub enum Verdict {
    /// Every configuration agreed (on a result, or on an error).
    Agreed {
        /// The outcome was an error.
        error: bool,
    },
    /// The source did not compile: a limit of the generator, not a bug.
    Rejected(String),
    /// Configurations disagreed: a report to print.
    Mismatch(String),
}

/// Runs `program` in every configuration and compares with the interpreter.
pub fn check(program: &Program) -> Verdict {
    let all = match outcomes(&program.source, "k", &program.args) {
        Ok(a) => a,
        Err(diags) => return Verdict::Rejected(diags),
    };
    let want = &all[0].1;
    // a call fails exactly when the interpreter's does; when several
    // divisions fail, which one it names may depend on the order
    // optimized code computes elements in (docs/language.md)
    let same = |got: &String| {
        got == want
            || (got.starts_with("error: ") && without_location(got) == without_location(want))
    };
    let wrong: Vec<&(String, String)> = all[1..].iter().filter(|(_, got)| !same(got)).collect();
    if wrong.is_empty() {
        return Verdict::Agreed {
            error: want.starts_with("error: "),
        };
    }
    let mut report = format!(
        "{}\narguments: {:?}\ninterpreter: {want}\n",
        program.source, program.args
    );
    for (what, got) in wrong {
        let _ = writeln!(report, "{what}: {got}");
    }
    Verdict::Mismatch(report)
}

/// An error message without its source location (` at gen.pj:3:13`).
pub fn without_location(message: &str) -> String {
    match message.find(" at gen.pj:") {
        Some(i) => {
            let rest = &message[i + " at gen.pj:".len()..];
            // `line:col`: digits, a colon, digits
            let digits = |t: &str| t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
            let line = digits(rest);
            let end = match rest[line..].strip_prefix(':') {
                Some(col) => line + 1 + digits(col),
                None => line,
            };
            format!("{}{}", &message[..i], &rest[end..])
        }
        None => message.to_string(),
    }
}

/// Counts over a campaign.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    /// Programs generated.
    pub programs: u64,
    /// Rejected by the front end.
    pub rejected: u64,
    /// Agreed on results.
    pub agreed: u64,
    /// Agreed on an error.
    pub agreed_on_error: u64,
    /// Disagreed.
    pub mismatches: u64,
}

/// Runs seeds `first..first + count`; calls `report(seed, verdict)` for
/// each mismatch and rejection.
pub fn campaign(first: u64, count: u64, mut report: impl FnMut(u64, &Verdict)) -> Tally {
    let mut t = Tally::default();
    for seed in first..first + count {
        t.programs += 1;
        match check(&generate(seed)) {
            Verdict::Agreed { error: false } => t.agreed += 1,
            Verdict::Agreed { error: true } => t.agreed_on_error += 1,
            v @ Verdict::Rejected(_) => {
                t.rejected += 1;
                report(seed, &v);
            }
            v @ Verdict::Mismatch(_) => {
                t.mismatches += 1;
                report(seed, &v);
            }
        }
    }
    t
}

#[cfg(test)]
mod tests {
    #[test]
    fn programs_use_every_number_type_and_bool_only_through_conditions() {
        assert_eq!(super::TYPES.len(), 11);
        assert!(super::TYPES.iter().all(|t| t.is_numeric()));
    }

    #[test]
    fn locations_are_dropped_from_errors_only() {
        assert_eq!(
            super::without_location("error: integer division by zero at gen.pj:5:17"),
            "error: integer division by zero"
        );
        assert_eq!(
            super::without_location("error: read of `t` out of bounds at gen.pj:4:41: index 3"),
            "error: read of `t` out of bounds: index 3"
        );
    }
}
