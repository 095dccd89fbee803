//! Quantization: a stage that sums products of two float arrays with
//! known ranges (`c[i, j] = sum(k) a[i, k] * b[k, j]`, a convolution's
//! `img[..] * filt[r, s]`) becomes 8-bit fixed point — each array
//! quantized once into a stage of its own (`quant.quantize`, ONNX's
//! `QuantizeLinear` with zero point 0: `a` to `u8` when it is never
//! negative, else to `i8`, symmetric; `b` to `i8`), the products summed
//! exactly in `i32` (what `vector.dot4` computes four at a time on VNNI
//! and NEON; `lower-stages` offsets `i8` rows by 128 for VNNI), and the
//! sum converted back with one `quant.dequantize` by `s_a · s_b`, a
//! product exact in `f32` because each scale has 12 significant bits
//! (`quant::plan::coarse_up`).
//!
//! When legal: only where it is proven harmless. The error analysis
//! (`quant::error`) bounds every result's distance from the exact result
//! of the original program; the stage is quantized only if each bound is
//! within the result's tolerance (`@tolerance`, or the request's). A
//! bound that grows with a size (a sum's error grows with its length)
//! holds up to the largest size that keeps it within tolerance: the
//! kernel then checks that limit at each call, as a `where` constraint
//! would, and fails with a message naming it beyond. Inputs are trusted
//! to lie in their declared `@range` (a promise, as in the language).
//! Otherwise the stage stays float, and a note says why and by how much.
//!
//! Where one int8 product reads another's result, the quantized copy is
//! computed from the first's integer sum by `quant.requantize` (an
//! integer multiply and shift) instead of through `f32`.
//!
//! `auto` goes further: among what is legal it keeps, stage by stage, a
//! scheme only where the energy model (`quant::price`, the kernel lowered
//! for the backend and target it is compiled for) estimates less energy
//! in no more time than without it — a convolution's 8-bit products
//! widened one by one cost more than its `f32` ones, a matrix product's
//! on a dot-product instruction less.
//!
//! Runs first, on the checked `pj` level, before fusion; `lower-quant`
//! then expands the `quant` ops. Cost: one range and error analysis of the
//! kernel per candidate stage and per step of the size-limit search (about
//! fifty); with `auto`, a lowering and an estimate of the kernel per
//! legal choice (a few milliseconds each).

use super::{Pass, PassError};
use crate::dialects::func::status;
use crate::dialects::pj::{Tolerance, param_range, result_tolerance};
use crate::dialects::quant::Params;
use crate::dialects::{ArithOp, FuncOp, Opcode, PjOp, QuantOp};
use crate::ir::{Attr, BlockId, Module, OpId, OpSpec, ScalarType, Type, ValueId};
use crate::quant::plan::{Mode, Note, Request, params_for, stage_mode};
use crate::quant::price::{Pricer, Pricing};
use crate::quant::ranges::{Inputs, Interval};
use std::collections::HashMap;

/// The `quantize` pass.
pub struct Quantize {
    /// What is asked.
    pub request: Request,
    /// The 8-bit dot products the backend makes one instruction of on the
    /// target (`PassManager::dot_products`): where the products are a
    /// matrix product's, `lower-stages` computes them with these.
    pub dot_products: crate::target::DotProducts,
    /// The width of the vectors code is generated with
    /// (`PassManager::vector_bits`): `auto` stores bf16 only with vectors of
    /// 256 bits or more, where packing costs less than the traffic saves.
    pub vector_bits: u32,
    /// Prices a kernel on the target it is compiled for (the driver's):
    /// `auto` keeps a scheme only where it is estimated to cost less
    /// energy in no more time. Without one (a bare pass), `auto` follows
    /// a rule measured once: int8 only on dot-product instructions.
    /// 16-bit storage with vectors under 256 bits is refused either way
    /// (the model misprices it: see `half_storage`).
    pub pricer: Option<Pricer>,
    /// What was decided, stage by stage.
    pub notes: Vec<Note>,
}

impl Quantize {
    /// A pass for `request`, for a target without dot products.
    pub fn new(request: Request) -> Quantize {
        Quantize {
            request,
            dot_products: crate::target::DotProducts::NONE,
            vector_bits: 128,
            pricer: None,
            notes: Vec::new(),
        }
    }
}

impl Pass for Quantize {
    fn name(&self) -> &'static str {
        "quantize"
    }

    fn run(&mut self, m: &mut Module) -> Result<bool, PassError> {
        let mut changed = false;
        for k in crate::dialects::pj::pj_kernels(m) {
            changed |= quantize_kernel(
                m,
                k,
                &self.request,
                self.dot_products,
                self.vector_bits,
                self.pricer.as_ref(),
                &mut self.notes,
            );
        }
        // the stages' requests are answered: a later pipeline (the
        // driver's, after the REPL's or the interpreter's own) adds none
        for op in m.all_ops() {
            if m.op(op).attr(crate::quant::plan::STAGE_REQUEST).is_some() {
                m.op_mut(op).remove_attr(crate::quant::plan::STAGE_REQUEST);
                changed = true;
            }
        }
        Ok(changed)
    }

    fn notes(&self) -> Vec<String> {
        self.notes.iter().map(ToString::to_string).collect()
    }
}

/// A stage that sums products of two float reads (its value that sum, or
/// float work on it: `max(sum(k) a[i, k] * b[k, j], 0.0)`).
#[derive(Clone, Copy)]
struct Contraction {
    stage: OpId,
    reduce: OpId,
    mul: OpId,
    /// The read quantized to `u8` (with a zero point): the row operand.
    row: OpId,
    /// The read quantized to `i8`.
    col: OpId,
    /// Shaped as a matrix product's (`x[.., k] * y[k, j]`, one reduction
    /// variable, no boundary modes): what `vector.dot4` computes.
    matrix_product: bool,
}

fn quantize_kernel(
    m: &mut Module,
    k: OpId,
    request: &Request,
    dot: crate::target::DotProducts,
    vector_bits: u32,
    pricer: Option<&Pricer>,
    notes: &mut Vec<Note>,
) -> bool {
    let kname = crate::dialects::signature(m, k).name;
    let mut pricing = pricer.map(|p| Pricing::new(p, &kname));
    let body = m.entry_block(k, 0);
    let params: Vec<Option<(f64, f64)>> = (0..m.block(body).args.len())
        .map(|i| param_range(m, k, i))
        .collect();
    let mut limits = declared_limits(m, k);
    let tolerances = tolerances(m, k, request);
    let mut changed = false;
    let candidates = offered(m, k, request, Mode::Int8);
    let mut any = false;
    // the stages the int8 scheme has said something about
    let mut noted = std::collections::HashSet::new();
    for s in candidates {
        let mode = stage_mode(m, s, request.mode);
        let name = crate::passes::schedule::stage_name(m, s);
        let (ranges, _) = analyze_ranges(m, k, &params, &limits);
        let Some(c) = contraction(m, s, &ranges) else {
            continue;
        };
        any = true;
        noted.insert(s);
        let note = |chosen: &str, detail: String| Note {
            kernel: kname.clone(),
            stage: name.clone(),
            chosen: chosen.to_string(),
            detail,
        };
        // u8 rows times i8 columns, one instruction per four products
        // one instruction per four products; `i8` rows on `u8 x i8`
        // instructions go offset by 128 (`lower-stages`)
        let (row_type, _) = row_type(c, m, &ranges, dot);
        let signed = row_type == ScalarType::I8;
        let on_dot = c.matrix_product
            && (dot.covers(signed, true)
                || (signed && dot.covers(false, true))
                || dot.seven_bit_rows());
        // without a model's estimate, auto follows what was measured
        let rule = note(
            "float",
            format!(
                "auto keeps it in f32: {} (8-bit products widened to i32 one by one measured slower than f32 here: 3.2x with Cranelift, 1.25x with LLVM on a 5x5 convolution); --quantize=int8 quantizes it anyway",
                if c.matrix_product {
                    "the target has no u8 x i8 dot-product instruction"
                } else {
                    "its products are not a matrix product's, which dot-product instructions take"
                }
            ),
        );
        if mode == Mode::Auto && !on_dot && pricing.is_none() {
            notes.push(rule);
            continue;
        }
        let mut trial = m.clone();
        // per-channel scales for the column, except where one scale lets
        // the next product requantize this one's sum
        let scaling = if feeds_a_product(m, k, s, &ranges) {
            ColumnScale::PerTensor
        } else {
            ColumnScale::PerChannel
        };
        let (pa, pb, per_channel) = rewrite(&mut trial, k, c, &ranges, dot, scaling);
        let col_name = trial
            .value(trial.op(c.col).operands[0])
            .name
            .clone()
            .unwrap_or_else(|| "the column operand".into());
        if let Err(e) = crate::ir::verify::verify(&trial) {
            notes.push(note(
                "float",
                format!("not quantized: a compiler bug made invalid IR ({e})"),
            ));
            continue;
        }
        let t = Trial {
            module: &trial,
            stage: c.stage,
            scheme: "int8",
        };
        match fit(m, t, k, &params, &limits, &tolerances) {
            Ok(found) => {
                let priced = match pricing.as_mut() {
                    Some(p) if mode == Mode::Auto => p.compare(m, &trial, "int8"),
                    _ => None,
                };
                if mode == Mode::Auto && !on_dot && priced.is_none() {
                    notes.push(rule);
                    continue;
                }
                if let Some(v) = &priced
                    && !v.cheaper
                {
                    notes.push(note(
                        "float",
                        format!(
                            "auto keeps it in f32: {}; --quantize=int8 quantizes it anyway",
                            v.text
                        ),
                    ));
                    continue;
                }
                let float_bounds = bounds(m, k, &params, &found);
                let quant_bounds = bounds(&trial, k, &params, &found);
                let limited = add_limit_checks(&mut trial, k, &limits, &found, &name, "int8");
                *m = trial;
                limits = found;
                changed = true;
                if let Some(p) = pricing.as_mut() {
                    p.changed();
                }
                let priced = priced.map(|v| format!("; {}", v.text)).unwrap_or_default();
                let slow = if on_dot || !priced.is_empty() {
                    ""
                } else {
                    "; no dot-product instruction computes these products: expect it slower than f32"
                };
                notes.push(note(
                    "int8",
                    format!(
                        "{} × i8 summed exactly in i32 (scales {}{} and {}); {}{}{}{slow}",
                        row_type.name(),
                        short(pa.scale),
                        if pa.zero_point != 0 {
                            format!(" with zero point {}", pa.zero_point)
                        } else {
                            String::new()
                        },
                        if per_channel {
                            format!(
                                "one per channel of `{col_name}`, its largest magnitude over 127 computed at run time, at most {}",
                                short(pb.scale)
                            )
                        } else {
                            short(pb.scale)
                        },
                        describe(&quant_bounds, &float_bounds, &tolerances, m, k),
                        limited,
                        priced
                    ),
                ));
            }
            Err(why) => notes.push(note("float", why)),
        }
    }
    if any {
        changed |= requantize_chains(m, k, &params, &limits, &tolerances, notes);
    }
    let kernel_note = |what: &str| Note {
        kernel: kname.clone(),
        stage: "-".into(),
        chosen: "float".into(),
        detail: format!("--quantize={}: {what}", request.mode.name()),
    };
    let cx = Kernel {
        k,
        params: &params,
        tolerances: &tolerances,
        request,
        vector_bits,
    };
    // each scheme takes the stages asked for it (or auto)
    let exact = exact_integers(m, &cx, &limits, &noted, pricing.as_mut(), notes);
    changed |= exact.changed;
    if exact.changed
        && let Some(p) = pricing.as_mut()
    {
        p.changed();
    }
    let half = half_storage(m, &cx, &mut limits, pricing.as_mut(), notes);
    changed |= half.changed;
    let stored = half.any;
    let none = match request.mode {
        Mode::Int8 if !any => {
            "no stage sums products of float arrays whose ranges are known (declare @range on the inputs)"
        }
        Mode::Int16 if !exact.any => "no stage computes in float from integers",
        Mode::Bf16 | Mode::F16 if !stored => {
            "no f32 stage is stored to memory (each is fused into its readers or is a result)"
        }
        Mode::Auto if !any && !exact.any && !stored => {
            "no stage sums products of float arrays whose ranges are known (declare @range on the inputs), computes in float from integers, or is an f32 stage stored to memory"
        }
        _ => "",
    };
    if !none.is_empty() {
        notes.push(kernel_note(none));
    }
    changed
}

