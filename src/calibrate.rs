//! `pj calibrate`: the value ranges of a kernel's inputs in sample data,
//! and of its results when the reference interpreter runs on them — what
//! `@range` declares for quantization, measured rather than guessed. With
//! `--write`, each numeric parameter's observed range becomes its
//! `@range(lo, hi)` in the source file (replacing one already there).

use crate::commands::load;
use crate::kernel_args::{choose_kernel, load_args};
use anyhow::{Result, bail};
use pj_compiler::dialects::arith::Scalar;
use pj_compiler::dialects::pj::{param_range, result_tolerance};
use pj_compiler::dialects::{KernelSignature, signature};
use pj_compiler::interp::{self, Value};
use pj_compiler::ir::{ScalarType, Type};
use std::path::Path;

/// What a set of values spans.
#[derive(Clone, Copy, Debug)]
struct Observed {
    /// Smallest and largest finite value (`None`: no finite value).
    range: Option<(f64, f64)>,
    /// How many are NaN, and infinite.
    nans: usize,
    infinities: usize,
    count: usize,
}

impl Observed {
    fn of(values: impl Iterator<Item = Scalar>) -> Observed {
        let mut o = Observed {
            range: None,
            nans: 0,
            infinities: 0,
            count: 0,
        };
        for v in values {
            o.count += 1;
            let x = v.as_f64();
            if x.is_nan() {
                o.nans += 1;
            } else if x.is_infinite() {
                o.infinities += 1;
            } else {
                o.range = Some(match o.range {
                    None => (x, x),
                    Some((lo, hi)) => (lo.min(x), hi.max(x)),
                });
            }
        }
        o
    }

    fn describe(&self, elem: ScalarType) -> String {
        let mut s = match self.range {
            Some((lo, hi)) => format!("[{}, {}]", literal(lo, elem), literal(hi, elem)),
            None if self.count == 0 => "(no values)".into(),
            None => "(no finite values)".into(),
        };
        if self.nans > 0 {
            s += &format!(", {} NaN", self.nans);
        }
        if self.infinities > 0 {
            s += &format!(", {} infinite", self.infinities);
        }
        s
    }
}

/// `v` as a `.pj` literal of `elem`: the shortest text giving the value
/// back in `elem`, with a point for floats.
fn literal(v: f64, elem: ScalarType) -> String {
    let s = match elem {
        // a 16-bit float's values are f32s: the shortest f32 text gives it
        ScalarType::F32 | ScalarType::F16 | ScalarType::Bf16 => format!("{}", v as f32),
        ScalarType::F64 => format!("{v}"),
        _ => return format!("{}", v as i64),
    };
    if s.contains(['.', 'e', 'E']) || !v.is_finite() {
        s
    } else {
        s + ".0"
    }
}

/// `pj calibrate FILE [--kernel K] --arg NAME=... [--write]`.
pub fn calibrate(path: &Path, kernel: Option<&str>, args: &[String], write: bool) -> Result<()> {
    if write && path.extension().is_none_or(|e| e != "pj") {
        bail!(
            "--write edits a .pj source's `@range` annotations; `{}` is not one",
            path.display()
        );
    }
    let m = load(path)?;
    let name = choose_kernel(&m, path, kernel)?;
    let kop = m.kernel(&name).expect("a kernel the module has");
    let KernelSignature {
        params, results, ..
    } = signature(&m, kop);
    let (values, _) = load_args(&name, &params, args, false)?;
    println!("`{name}` on the given data (the reference interpreter):");
    let mut ranges: Vec<(String, ScalarType, (f64, f64))> = Vec::new();
    for (i, ((p, ty), v)) in params.iter().zip(&values).enumerate() {
        let elem = ty.elem();
        let observed = match v {
            Value::Array(t) => Observed::of(t.data.iter().copied()),
            Value::Scalar(s) => Observed::of(std::iter::once(*s)),
        };
        let declared = param_range(&m, kop, i);
        let declared_text = declared.map_or("no @range".into(), |(lo, hi)| {
            format!(
                "declared @range({}, {})",
                literal(lo, elem),
                literal(hi, elem)
            )
        });
        println!(
            "  {p:<12} {:<18} observed {:<34} {declared_text}",
            ty.to_string(),
            observed.describe(elem)
        );
        if let (Some((lo, hi)), Value::Array(t)) = (declared, v) {
            // the bounds in the parameter's own type, as a literal would be
            let (lo, hi) = match elem {
                ScalarType::F32 => (f64::from(lo as f32), f64::from(hi as f32)),
                t if t.is_half() => (
                    Scalar::F64(lo).cast(t).as_f64(),
                    Scalar::F64(hi).cast(t).as_f64(),
                ),
                _ => (lo, hi),
            };
            let outside = t
                .data
                .iter()
                .filter(|s| {
                    let x = s.as_f64();
                    !(lo..=hi).contains(&x)
                })
                .count();
            if outside > 0 {
                eprintln!(
                    "warning: {outside} of `{p}`'s {} values lie outside its declared @range: quantization would trust a promise this data breaks",
                    t.data.len()
                );
            }
        }
        if elem != ScalarType::Bool
            && let Some(r) = observed.range
        {
            ranges.push((p.clone(), elem, r));
        }
    }
    let out = interp::run(&m, &name, &values)?;
    let proven = proven_ranges(&m, kop, &values);
    for (i, (r, t)) in results.iter().zip(&out).enumerate() {
        let observed = Observed::of(t.data.iter().copied());
        let tolerance = result_tolerance(&m, kop, i).map_or(String::new(), |t| {
            format!("@tolerance(abs = {}, rel = {})", t.abs, t.rel)
        });
        let ty = Type::Tensor {
            elem: t.elem,
            dims: t
                .shape
                .iter()
                .map(|&n| pj_compiler::ir::Dim::Static(n as i64))
                .collect(),
        };
        let p = &proven[i];
        let proven_text = if p.lo <= p.hi {
            format!(
                "proven [{}, {}]{}",
                literal(p.lo, t.elem),
                literal(p.hi, t.elem),
                if p.nan { " or NaN" } else { "" }
            )
        } else {
            "proven NaN".into()
        };
        println!(
            "  {r:<12} {:<18} observed {:<34} {proven_text}  {tolerance}",
            format!("-> {ty}"),
            observed.describe(t.elem)
        );
    }
    if write {
        write_ranges(path, &name, &ranges)?;
    }
    Ok(())
}