/// `(read, quantize)` of a stage the pass made holding an array
/// quantized, `q[..] = quant.quantize(h[..])`, read at its own indices.
fn quantized_copy(m: &Module, s: OpId) -> Option<(OpId, OpId)> {
    let d = m.op(s);
    if d.opcode != Opcode::Pj(PjOp::Stage) || d.attr(crate::passes::schedule::QUANTIZED).is_none() {
        return None;
    }
    plain_map(m, s, Opcode::Quant(QuantOp::Quantize))
}

/// `(read, op)` of a stage whose body is `op(read(x, its own indices))`.
fn plain_map(m: &Module, s: OpId, opcode: Opcode) -> Option<(OpId, OpId)> {
    let block = m.entry_block(s, 0);
    let ops = &m.block(block).ops;
    let [read, op, _] = ops[..] else {
        return None;
    };
    let (r, o) = (m.op(read), m.op(op));
    (r.opcode == Opcode::Pj(PjOp::Read)
        && r.attr("boundary").is_none()
        && r.operands[1..] == m.block(block).args[..]
        && o.opcode == opcode
        && o.operands == [m.result(read)]
        && m.op(*ops.last()?).operands == [m.result(op)])
    .then_some((read, op))
}

/// `max` or `min` with a constant, on a dequantized sum.
type Clamp = (ArithOp, f64);

/// A stage `h[..] = clamps(dequantize(acc[..]))`, read at its own indices,
/// where `clamps` are `max`/`min` with constants (a ReLU, a ReLU6): the
/// read of the sum, the `dequantize` and the clamps (innermost first).
fn dequantized_sum(m: &Module, s: OpId) -> Option<(OpId, OpId, Vec<Clamp>)> {
    let block = m.entry_block(s, 0);
    let last = *m.block(block).ops.last()?;
    let mut v = *m.op(last).operands.first()?;
    let constant = |v: ValueId| {
        m.def_op(v)
            .filter(|&o| m.op(o).opcode == Opcode::Arith(ArithOp::Constant))
            .and_then(|o| match m.op(o).attr("value") {
                Some(Attr::Float(c)) => Some(*c),
                _ => None,
            })
    };
    let mut clamps = Vec::new();
    let mut used = vec![last];
    loop {
        let op = m.def_op(v)?;
        let d = m.op(op);
        match d.opcode {
            Opcode::Arith(a @ (ArithOp::Max | ArithOp::Min)) => {
                let (x, c) = match (constant(d.operands[0]), constant(d.operands[1])) {
                    (_, Some(c)) => (d.operands[0], c),
                    (Some(c), None) => (d.operands[1], c),
                    (None, None) => return None,
                };
                clamps.push((a, c));
                used.push(op);
                v = x;
            }
            Opcode::Quant(QuantOp::Dequantize) if d.operands.len() == 1 => {
                let read = m.def_op(d.operands[0])?;
                let r = m.op(read);
                let plain = r.opcode == Opcode::Pj(PjOp::Read)
                    && r.attr("boundary").is_none()
                    && r.operands[1..] == m.block(block).args[..];
                // nothing else computed in the stage (constants aside)
                used.extend([op, read]);
                let only = m.block(block).ops.iter().all(|&o| {
                    used.contains(&o) || m.op(o).opcode == Opcode::Arith(ArithOp::Constant)
                });
                clamps.reverse();
                return (plain && only).then_some((read, op, clamps));
            }
            _ => return None,
        }
    }
}

/// Requantization between int8 stages: a quantized copy of `h` where `h`
/// is itself an integer sum dequantized (`h[..] = dequantize(h_acc[..])`,
/// an int8 stage's result, read by a second int8 product) computes from
/// the sum directly — `quant.requantize`, an integer multiply and shift,
/// no float in between (TVM QNN's `requantize`) — where the bound still
/// meets every tolerance. `h` stays while anything else reads it. Clamps
/// between (`h = max(dequantize(..), 0.0)`, a ReLU) become the same clamps
/// on the integers, by the quantized constant: `quantize` is monotone, so
/// `quantize(max(v, c)) = max(quantize(v), quantize(c))`.
fn requantize_chains(
    m: &mut Module,
    k: OpId,
    params: &[Option<(f64, f64)>],
    limits: &HashMap<String, i64>,
    tolerances: &[Option<Tolerance>],
    notes: &mut Vec<Note>,
) -> bool {
    let kname = crate::dialects::signature(m, k).name;
    let mut changed = false;
    let body = m.entry_block(k, 0);
    for s in m.block(body).ops.clone() {
        let Some((read, quantize)) = quantized_copy(m, s) else {
            continue;
        };
        let h = m.op(read).operands[0];
        let Some(hs) = m.def_op(h) else {
            continue;
        };
        if m.op(hs).opcode != Opcode::Pj(PjOp::Stage) || m.op(hs).operands != m.op(s).operands {
            continue;
        }
        let Some((acc_read, dequantize, clamps)) = dequantized_sum(m, hs) else {
            continue;
        };
        let acc = m.op(acc_read).operands[0];
        let acc_elem = m.ty(acc).elem();
        let (p_in, p_out) = (Params::of(m, dequantize), Params::of(m, quantize));
        if !acc_elem.is_int() || acc_elem.size_bytes() > 4 || p_in.zero_point != 0 {
            continue;
        }
        let Some(rp) = Params::requantize(p_in.scale / p_out.scale, p_out.zero_point) else {
            continue;
        };
        let mut trial = m.clone();
        trial.op_mut(read).operands[0] = acc;
        trial.set_ty(trial.result(read), Type::Scalar(acc_elem));
        let q = trial.op_mut(quantize);
        q.opcode = Opcode::Quant(QuantOp::Requantize);
        q.attrs.clear();
        for (key, v) in rp.requantize_attrs() {
            trial.op_mut(quantize).set_attr(key, v);
        }
        // the clamps, on the integers: in 16 bits, where the requantized
        // value below the clamp (a ReLU's negatives) need not saturate,
        // then saturated to the type and narrowed
        let qt = trial.ty(trial.result(quantize)).clone();
        let wide = Type::Scalar(ScalarType::I16);
        if !clamps.is_empty() {
            let r = trial.result(quantize);
            trial.set_ty(r, wide.clone());
        }
        let mut value = trial.result(quantize);
        let yield_op = *trial
            .block(trial.entry_block(s, 0))
            .ops
            .last()
            .expect("a yield ends a region");
        let (qlo, qhi) = qt.elem().int_range().expect("a quantized type");
        let saturation = if clamps.is_empty() {
            vec![]
        } else {
            vec![(ArithOp::Max, qlo), (ArithOp::Min, qhi)]
        };
        let quantized_clamps = clamps.iter().map(|&(a, c)| {
            let qc = crate::dialects::quant::eval(
                QuantOp::Quantize,
                p_out,
                crate::dialects::arith::Scalar::F32(c as f32),
                qt.elem(),
            );
            (a, qc.as_i64().expect("an integer"))
        });
        let quantized_clamps: Vec<(ArithOp, i64)> = quantized_clamps.collect();
        let described: String = clamps
            .iter()
            .zip(&quantized_clamps)
            .map(|((a, c), (_, qc))| {
                let f = if *a == ArithOp::Max { "max" } else { "min" };
                format!(", then {f}(·, {c}) on the integers ({c} is {qc} there)")
            })
            .collect();
        let all: Vec<(ArithOp, i64)> = quantized_clamps.into_iter().chain(saturation).collect();
        for &(a, qc) in &all {
            let konst = trial.build_op(
                OpSpec::new(Opcode::Arith(ArithOp::Constant))
                    .attr("value", Attr::Int(qc))
                    .result(wide.clone()),
            );
            let k = trial.result(konst);
            let clamp = trial.build_op(
                OpSpec::new(Opcode::Arith(a))
                    .operands([value, k])
                    .result(wide.clone()),
            );
            trial.insert_all_before(yield_op, &[konst, clamp]);
            value = trial.result(clamp);
        }
        if !clamps.is_empty() {
            let narrow = trial.build_op(
                OpSpec::new(Opcode::Arith(ArithOp::Cast))
                    .operands([value])
                    .result(qt.clone()),
            );
            trial.insert_all_before(yield_op, &[narrow]);
            value = trial.result(narrow);
        }
        trial.op_mut(yield_op).operands = vec![value];
        if crate::ir::verify::verify(&trial).is_err() {
            continue;
        }
        let changed_results = reading(m, k, s);

        let (before, after) = (
            bounds(m, k, params, limits),
            bounds(&trial, k, params, limits),
        );
        if misses(&after, &before, tolerances, Some(&changed_results)).is_some() {
            continue;
        }
        *m = trial;
        changed = true;
        let name = crate::passes::schedule::stage_name(m, s);
        let from = m
            .value(acc)
            .name
            .clone()
            .unwrap_or_else(|| "the sum".into());
        notes.push(Note {
            kernel: kname.clone(),
            stage: name,
            chosen: "int8".into(),
            detail: format!(
                "requantized from `{from}` in integers: × {} >> {} (= {}){described}, no float in between",
                rp.multiplier,
                rp.shift,
                short(rp.scale),
            ),
        });
    }
    changed
}

/// The stages of kernel `k` offered to `scheme`: those asking for it in
/// the schedule block, or for `auto`, or asking nothing when the request
/// is for it (or `auto`); never a stage the pass made.
fn offered(m: &Module, k: OpId, request: &Request, scheme: Mode) -> Vec<OpId> {
    let body = m.entry_block(k, 0);
    m.block(body)
        .ops
        .iter()
        .copied()
        .filter(|&s| {
            let d = m.op(s);
            let mode = stage_mode(m, s, request.mode);
            d.opcode == Opcode::Pj(PjOp::Stage)
                && d.attr(crate::passes::schedule::QUANTIZED).is_none()
                && (mode == scheme || mode == Mode::Auto)
        })
        .collect()
}

/// What the int16 and bf16 schemes read of the kernel they work on.
#[derive(Clone, Copy)]
struct Kernel<'a> {
    k: OpId,
    /// Each parameter's declared range.
    params: &'a [Option<(f64, f64)>],
    /// Each result's tolerance.
    tolerances: &'a [Option<Tolerance>],
    request: &'a Request,
    /// [`Quantize::vector_bits`].
    vector_bits: u32,
}

/// What [`exact_integers`] did: whether it changed the kernel, and
/// whether any stage was a candidate.
#[derive(Default)]
struct Exact {
    changed: bool,
    any: bool,
}

/// The `int16` scheme (`quant::exact`) on every stage of kernel `k` that
/// computes in float: a float stage converts only if every stage reading
/// it does (else it stays float and the others are tried again), and the
/// kernel's results keep their float types.
fn exact_integers(
    m: &mut Module,
    cx: &Kernel<'_>,
    limits: &HashMap<String, i64>,
    noted: &std::collections::HashSet<OpId>,
    mut pricing: Option<&mut Pricing<'_>>,
    notes: &mut Vec<Note>,
) -> Exact {
    let Kernel {
        k,
        params,
        tolerances,
        request,
        ..
    } = *cx;
    use crate::quant::exact::{Converted, NotExact, computes_in_float, convert_stage};
    let kname = crate::dialects::signature(m, k).name;
    let candidates: Vec<OpId> = offered(m, k, request, Mode::Int16)
        .into_iter()
        .filter(|&s| computes_in_float(m, s))
        .collect();
    if candidates.is_empty() {
        return Exact::default();
    }
    let (ranges, _) = analyze_ranges(m, k, params, limits);
    let mut kept: std::collections::HashSet<OpId> = std::collections::HashSet::new();
    'attempt: loop {
        let mut trial = m.clone();
        let mut stored = HashMap::new();
        let mut outcome: Vec<(OpId, Result<Converted, NotExact>)> = Vec::new();
        for &s in &candidates {
            let float_stage = trial.ty(trial.result(s)).elem().is_float();
            let why = if float_stage && trial.op(s).attr("result").is_some() {
                Some(NotExact {
                    why: "it is a float result, which stays float: int16 applies to float arithmetic ending in integers, int8 to sums of products of arrays with declared @range".to_string(),
                    from_floats: true,
                })
            } else if kept.contains(&s) {
                Some(NotExact::from(
                    "a stage reading it stays in float".to_string(),
                ))
            } else {
                None
            };
            let result = match why {
                Some(w) => Err(w),
                None => {
                    let mut attempt = trial.clone();
                    let r =
                        convert_stage(&mut attempt, s, &ranges, &stored).map_err(|e| NotExact {
                            why: format!("not exact in integers: {}", e.why),
                            ..e
                        });
                    if let Ok(c) = &r {
                        trial = attempt;
                        if let Some(st) = c.stored {
                            stored.insert(trial.result(s), st);
                        }
                    }
                    r
                }
            };
            outcome.push((s, result));
        }
        // a converted float stage read by one that is not must stay float
        let converted: std::collections::HashSet<OpId> = outcome
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(s, _)| *s)
            .collect();
        for (s, r) in &outcome {
            if r.as_ref().is_ok_and(|c| c.stored.is_some())
                && users(&trial, k, trial.result(*s))
                    .iter()
                    .any(|u| !converted.contains(u))
            {
                kept.insert(*s);
                continue 'attempt;
            }
        }
        // the float constants the integers replaced
        super::Pass::run(&mut super::dce::Dce, &mut trial).expect("dce does not fail");
        let (float_bounds, exact_bounds) = (
            bounds(m, k, params, limits),
            bounds(&trial, k, params, limits),
        );
        let verified = crate::ir::verify::verify(&trial);
        let mut changed = false;
        let mut refused = match (
            &verified,
            misses(&exact_bounds, &float_bounds, tolerances, None),
        ) {
            (Err(e), _) => Some(format!(
                "not converted: a compiler bug made invalid IR ({e})"
            )),
            (_, Some((i, e))) => Some(format!(
                "not converted: result {i}'s bound {} misses its tolerance",
                short(e)
            )),
            _ => None,
        };
        // auto converts only what the energy model prices lower; a stage
        // asked for int16 by name is converted regardless
        let all_auto = converted
            .iter()
            .all(|&s| stage_mode(m, s, request.mode) == Mode::Auto);
        let mut priced = None;
        if refused.is_none()
            && !converted.is_empty()
            && all_auto
            && let Some(p) = pricing.as_mut()
            && let Some(v) = p.compare(m, &trial, "int16")
        {
            if v.cheaper {
                priced = Some(v.text);
            } else {
                refused = Some(format!(
                    "auto keeps it in float: {}; --quantize=int16 converts it anyway",
                    v.text
                ));
            }
        }
        if refused.is_none() && !converted.is_empty() {
            *m = trial;
            changed = true;
        }
        // a candidate the scheme applies to (not one computing from floats)
        let any = outcome
            .iter()
            .any(|(_, r)| r.as_ref().is_ok() || r.as_ref().is_err_and(|e| !e.from_floats));
        for (s, r) in outcome {
            // int8 said what it does with the stage; auto is quiet about
            // stages computing from floats, which int16 does not apply to
            if r.as_ref().is_err_and(|e| {
                let auto = stage_mode(m, s, request.mode) == Mode::Auto;
                noted.contains(&s) || (auto && e.from_floats)
            }) {
                continue;
            }
            let stage = crate::passes::schedule::stage_name(m, s);
            let (chosen, detail) = match (r, &refused) {
                (Ok(_), Some(why)) => ("float".to_string(), why.clone()),
                (Ok(c), None) => (
                    if c.bits <= 16 { "int16" } else { "int32" }.to_string(),
                    match &priced {
                        Some(p) => format!("{}; {p}", exact_note(&c)),
                        None => exact_note(&c),
                    },
                ),
                (Err(e), _) => ("float".to_string(), e.why),
            };
            notes.push(Note {
                kernel: kname.clone(),
                stage,
                chosen,
                detail,
            });
        }
        return Exact { changed, any };
    }
}