/// Sets `@range(lo, hi)` on each named parameter of kernel `kernel` in the
/// source at `path`, replacing one already there; the file is replaced
/// whole or not at all.
fn write_ranges(
    path: &Path,
    kernel: &str,
    ranges: &[(String, ScalarType, (f64, f64))],
) -> Result<()> {
    let src = std::fs::read_to_string(path)?;
    let (file, diags) = pj_lang::parse::parse_file(&src);
    if !diags.is_empty() {
        bail!("`{}` no longer parses; not edited", path.display());
    }
    let Some(k) = file.kernels.iter().find(|k| k.name.name == kernel) else {
        bail!(
            "`{}` no longer defines `{kernel}`; not edited",
            path.display()
        );
    };
    // (start, end, text), applied from the back so offsets stay valid
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for (name, elem, (lo, hi)) in ranges {
        let Some(p) = k.params.iter().find(|p| &p.name.name == name) else {
            continue;
        };
        let text = format!("@range({}, {})", literal(*lo, *elem), literal(*hi, *elem));
        match p.annotations.iter().find(|a| a.name.name == "range") {
            Some(a) => edits.push((a.span.start, a.span.end, text)),
            None => edits.push((p.span.end, p.span.end, format!(" {text}"))),
        }
    }
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = src.clone();
    for (start, end, text) in &edits {
        out.replace_range(start..end, text);
    }
    picojoule::write_atomic(&[(path, out.as_bytes())])?;
    eprintln!(
        "wrote {} @range annotation{} to {}",
        edits.len(),
        if edits.len() == 1 { "" } else { "s" },
        path.display()
    );
    Ok(())
}

/// Each result's range as the interval analysis proves it
/// (`quant::ranges`), from each parameter's declared `@range`, else its
/// observed one, and the sizes the arguments bind.
fn proven_ranges(
    m: &pj_compiler::Module,
    kop: pj_compiler::ir::OpId,
    values: &[Value],
) -> Vec<pj_compiler::quant::ranges::Interval> {
    use pj_compiler::quant::ranges::{Inputs, Sample, analyze};
    let sample = Sample::of(m, kop, values);
    let ranges: Vec<Option<(f64, f64)>> = sample
        .observed
        .iter()
        .enumerate()
        .map(|(i, seen)| param_range(m, kop, i).or(*seen))
        .collect();
    // equal expressions as one value: a square is then seen as one
    let mut m = m.clone();
    let name = pj_compiler::dialects::signature(&m, kop).name;
    let _ = pj_compiler::passes::PassManager::default_pipeline().run(&mut m);
    let kop = m.kernel(&name).expect("the pipeline keeps kernels");
    analyze(
        &m,
        kop,
        &Inputs {
            params: &ranges,
            sizes: &sample.sizes,
            limits: pj_compiler::quant::ranges::no_sizes(),
        },
    )
    .1
}