/// The 16-bit storage schemes (`quant::storage`, `bf16` and `f16`) on
/// every `f32` stage of kernel `k` that the schedule stores to memory, one
/// at a time, each kept only if every result's bound still meets its
/// tolerance (and the size limits that make it so). `auto` tries `f16`
/// first (three more bits, and one instruction each way where the backend
/// has F16C), then `bf16` (any range).
fn half_storage(
    m: &mut Module,
    cx: &Kernel<'_>,
    limits: &mut HashMap<String, i64>,
    mut pricing: Option<&mut Pricing<'_>>,
    notes: &mut Vec<Note>,
) -> Exact {
    let Kernel {
        k,
        params,
        tolerances,
        request,
        vector_bits,
    } = *cx;
    use crate::quant::storage::{Format, store_as, stored_whole};
    let kname = crate::dialects::signature(m, k).name;
    let whole = stored_whole(m, k);
    let mut stages: Vec<OpId> = offered(m, k, request, Mode::Bf16);
    for s in offered(m, k, request, Mode::F16) {
        if !stages.contains(&s) {
            stages.push(s);
        }
    }
    stages.retain(|&s| {
        m.op(s).attr("result").is_none() && m.ty(m.result(s)).elem() == ScalarType::F32
    });
    if stages.is_empty() {
        return Exact::default();
    }
    let mut out = Exact::default();
    for s in stages {
        let name = crate::passes::schedule::stage_name(m, s);
        let note = |chosen: &str, detail: String| Note {
            kernel: kname.clone(),
            stage: name.clone(),
            chosen: chosen.to_string(),
            detail,
        };
        let mode = stage_mode(m, s, request.mode);
        if !whole.contains(&name) {
            // fused: it never travels to memory, so nothing to halve
            if matches!(mode, Mode::Bf16 | Mode::F16) {
                notes.push(note(
                    "float",
                    format!(
                        "fused into its readers (never stored whole): {} would save nothing",
                        mode.name()
                    ),
                ));
            }
            continue;
        }
        out.any = true;
        // A rule over the model: with 128-bit vectors the energy model
        // prices the packing at its instruction count and the halved
        // traffic as saved, but on a stage stored to DRAM the two do not
        // overlap as it assumes (`bench/unfused.pj` at N = 8192 with
        // Cranelift: estimated 1.5x faster in f16, measured 1.4x slower;
        // docs/quantization.md).
        if mode == Mode::Auto && vector_bits < 256 {
            notes.push(note(
                "float",
                format!(
                    "auto keeps it in f32: packing 16-bit floats in {vector_bits}-bit vectors costs more than the halved traffic saves (measured 1.4x slower with Cranelift on a stage stored to DRAM, 1.4x faster with LLVM's 512 bits); --quantize=f16 or bf16 stores it anyway"
                ),
            ));
            continue;
        }
        let formats: &[Format] = match mode {
            Mode::F16 => &[Format::F16],
            Mode::Bf16 => &[Format::Bf16],
            _ => &[Format::F16, Format::Bf16],
        };
        let mut why_not = Vec::new();
        for &format in formats {
            let scheme = format.name();
            let mut trial = m.clone();
            if let Err(why) = store_as(&mut trial, k, s, format) {
                why_not.push(format!("not stored as {scheme}: {why}"));
                break;
            }
            let t = Trial {
                module: &trial,
                stage: s,
                scheme,
            };
            match fit(m, t, k, params, limits, tolerances) {
                Ok(found) => {
                    let priced = match pricing.as_mut() {
                        Some(p) if mode == Mode::Auto => p.compare(m, &trial, scheme),
                        _ => None,
                    };
                    if let Some(v) = &priced
                        && !v.cheaper
                    {
                        why_not.push(format!("auto keeps it in f32: {}", v.text));
                        continue;
                    }
                    let float_bounds = bounds(m, k, params, &found);
                    let q_bounds = bounds(&trial, k, params, &found);
                    let limited = add_limit_checks(&mut trial, k, limits, &found, &name, scheme);
                    *m = trial;
                    *limits = found;
                    out.changed = true;
                    if let Some(p) = pricing.as_mut() {
                        p.changed();
                    }
                    let priced = priced.map(|v| format!("; {}", v.text)).unwrap_or_default();
                    let what = match format {
                        Format::Bf16 => "bfloat16",
                        Format::F16 => "binary16",
                    };
                    notes.push(note(
                        scheme,
                        format!(
                            "stored as {what} (half the bytes; computed in f32); {}{limited}{priced}",
                            describe(&q_bounds, &float_bounds, tolerances, m, k)
                        ),
                    ));
                    why_not.clear();
                    break;
                }
                Err(why) => why_not.push(why),
            }
        }
        if !why_not.is_empty() {
            notes.push(note("float", why_not.join("; ")));
        }
    }
    out
}

/// What a converted stage's note says.
fn exact_note(c: &crate::quant::exact::Converted) -> String {
    let mut s = format!(
        "exact integer arithmetic in at most {} bits (error bound 0)",
        c.bits
    );
    if let Some(st) = c.stored {
        s += &format!(
            "; stores q in {} ({}..{}), standing for q × {}",
            st.ty.name(),
            st.lo,
            st.hi,
            st.scale
        );
    }
    for d in &c.divisions {
        s += &format!("; {d}");
    }
    s
}

/// The ops of kernel `k`'s block whose regions (or selves) use `v`.
fn users(m: &Module, k: OpId, v: ValueId) -> Vec<OpId> {
    let body = m.entry_block(k, 0);
    let mut out = Vec::new();
    for &top in &m.block(body).ops {
        let mut uses = m.op(top).operands.contains(&v);
        for &r in &m.op(top).regions {
            for &b in &m.region(r).blocks {
                m.walk_block(b, &mut |op| uses |= m.op(op).operands.contains(&v));
            }
        }
        if uses {
            out.push(top);
        }
    }
    out
}

fn short(x: f64) -> String {
    format!("{x:.4e}")
}

/// Each result's tolerance: its own, else the request's (float results).
fn tolerances(m: &Module, k: OpId, request: &Request) -> Vec<Option<Tolerance>> {
    let n = crate::dialects::signature(m, k).results.len();
    (0..n)
        .map(|i| result_tolerance(m, k, i).or(request.tolerance))
        .collect()
}

/// Upper limits the kernel's `where` clause gives single sizes
/// (`K <= 4096`, `K < 4097`).
fn declared_limits(m: &Module, k: OpId) -> HashMap<String, i64> {
    let mut out: HashMap<String, i64> = HashMap::new();
    let body = m.entry_block(k, 0);
    for &op in &m.block(body).ops {
        let d = m.op(op);
        if d.opcode != Opcode::Func(FuncOp::Check) {
            continue;
        }
        let Some(cmp) = m.def_op(d.operands[0]) else {
            continue;
        };
        let c = m.op(cmp);
        if c.opcode != Opcode::Arith(ArithOp::Cmp) {
            continue;
        }
        let size = |v: ValueId| {
            let o = m.op(m.def_op(v)?);
            (o.opcode == Opcode::Pj(PjOp::Size))
                .then(|| o.attr("name").and_then(Attr::as_str).map(str::to_string))?
        };
        let konst = |v: ValueId| {
            let o = m.op(m.def_op(v)?);
            (o.opcode == Opcode::Arith(ArithOp::Constant))
                .then(|| o.attr("value").and_then(Attr::as_int))?
        };
        let limit = match (
            c.attr("pred").and_then(Attr::as_str),
            size(c.operands[0]),
            konst(c.operands[1]),
        ) {
            (Some("le"), Some(s), Some(n)) => Some((s, n)),
            (Some("lt"), Some(s), Some(n)) => Some((s, n - 1)),
            _ => None,
        };
        if let Some((s, n)) = limit {
            let e = out.entry(s).or_insert(n);
            *e = (*e).min(n);
        }
    }
    out
}

fn analyze_ranges(
    m: &Module,
    k: OpId,
    params: &[Option<(f64, f64)>],
    limits: &HashMap<String, i64>,
) -> (crate::quant::ranges::Ranges, Vec<Interval>) {
    crate::quant::ranges::analyze(
        m,
        k,
        &Inputs {
            params,
            sizes: crate::quant::ranges::no_sizes(),
            limits,
        },
    )
}

/// Each result's error bound (and its range) at `limits`.
fn bounds(
    m: &Module,
    k: OpId,
    params: &[Option<(f64, f64)>],
    limits: &HashMap<String, i64>,
) -> Vec<(f64, Interval)> {
    let (ranges, results) = analyze_ranges(m, k, params, limits);
    let (_, errors) = crate::quant::error::analyze(m, k, &ranges);
    errors.into_iter().zip(results).collect()
}

/// Whether bound `e` on a result in `r` meets `t`: within `abs + rel ·
/// |exact|` for every exact value the bound allows.
fn admits(t: Tolerance, e: f64, r: Interval) -> bool {
    let least = if r.lo <= 0.0 && r.hi >= 0.0 {
        0.0
    } else {
        r.lo.abs().min(r.hi.abs())
    };
    e <= t.abs + t.rel * (least - e).max(0.0)
}

/// The first result whose bound misses its tolerance: `(index, bound)`.
/// A result the change leaves no worse than the float code (`float`) is
/// never one: a result without a tolerance must keep that bound, and one
/// the float code already misses (a sum over an unbounded size) is not the
/// change's doing. An unbounded result is "no worse" only for an `exact`
/// change (int16's, equal to the float code by construction): a lossy one
/// unbounded on both sides has proven nothing.
/// `changed[i]` says whether result `i` reads what a lossy change made
/// (`None`: every result may be unbounded on both sides).
fn misses(
    b: &[(f64, Interval)],
    float: &[(f64, Interval)],
    tolerances: &[Option<Tolerance>],
    changed: Option<&[bool]>,
) -> Option<(usize, f64)> {
    let lossy = |i: usize| changed.is_some_and(|c| c.get(i).copied().unwrap_or(true));
    b.iter()
        .enumerate()
        .find_map(|(i, &(e, r))| match tolerances.get(i).copied().flatten() {
            Some(t) if admits(t, e, r) => None,
            _ if (e.is_finite() || !lossy(i)) && float.get(i).is_some_and(|f| e <= f.0) => None,
            _ => Some((i, e)),
        })
}

/// Which of kernel `k`'s results read stage `s`, directly or through
/// other stages.
fn reading(m: &Module, k: OpId, s: OpId) -> Vec<bool> {
    let body = m.entry_block(k, 0);
    let mut seen = std::collections::HashSet::from([s]);
    let mut work = vec![s];
    while let Some(x) = work.pop() {
        for u in users(m, k, m.result(x)) {
            if m.op(u).results.len() == 1 && seen.insert(u) {
                work.push(u);
            }
        }
    }
    let Some(&term) = m.block(body).ops.last() else {
        return Vec::new();
    };
    m.op(term)
        .operands
        .iter()
        .map(|&v| seen.iter().any(|&o| m.result(o) == v))
        .collect()
}

/// A lossy scheme applied to one stage, on a copy of the kernel.
struct Trial<'a> {
    module: &'a Module,
    /// The stage it changed.
    stage: OpId,
    /// `int8`, `bf16`, `f16`.
    scheme: &'a str,
}

/// The limits under which `trial` meets every tolerance: `limits` if it
/// does so already, else those and a common limit on the sizes its
/// bounds grow with (the largest that works); an explanation otherwise.
fn fit(
    orig: &Module,
    trial: Trial<'_>,
    k: OpId,
    params: &[Option<(f64, f64)>],
    limits: &HashMap<String, i64>,
    tolerances: &[Option<Tolerance>],
) -> Result<HashMap<String, i64>, String> {
    let Trial {
        module: trial,
        stage,
        scheme,
    } = trial;
    let changed = reading(orig, k, stage);
    let sig = crate::dialects::signature(trial, k);
    let at = |l: &HashMap<String, i64>| bounds(trial, k, params, l);
    let miss = |l: &HashMap<String, i64>| {
        misses(
            &at(l),
            &bounds(orig, k, params, l),
            tolerances,
            Some(&changed),
        )
    };
    let Some((i, e)) = miss(limits) else {
        return Ok(limits.clone());
    };
    let rname = &sig.results[i];
    let Some(t) = tolerances[i] else {
        return Err(format!(
            "not quantized: result `{rname}` has no tolerance (declare `@tolerance(abs = ...)` on it, or pass --tolerance); {scheme} would be within {} of the exact result",
            short(e)
        ));
    };
    // the sizes the bound grows with: from all of them at 1, letting this
    // one grow loosens it
    let free: Vec<String> = size_names(trial, k)
        .into_iter()
        .filter(|s| !limits.contains_key(s))
        .collect();
    let mut small = limits.clone();
    for s in &free {
        small.insert(s.clone(), 1);
    }
    let base = at(&small);
    let sizes: Vec<String> = free
        .into_iter()
        .filter(|s| {
            let mut l = small.clone();
            l.remove(s);
            let b = at(&l);
            b.iter().zip(&base).any(|(x, y)| x.0 > y.0)
        })
        .collect();
    let with = |n: i64| {
        let mut l = limits.clone();
        for s in &sizes {
            l.insert(s.clone(), n);
        }
        l
    };
    let refuse = |e: f64| {
        format!(
            "not quantized: {scheme} would be within {} of the exact result on `{rname}`, beyond its tolerance (abs {}, rel {})",
            short(e),
            t.abs,
            t.rel
        )
    };
    if sizes.is_empty() || miss(&with(1)).is_some() {
        return Err(refuse(e));
    }
    let (mut ok, mut bad) = (1i64, pj_lang::bounds::MAX_SIZE);
    while bad - ok > 1 {
        let mid = ok + (bad - ok) / 2;
        if miss(&with(mid)).is_none() {
            ok = mid;
        } else {
            bad = mid;
        }
    }
    Ok(with(ok))
}

/// The kernel's size names, in the order of its `pj.size` ops.
fn size_names(m: &Module, k: OpId) -> Vec<String> {
    crate::dialects::pj::sizes(m, k)
        .into_iter()
        .map(|(n, _)| n)
        .collect()
}

/// `func.check`s for the limits in `found` beyond `before`, placed after
/// the kernel's other checks; says which, for the note.
fn add_limit_checks(
    m: &mut Module,
    k: OpId,
    before: &HashMap<String, i64>,
    found: &HashMap<String, i64>,
    stage: &str,
    scheme: &str,
) -> String {
    let body = m.entry_block(k, 0);
    let first_stage = m
        .block(body)
        .ops
        .iter()
        .copied()
        .find(|&o| {
            !matches!(
                m.op(o).opcode,
                Opcode::Pj(PjOp::Size) | Opcode::Arith(_) | Opcode::Func(FuncOp::Check)
            )
        })
        .expect("a kernel ends with pj.return");
    let mut said = Vec::new();
    let mut names: Vec<&String> = found
        .keys()
        .filter(|s| before.get(*s) != found.get(*s))
        .collect();
    names.sort();
    for s in names {
        let n = found[s];
        let size =
            crate::dialects::pj::size_value(m, k, s).expect("a limited size is the kernel's");
        let c = m.build_op(
            OpSpec::new(Opcode::Arith(ArithOp::Constant))
                .attr("value", Attr::Int(n))
                .result(Type::INDEX),
        );
        let cv = m.result(c);
        let cmp = m.build_op(
            OpSpec::new(Opcode::Arith(ArithOp::Cmp))
                .operands([size, cv])
                .attr("pred", Attr::Str("le".into()))
                .result(Type::Scalar(ScalarType::Bool)),
        );
        let cond = m.result(cmp);
        let check = m.build_op(
            OpSpec::new(Opcode::Func(FuncOp::Check))
                .operands([cond, size])
                .attr("code", Attr::Int(status::SHAPE_MISMATCH))
                .attr(
                    "message",
                    Attr::Str(format!(
                        "size `{s}` = {{0}} is more than {n}, the largest for which the {scheme} quantization of stage `{stage}` meets the tolerance (compile without --quantize, or loosen @tolerance)"
                    )),
                ),
        );
        m.insert_all_before(first_stage, &[c, cmp, check]);
        said.push(format!("{s} <= {n}"));
    }
    if said.is_empty() {
        String::new()
    } else {
        format!("; holds for {} (checked at each call)", said.join(", "))
    }
}

/// "within 3.1e-2 of the exact result on `c` (tolerance abs 5e-2; the
/// float code's own bound 6.2e-2)".
fn describe(
    q: &[(f64, Interval)],
    float: &[(f64, Interval)],
    tolerances: &[Option<Tolerance>],
    m: &Module,
    k: OpId,
) -> String {
    let sig = crate::dialects::signature(m, k);
    let parts: Vec<String> = q
        .iter()
        .enumerate()
        .filter(|(i, _)| tolerances.get(*i).copied().flatten().is_some())
        .map(|(i, (e, _))| {
            let t = tolerances[i].expect("filtered");
            format!(
                "proven within {} of the exact result on `{}` (tolerance abs {}, rel {}; float code: within {})",
                short(*e),
                sig.results[i],
                t.abs,
                t.rel,
                short(float.get(i).map_or(f64::INFINITY, |f| f.0))
            )
        })
        .collect();
    parts.join("; ")
}

/// `stage` as a [`Contraction`], if it is one the pass handles: its entry
/// block yields a `sum` reduction (its bounds from outside the stage)
/// whose term is the product of two reads of float arrays with finite
/// ranges, without NaN. The row operand is the read whose last index is a
/// reduction variable and the others stage variables (`a[i, k]`, what
/// `vector.dot4` takes), else one that needs no zero point.
fn contraction(
    m: &Module,
    stage: OpId,
    ranges: &crate::quant::ranges::Ranges,
) -> Option<Contraction> {
    let sblock = m.entry_block(stage, 0);
    let svars = &m.block(sblock).args;
    // the stage's one reduction; what follows it (a ReLU, a bias) stays
    // float work on its dequantized value
    let mut regions = m
        .block(sblock)
        .ops
        .iter()
        .filter(|&&o| !m.op(o).regions.is_empty());
    let reduce = *regions.next()?;
    if regions.next().is_some() {
        return None;
    }
    let rd = m.op(reduce);
    if rd.opcode != Opcode::Pj(PjOp::Reduce)
        || rd.parent != Some(sblock)
        || rd.attr("kind").and_then(Attr::as_str) != Some("sum")
        || !m.ty(rd.results[0]).elem().is_float()
        || rd.operands.iter().any(|&v| defined_in(m, v, sblock))
    {
        return None;
    }
    let rblock = m.entry_block(reduce, 0);
    let ks = &m.block(rblock).args;
    let term = *m.op(*m.block(rblock).ops.last()?).operands.first()?;
    let mul = m.def_op(term)?;
    // the body is copied into other stages: it may use only its own
    // values, the stage's variables and the kernel's
    let foreign = |o: OpId| {
        m.op(o)
            .operands
            .iter()
            .any(|&v| defined_in(m, v, sblock) && !defined_in(m, v, rblock) && !svars.contains(&v))
    };
    if m.op(mul).opcode != Opcode::Arith(ArithOp::Mul)
        || m.block(rblock)
            .ops
            .iter()
            .any(|&o| !m.op(o).regions.is_empty() || foreign(o))
    {
        return None;
    }
    let read = |v: ValueId| -> Option<(OpId, Interval)> {
        let r = m.def_op(v)?;
        let d = m.op(r);
        let elems = ranges.elements(d.operands[0])?;
        // a boundary mode reads outside the array: its quantized copy then
        // covers what the read reaches, which its indices must say
        let ok = d.opcode == Opcode::Pj(PjOp::Read)
            && (d.attr("boundary").is_none()
                || d.operands[1..]
                    .iter()
                    .all(|&i| reach(m, i, stage, reduce).is_some()))
            && d.parent == Some(rblock)
            && m.ty(v).elem().is_float()
            && !elems.nan
            && elems.lo.is_finite()
            && elems.hi.is_finite();
        ok.then_some((r, elems))
    };
    let (x, y) = (read(m.op(mul).operands[0])?, read(m.op(mul).operands[1])?);
    let plain_row = |r: OpId| {
        let idx = &m.op(r).operands[1..];
        idx.last().is_some_and(|l| ks.contains(l))
            && idx[..idx.len() - 1].iter().all(|v| svars.contains(v))
    };
    // the row operand: the one a matrix product reads along its rows
    let (row, col) = if plain_row(x.0) || !plain_row(y.0) {
        (x, y)
    } else {
        (y, x)
    };
    let j = *svars.last()?;
    let matrix_product = ks.len() == 1
        && m.op(row.0).attr("boundary").is_none()
        && m.op(col.0).attr("boundary").is_none()
        && plain_row(row.0)
        && !m.op(row.0).operands[1..].contains(&j)
        && m.op(col.0).operands[1..] == [ks[0], j];
    Some(Contraction {
        stage,
        reduce,
        mul,
        row: row.0,
        col: col.0,
        matrix_product,
    })
}

/// How far index `v` of a read in `reduce` (of `stage`) reaches: `Some`
/// when it is a sum or difference of the stage's and the reduction's
/// variables and values that do not vary (a size, `R / 2`), which
/// [`halo_domain`] then bounds.
fn reach(m: &Module, v: ValueId, stage: OpId, reduce: OpId) -> Option<()> {
    let vars = |op: OpId| m.block(m.entry_block(op, 0)).args.clone();
    if vars(stage).contains(&v) || vars(reduce).contains(&v) {
        return Some(());
    }
    let sblock = m.entry_block(stage, 0);
    if !defined_in(m, v, sblock) {
        return Some(());
    }
    let op = m.def_op(v)?;
    let d = m.op(op);
    match d.opcode {
        Opcode::Arith(ArithOp::Add | ArithOp::Sub) if !invariant(m, v, stage) => {
            reach(m, d.operands[0], stage, reduce)?;
            reach(m, d.operands[1], stage, reduce)
        }
        // computed from what does not vary: computed again before the stage
        _ if invariant(m, v, stage) && !crate::dialects::can_fail(m, op) => Some(()),
        _ => None,
    }
}

/// Whether `v` is the same for every point of `stage` (it uses none of its
/// or its regions' variables).
fn invariant(m: &Module, v: ValueId, stage: OpId) -> bool {
    let sblock = m.entry_block(stage, 0);
    if !defined_in(m, v, sblock) {
        return true;
    }
    match m.def_op(v) {
        None => false,
        Some(o) => {
            let d = m.op(o);
            d.regions.is_empty() && d.operands.iter().all(|&x| invariant(m, x, stage))
        }
    }
}

/// The domain of the quantized copy of `read`'s array (a read with a
/// boundary mode): per index, from its least to its greatest value over
/// the stage's and the reduction's domains, computed before the stage.
fn halo_domain(m: &mut Module, read: OpId, c: Contraction) -> Vec<ValueId> {
    let idx = m.op(read).operands[1..].to_vec();
    let mut out = Vec::new();
    let mut cloned: HashMap<ValueId, ValueId> = HashMap::new();
    for i in idx {
        let (lo, hi) = extremes(m, i, c, &mut cloned);
        let one = index_before(m, c.stage, 1);
        let end = emit_before(
            m,
            c.stage,
            OpSpec::new(Opcode::Arith(ArithOp::Add))
                .operands([hi, one])
                .result(Type::INDEX),
        );
        out.push(lo);
        out.push(end);
    }
    out
}

fn emit_before(m: &mut Module, at: OpId, spec: OpSpec) -> ValueId {
    let o = m.build_op(spec);
    m.insert_before(at, o);
    m.result(o)
}

fn index_before(m: &mut Module, at: OpId, n: i64) -> ValueId {
    emit_before(
        m,
        at,
        OpSpec::new(Opcode::Arith(ArithOp::Constant))
            .attr("value", Attr::Int(n))
            .result(Type::INDEX),
    )
}

/// The least and greatest value of index `v` (which [`reach`] accepted).
fn extremes(
    m: &mut Module,
    v: ValueId,
    c: Contraction,
    cloned: &mut HashMap<ValueId, ValueId>,
) -> (ValueId, ValueId) {
    for op in [c.stage, c.reduce] {
        let args = m.block(m.entry_block(op, 0)).args.clone();
        if let Some(pos) = args.iter().position(|&a| a == v) {
            let (lo, ub) = (m.op(op).operands[2 * pos], m.op(op).operands[2 * pos + 1]);
            let one = index_before(m, c.stage, 1);
            let last = emit_before(
                m,
                c.stage,
                OpSpec::new(Opcode::Arith(ArithOp::Sub))
                    .operands([ub, one])
                    .result(Type::INDEX),
            );
            return (lo, last);
        }
    }
    if invariant(m, v, c.stage) {
        let w = clone_invariant(m, v, c, cloned);
        return (w, w);
    }
    let d = m.op(m.def_op(v).expect("checked by `reach`")).clone();
    let (a, b) = (
        extremes(m, d.operands[0], c, cloned),
        extremes(m, d.operands[1], c, cloned),
    );
    let bin = |m: &mut Module, op: ArithOp, x: ValueId, y: ValueId| {
        emit_before(
            m,
            c.stage,
            OpSpec::new(Opcode::Arith(op))
                .operands([x, y])
                .result(Type::INDEX),
        )
    };
    match d.opcode {
        Opcode::Arith(ArithOp::Add) => (
            bin(m, ArithOp::Add, a.0, b.0),
            bin(m, ArithOp::Add, a.1, b.1),
        ),
        _ => (
            bin(m, ArithOp::Sub, a.0, b.1),
            bin(m, ArithOp::Sub, a.1, b.0),
        ),
    }
}

/// `v` (the same for every point of the stage) computed again before it.
fn clone_invariant(
    m: &mut Module,
    v: ValueId,
    c: Contraction,
    cloned: &mut HashMap<ValueId, ValueId>,
) -> ValueId {
    let sblock = m.entry_block(c.stage, 0);
    if !defined_in(m, v, sblock) {
        return v;
    }
    if let Some(&w) = cloned.get(&v) {
        return w;
    }
    let d = m
        .op(m.def_op(v).expect("invariant values are op results"))
        .clone();
    let operands: Vec<ValueId> = d
        .operands
        .iter()
        .map(|&o| clone_invariant(m, o, c, cloned))
        .collect();
    let mut spec = OpSpec::new(d.opcode).operands(operands).loc(d.loc);
    spec.attrs = d.attrs.clone();
    spec.result_types = d.results.iter().map(|&r| m.ty(r).clone()).collect();
    let w = emit_before(m, c.stage, spec);
    cloned.insert(v, w);
    w
}

/// Whether `v` is defined by an op inside `block` (or is one of its args).
/// Whether `v` is defined inside `block`: by an op in it or in a region
/// nested in it, or as an argument of it or of a nested block.
fn defined_in(m: &Module, v: ValueId, block: BlockId) -> bool {
    let mut at = match m.value(v).def {
        crate::ir::ValueDef::OpResult(o, _) => m.op(o).parent,
        crate::ir::ValueDef::BlockArg(b, _) => Some(b),
    };
    while let Some(b) = at {
        if b == block {
            return true;
        }
        at = m.block_owner(b).and_then(|op| m.op(op).parent);
    }
    false
}

/// A name from `base` that no stage or parameter of kernel `k` has.
pub(crate) fn fresh_name(m: &Module, k: OpId, base: &str) -> String {
    let body = m.entry_block(k, 0);
    let taken = |n: &str| {
        m.block(body)
            .ops
            .iter()
            .any(|&o| m.op(o).attr("name").and_then(Attr::as_str) == Some(n))
            || crate::dialects::signature(m, k)
                .params
                .iter()
                .any(|(p, _)| p == n)
    };
    let mut name = base.to_string();
    let mut i = 2;
    while taken(&name) {
        name = format!("{base}{i}");
        i += 1;
    }
    name
}

/// A stage before `at` with the given domain, computing `fill(block,
/// vars)` per element; `whole`: stored whole (`compute_root`), never
/// computed per tile of a consumer — the quantized operands and the
/// integer product, which `lower-stages` computes as a cache-blocked
/// matrix product from whole buffers.
fn new_stage(
    m: &mut Module,
    at: OpId,
    name: &str,
    domain: Vec<ValueId>,
    elem: ScalarType,
    whole: bool,
    fill: impl FnOnce(&mut Module, BlockId, &[ValueId]) -> ValueId,
) -> ValueId {
    let rank = domain.len() / 2;
    let loc = m.op(at).loc;
    let mut spec = OpSpec::new(Opcode::Pj(PjOp::Stage))
        .operands(domain)
        .attr("name", Attr::Str(name.into()))
        .attr(crate::passes::schedule::QUANTIZED, Attr::Bool(true));
    if whole {
        spec = spec.attr(crate::passes::schedule::COMPUTE_ROOT, Attr::Bool(true));
    }
    let s = m.build_op(
        spec.result(Type::dynamic_tensor(elem, rank))
            .regions(1)
            .loc(loc),
    );
    let block = m.entry_block(s, 0);
    let vars: Vec<ValueId> = (0..rank)
        .map(|_| m.add_block_arg(block, Type::INDEX, None))
        .collect();
    let v = fill(m, block, &vars);
    m.push(block, OpSpec::new(Opcode::Pj(PjOp::Yield)).operands([v]));
    m.insert_before(at, s);
    let r = m.result(s);
    m.set_value_name(r, name.to_string());
    r
}

/// The domain operands of tensor `t`: a stage's own, or `[0, n)` per dim
/// of a parameter.
fn domain_of(m: &mut Module, k: OpId, t: ValueId) -> Vec<ValueId> {
    if let Some(op) = m.def_op(t)
        && m.op(op).opcode == Opcode::Pj(PjOp::Stage)
    {
        return m.op(op).operands.clone();
    }
    let body = m.entry_block(k, 0);
    let dims = match m.ty(t) {
        Type::Tensor { dims, .. } => dims.clone(),
        _ => vec![],
    };
    let first = m.block(body).ops[0];
    let zero = index_before(m, first, 0);
    let mut out = Vec::new();
    for d in dims {
        let ub = match d {
            crate::ir::Dim::Static(n) => index_before(m, first, n),
            crate::ir::Dim::Sym(s) => crate::dialects::pj::size_value(m, k, &s)
                .expect("a parameter's size is the kernel's"),
            crate::ir::Dim::Dynamic => unreachable!("parameters have named or fixed dims"),
        };
        out.push(zero);
        out.push(ub);
    }
    out
}

/// The row operand's type: `u8` for a range that is never negative (all
/// eight bits for magnitude), else `i8`.
/// How the row operand is stored: `u8` for a range that is never
/// negative (all eight bits for magnitude); else `i8`, symmetric — or, for
/// a matrix product on a target whose instruction takes `u8` rows only
/// (VNNI), `u8` with a zero point, the products written `(x - z) · y`
/// (which `lower-stages` computes as `x · y` less `z · Σ y`, and the
/// error analysis sees as the centered product it is).
fn row_type(
    c: Contraction,
    m: &Module,
    ranges: &crate::quant::ranges::Ranges,
    dot: crate::target::DotProducts,
) -> (ScalarType, bool) {
    let r = ranges
        .elements(m.op(c.row).operands[0])
        .expect("checked by `contraction`");
    let u8_rows_only = (dot.covers(false, true) && !dot.covers(true, true)) || dot.seven_bit_rows();
    if r.lo >= 0.0 {
        (ScalarType::U8, false)
    } else if c.matrix_product && u8_rows_only {
        (ScalarType::U8, true)
    } else {
        (ScalarType::I8, false)
    }
}

/// For each index of contraction `c`'s column read, whether it is one of
/// the stage's own (a channel: `j` of `b[k, j]`) rather than the
/// reduction's; `None` unless every index is one or the other, at least
/// one of each, the read plain.
fn channels(m: &Module, c: Contraction) -> Option<Vec<bool>> {
    let d = m.op(c.col);
    if d.attr("boundary").is_some() {
        return None;
    }
    let stage_args = &m.block(m.entry_block(c.stage, 0)).args;
    let reduce_args = &m.block(m.entry_block(c.reduce, 0)).args;
    let mut seen = Vec::new();
    let axes = d.operands[1..]
        .iter()
        .map(|v| {
            if seen.contains(v) {
                return None;
            }
            seen.push(*v);
            if stage_args.contains(v) {
                Some(true)
            } else if reduce_args.contains(v) {
                Some(false)
            } else {
                None
            }
        })
        .collect::<Option<Vec<bool>>>()?;
    (axes.contains(&true) && axes.contains(&false)).then_some(axes)
}

/// Whether stage `s`'s result is the row operand of another stage that
/// sums products: there one scale for all of it lets the next product's
/// operand be requantized from the integer sum ([`requantize_chains`]).
fn feeds_a_product(m: &Module, k: OpId, s: OpId, ranges: &crate::quant::ranges::Ranges) -> bool {
    let h = m.result(s);
    let body = m.entry_block(k, 0);
    m.block(body).ops.iter().any(|&o| {
        o != s
            && m.op(o).opcode == Opcode::Pj(PjOp::Stage)
            && contraction(m, o, ranges).is_some_and(|c| m.op(c.row).operands[0] == h)
    })
}

/// The stages computing the column's scale per channel at run time,
/// `b_max[j] = max(k) |b[k, j]|` (a reduction alone, which the scheduler
/// walks along `b`'s rows) and `b_scale[j] = quant.scale_for(b_max[j])
/// {levels = 127, scale = largest}`, over `b`'s domain `bdom` (`axes` as
/// [`channels`] gives); returns `b_scale`.
fn channel_scales(
    m: &mut Module,
    k: OpId,
    at: OpId,
    b: ValueId,
    bdom: &[ValueId],
    axes: &[bool],
    largest: f64,
) -> ValueId {
    let pick = |channel: bool| -> Vec<ValueId> {
        axes.iter()
            .enumerate()
            .filter(|&(_, &a)| a == channel)
            .flat_map(|(i, _)| [bdom[2 * i], bdom[2 * i + 1]])
            .collect()
    };
    let (domain, reduced) = (pick(true), pick(false));
    let base = m.value(b).name.clone().unwrap_or_else(|| "t".into());
    let max_name = fresh_name(m, k, &format!("{base}_max"));
    let f32t = Type::Scalar(ScalarType::F32);
    let elem = m.ty(b).elem();
    let axes = axes.to_vec();
    let most = new_stage(
        m,
        at,
        &max_name,
        domain.clone(),
        elem,
        true,
        |m, block, vars| {
            let red = m.push(
                block,
                OpSpec::new(Opcode::Pj(PjOp::Reduce))
                    .operands(reduced.clone())
                    .attr("kind", Attr::Str("max".into()))
                    .result(Type::Scalar(elem))
                    .regions(1),
            );
            let rblock = m.entry_block(red, 0);
            let rvars: Vec<ValueId> = (0..reduced.len() / 2)
                .map(|_| m.add_block_arg(rblock, Type::INDEX, None))
                .collect();
            let (mut ci, mut ri) = (vars.iter(), rvars.iter());
            let indices: Vec<ValueId> = axes
                .iter()
                .map(|&a| *if a { ci.next() } else { ri.next() }.expect("one per axis"))
                .collect();
            let r = m.push(
                rblock,
                OpSpec::new(Opcode::Pj(PjOp::Read))
                    .operands(std::iter::once(b).chain(indices))
                    .result(Type::Scalar(elem)),
            );
            let x = m.result(r);
            let a = m.push(
                rblock,
                OpSpec::new(Opcode::Math(crate::dialects::MathOp::Abs))
                    .operands([x])
                    .result(Type::Scalar(elem)),
            );
            let a = m.result(a);
            m.push(rblock, OpSpec::new(Opcode::Pj(PjOp::Yield)).operands([a]));
            m.result(red)
        },
    );
    let name = fresh_name(m, k, &format!("{base}_scale"));
    new_stage(
        m,
        at,
        &name,
        domain,
        ScalarType::F32,
        true,
        |m, block, vars| {
            let r = m.push(
                block,
                OpSpec::new(Opcode::Pj(PjOp::Read))
                    .operands(std::iter::once(most).chain(vars.iter().copied()))
                    .result(Type::Scalar(elem)),
            );
            let most = m.result(r);
            let o = m.push(
                block,
                OpSpec::new(Opcode::Quant(QuantOp::ScaleFor))
                    .operands([most])
                    .attr("levels", Attr::Int(127))
                    .attr("scale", Attr::Float(largest))
                    .result(f32t.clone()),
            );
            m.result(o)
        },
    )
}

/// How the column operand is scaled.
#[derive(Clone, Copy, PartialEq)]
enum ColumnScale {
    /// One scale from the declared range.
    PerTensor,
    /// One per channel, computed at run time ([`channel_scales`]).
    PerChannel,
}

/// Rewrites contraction `c` into fixed point (see the module doc);
/// returns the row's and the column's parameters (for per-channel
/// scales, the column's largest) and whether the column's scales are per
/// channel.
fn rewrite(
    m: &mut Module,
    k: OpId,
    c: Contraction,
    ranges: &crate::quant::ranges::Ranges,
    dot: crate::target::DotProducts,
    scaling: ColumnScale,
) -> (Params, Params, bool) {
    let elem_range = |m: &Module, r: OpId| {
        ranges
            .elements(m.op(r).operands[0])
            .expect("checked by `contraction`")
    };
    let (ra, rb) = (elem_range(m, c.row), elem_range(m, c.col));
    let (row_t, centered) = row_type(c, m, ranges, dot);
    // x86 without VNNI: `pmaddubsw`'s pairs saturate at 16 bits unless the
    // `u8` rows stay below 128: 7 bits of them, clamped there
    let seven = c.matrix_product && row_t == ScalarType::U8 && dot.seven_bit_rows();
    let pa = match (centered, seven) {
        (true, false) => crate::quant::plan::params_centered(ra.lo, ra.hi),
        (true, true) => crate::quant::plan::params_centered_levels(ra.lo, ra.hi, 127),
        (false, true) => crate::quant::plan::params_unsigned_levels(ra.hi, 127),
        (false, false) => params_for(ra.lo, ra.hi, row_t),
    };
    let pb = params_for(rb.lo, rb.hi, ScalarType::I8);
    let col_array = m.op(c.col).operands[0];
    let per_channel = match (scaling, channels(m, c)) {
        (ColumnScale::PerChannel, Some(axes)) if m.ty(col_array).elem() == ScalarType::F32 => {
            let bdom = domain_of(m, k, col_array);
            let scales = channel_scales(m, k, c.stage, col_array, &bdom, &axes, pb.scale);
            Some((axes, bdom, scales))
        }
        _ => None,
    };
    let quantized = |m: &mut Module, read: OpId, q: ScalarType, p: Params| -> ValueId {
        let t = m.op(read).operands[0];
        // the column's channels' scales, read at the copy's indices
        let scales = per_channel.as_ref().filter(|_| read == c.col);
        let float = m.ty(m.result(read)).clone();
        let base = format!(
            "{}_{}",
            m.value(t).name.clone().unwrap_or_else(|| "t".into()),
            q.name()
        );
        let name = fresh_name(m, k, &base);
        // with a boundary mode: what the read reaches, read as it reads
        let boundary = m.op(read).attr("boundary").cloned();
        let domain = match (&boundary, scales) {
            (_, Some((_, bdom, _))) => bdom.clone(),
            (None, None) => domain_of(m, k, t),
            (Some(_), None) => halo_domain(m, read, c),
        };
        new_stage(m, c.stage, &name, domain, q, true, |m, block, vars| {
            let mut spec = OpSpec::new(Opcode::Pj(PjOp::Read))
                .operands(std::iter::once(t).chain(vars.iter().copied()))
                .result(float);
            if let Some(b) = boundary {
                spec = spec.attr("boundary", b);
            }
            let r = m.push(block, spec);
            let x = m.result(r);
            let mut spec = OpSpec::new(Opcode::Quant(QuantOp::Quantize))
                .operands([x])
                .result(Type::Scalar(q));
            match scales {
                Some((axes, _, scales)) => {
                    let at = vars.iter().zip(axes).filter(|&(_, &a)| a).map(|(&v, _)| v);
                    let s = m.push(
                        block,
                        OpSpec::new(Opcode::Pj(PjOp::Read))
                            .operands(std::iter::once(*scales).chain(at))
                            .result(Type::Scalar(ScalarType::F32)),
                    );
                    spec.operands.push(m.result(s));
                    spec = spec.attr("zero_point", Attr::Int(p.zero_point));
                }
                None => {
                    for (key, v) in p.attrs() {
                        spec = spec.attr(key, v);
                    }
                }
            }
            let o = m.push(block, spec);
            let value = m.result(o);
            if seven && read == c.row {
                // below 128 whatever the data (a broken @range too): the
                // pairs of products then never saturate
                let most = m.push(
                    block,
                    OpSpec::new(Opcode::Arith(ArithOp::Constant))
                        .attr("value", Attr::Int(127))
                        .result(Type::Scalar(q)),
                );
                let most = m.result(most);
                let o = m.push(
                    block,
                    OpSpec::new(Opcode::Arith(ArithOp::Min))
                        .operands([value, most])
                        .result(Type::Scalar(q)),
                );
                return m.result(o);
            }
            value
        })
    };
    let qa = quantized(m, c.row, row_t, pa);
    let qb = quantized(m, c.col, ScalarType::I8, pb);
    let sblock = m.entry_block(c.stage, 0);
    let svars = m.block(sblock).args.clone();
    let domain = m.op(c.stage).operands.clone();
    let rbounds = m.op(c.reduce).operands.clone();
    let i32t = Type::Scalar(ScalarType::I32);
    // the reduction's body again, over the quantized arrays, in i32
    let build_sum =
        |m: &mut Module, block: BlockId, vars: &[ValueId], only: Option<OpId>| -> ValueId {
            let red = m.push(
                block,
                OpSpec::new(Opcode::Pj(PjOp::Reduce))
                    .operands(rbounds.clone())
                    .attr("kind", Attr::Str("sum".into()))
                    .result(i32t.clone())
                    .regions(1),
            );
            let rblock = m.entry_block(red, 0);
            let old_block = m.entry_block(c.reduce, 0);
            let mut map: HashMap<ValueId, ValueId> =
                svars.iter().copied().zip(vars.iter().copied()).collect();
            for &a in &m.block(old_block).args.clone() {
                let n = m.add_block_arg(rblock, Type::INDEX, m.value(a).name.clone());
                map.insert(a, n);
            }
            let widened = |m: &mut Module, v: ValueId| {
                let o = m.push(
                    rblock,
                    OpSpec::new(Opcode::Arith(ArithOp::Cast))
                        .operands([v])
                        .result(i32t.clone()),
                );
                m.result(o)
            };
            let mut term = None;
            for op in m.block(old_block).ops.clone() {
                let d = m.op(op).clone();
                if op == c.mul || d.opcode == Opcode::Pj(PjOp::Yield) {
                    continue;
                }
                // the column's sums clone its read alone (its indices are plain)
                if only.is_some_and(|keep| op != keep) {
                    continue;
                }
                let operands: Vec<ValueId> = d
                    .operands
                    .iter()
                    .map(|v| *map.get(v).unwrap_or(v))
                    .collect();
                let mut spec = OpSpec::new(d.opcode).operands(operands).loc(d.loc);
                spec.attrs = d.attrs.clone();
                spec.result_types = d.results.iter().map(|&r| m.ty(r).clone()).collect();
                if op == c.row || op == c.col {
                    // the quantized copy covers every index the read reaches
                    spec.attrs.retain(|(key, _)| key != "boundary");
                    let (q, elem) = if op == c.row {
                        (qa, row_t)
                    } else {
                        (qb, ScalarType::I8)
                    };
                    spec.operands[0] = q;
                    spec.result_types = vec![Type::Scalar(elem)];
                }
                let new = m.push(rblock, spec);
                for (&old, &n) in d.results.iter().zip(&m.op(new).results.clone()) {
                    map.insert(old, n);
                }
                if Some(op) == only {
                    term = Some(widened(m, m.result(new)));
                }
            }
            let term = term.unwrap_or_else(|| {
                let (x, y) = (map[&m.result(c.row)], map[&m.result(c.col)]);
                let (mut x, y) = (widened(m, x), widened(m, y));
                if pa.zero_point != 0 {
                    let z = m.push(
                        rblock,
                        OpSpec::new(Opcode::Arith(ArithOp::Constant))
                            .attr("value", Attr::Int(pa.zero_point))
                            .result(i32t.clone()),
                    );
                    let z = m.result(z);
                    let o = m.push(
                        rblock,
                        OpSpec::new(Opcode::Arith(ArithOp::Sub))
                            .operands([x, z])
                            .result(i32t.clone()),
                    );
                    x = m.result(o);
                }
                let o = m.push(
                    rblock,
                    OpSpec::new(Opcode::Arith(ArithOp::Mul))
                        .operands([x, y])
                        .result(i32t.clone()),
                );
                m.result(o)
            });
            m.push(
                rblock,
                OpSpec::new(Opcode::Pj(PjOp::Yield)).operands([term]),
            );
            m.result(red)
        };
    let sname = crate::passes::schedule::stage_name(m, c.stage);
    let acc_name = fresh_name(m, k, &format!("{sname}_acc"));
    let acc = new_stage(
        m,
        c.stage,
        &acc_name,
        domain.clone(),
        ScalarType::I32,
        true,
        |m, block, vars| build_sum(m, block, vars, None),
    );
    // the stage: read the sum, dequantize
    let loc = m.op(c.reduce).loc;
    let mut ops = Vec::new();
    let mut emit = |m: &mut Module, spec: OpSpec| {
        let o = m.build_op(spec.loc(loc));
        ops.push(o);
        m.result(o)
    };
    let v = emit(
        m,
        OpSpec::new(Opcode::Pj(PjOp::Read))
            .operands(std::iter::once(acc).chain(svars.iter().copied()))
            .result(i32t.clone()),
    );
    let float = m.ty(m.result(c.reduce)).clone();
    let back = Params {
        scale: pa.scale * pb.scale,
        zero_point: 0,
        ..Default::default()
    };
    let mut spec = OpSpec::new(Opcode::Quant(QuantOp::Dequantize))
        .operands([v])
        .result(float.clone());
    match &per_channel {
        // `s_a · b_scale[j]`: 12 significant bits each, exact in `f32`
        Some((axes, _, scales)) => {
            let col_at = m.op(c.col).operands[1..].to_vec();
            let at: Vec<ValueId> = col_at
                .iter()
                .zip(axes)
                .filter(|&(_, &a)| a)
                .map(|(&v, _)| v)
                .collect();
            let s = emit(
                m,
                OpSpec::new(Opcode::Pj(PjOp::Read))
                    .operands(std::iter::once(*scales).chain(at))
                    .result(float.clone()),
            );
            let sa = emit(
                m,
                OpSpec::new(Opcode::Arith(ArithOp::Constant))
                    .attr("value", Attr::Float(pa.scale))
                    .result(float.clone()),
            );
            let s = emit(
                m,
                OpSpec::new(Opcode::Arith(ArithOp::Mul))
                    .operands([sa, s])
                    .result(float.clone()),
            );
            spec.operands.push(s);
            spec = spec.attr("zero_point", Attr::Int(0));
        }
        None => {
            for (key, a) in back.attrs() {
                spec = spec.attr(key, a);
            }
        }
    }
    let deq = emit(m, spec);
    m.insert_all_before(c.reduce, &ops);
    let old = m.result(c.reduce);
    m.replace_uses_in_block(sblock, old, deq);
    m.erase_op(c.reduce);
    (pa, pb, per_channel.is_some())
}
