//! Quantization (`passes/quantize.rs`): a stage is quantized only where
//! the bound the error analysis proves meets the tolerance; on random
//! inputs within the declared ranges, the measured error against the
//! exact result never exceeds that bound; every backend computes the
//! quantized kernel's bits exactly as the interpreter runs the `quant`
//! dialect; a tolerance that cannot be met is refused with the reason.

mod common;

use common::*;
use pj_compiler::Module;
use pj_compiler::dialects::arith::Scalar;
use pj_compiler::interp::{self, Tensor, Value};
use pj_compiler::ir::ScalarType;
use pj_compiler::passes::PassManager;
use pj_compiler::passes::quantize::Quantize;
use pj_compiler::quant::plan::{Mode, Request};
use pj_compiler::quant::ranges::{Inputs, Sample};
use std::collections::HashMap;

const DENSE: &str = "
kernel dense(x: f32[M, K] @range(-1.0, 1.0), w: f32[K, N] @range(-0.5, 0.5))
    -> y: f32[M, N] @tolerance(abs = 0.5) {
    y[i, j] = sum(k) x[i, k] * w[k, j];
}";

/// A convolution over the valid region: the image's reads are computed
/// indices (no `vector.dot4`), the filter's need a zero point's sums.
const CONV: &str = "
kernel conv(img: f32[H, W] @range(0.0, 1.0), filt: f32[R, S] @range(-2.0, 1.0))
    -> out: f32[H - R + 1, W - S + 1] @tolerance(abs = 0.5) {
    out[y, x] = sum(r, s) img[y + r, x + s] * filt[r, s];
}";

/// The example's convolution with a zero boundary and a signed image:
/// the quantized image covers what the reads reach (its halo reads the
/// zero boundary, quantized to the zero point), and the zero point's sums
/// run over the filter.
const CONV_ZERO: &str = "
kernel conv2d(img: f32[H, W] @boundary(zero) @range(-1.0, 1.0), filt: f32[R, S] @range(-1.0, 1.0))
    -> out: f32[H, W] @tolerance(abs = 1.0) {
    out[y, x] = sum(r, s) img[y + r - R / 2, x + s - S / 2] * filt[r, s];
}";

/// A contraction followed by float work, and an exact integer result.
const EPILOGUE: &str = "
kernel scores(q: f32[T, D] @range(-2.0, 2.0), k: f32[D, S] @range(-2.0, 2.0), bias: f32[S] @range(0.0, 1.0))
    -> (s: f32[T, S] @tolerance(abs = 2.0), n: i64[T]) {
    dot[t, j] = sum(d) q[t, d] * k[d, j];
    s[t, j] = max(dot[t, j] + bias[j], 0.0);
    n[t] = sum(j in 0..S) i64(1);
}";

/// Two products in a row (a two-layer perceptron without its
/// nonlinearity): the first's sum is requantized for the second in
/// integers.
const MLP: &str = "
kernel mlp(x: f32[B, D] @range(-1.0, 1.0), w1: f32[D, H] @range(-0.1, 0.1), w2: f32[H, O] @range(-0.1, 0.1))
    -> y: f32[B, O] @tolerance(abs = 4.0)
    where D <= 64, H <= 64 {
    h[b, j] = sum(d) x[b, d] * w1[d, j];
    y[b, o] = sum(j) h[b, j] * w2[j, o];
}";

fn quantized(src: &str, name: &str) -> (Module, Module, Vec<String>) {
    // the pass alone: its `quant` ops are what the tests look at
    // for a target with VNNI: the notes do not depend on this machine
    let mut pass = Quantize::new(Request::new(Mode::Int8));
    pass.dot_products = pj_compiler::target::DotProducts::VNNI;
    quantized_with(name, src, pass)
}

fn quant_ops(m: &Module) -> usize {
    m.all_ops()
        .into_iter()
        .filter(|&o| matches!(m.op(o).opcode, pj_compiler::dialects::Opcode::Quant(_)))
        .count()
}

/// Random arguments for `kernel` within its declared ranges (an integer
/// array without one: its type's), arrays of the given sizes.
fn random_args(
    m: &Module,
    kernel: &str,
    sizes: &HashMap<&str, usize>,
    rng: &mut Rng,
) -> Vec<Value> {
    let k = m.kernel(kernel).unwrap();
    pj_compiler::dialects::signature(m, k)
        .params
        .iter()
        .enumerate()
        .map(|(i, (_, ty))| {
            let (lo, hi) = pj_compiler::dialects::pj::param_range(m, k, i).unwrap_or((-1.0, 1.0));
            let shape: Vec<usize> = match ty {
                pj_compiler::ir::Type::Tensor { dims, .. } => dims
                    .iter()
                    .map(|d| match d {
                        pj_compiler::ir::Dim::Sym(s) => sizes[s.as_str()],
                        pj_compiler::ir::Dim::Static(n) => *n as usize,
                        pj_compiler::ir::Dim::Dynamic => 1,
                    })
                    .collect(),
                _ => vec![],
            };
            let n: usize = shape.iter().product();
            let elem = ty.elem();
            let data = match elem.int_range() {
                Some((tlo, thi)) => {
                    let (lo, hi) = pj_compiler::dialects::pj::param_range(m, k, i)
                        .map_or((tlo, thi), |(lo, hi)| (lo as i64, hi as i64));
                    (0..n)
                        .map(|_| Scalar::from_i64(rng.integer(lo, hi), elem))
                        .collect()
                }
                None => (0..n).map(|_| Scalar::F32(rng.uniform(lo, hi))).collect(),
            };
            Value::Array(Tensor::new(
                if elem.int_range().is_some() {
                    elem
                } else {
                    ScalarType::F32
                },
                shape,
                data,
            ))
        })
        .collect()
}

/// The exact results: the float kernel with every `f32` made `f64`
/// (whose rounding is 2^29 times finer), run on the same values. (For
/// `blur_u8`, exactly the exact ones: its value before the cast, `(S +
/// 4.5) / 9` for an integer `S`, is never nearer an integer than 1/18.)
fn exact(src: &str, name: &str, args: &[Value]) -> Vec<Tensor> {
    let mut m = compile(name, &src.replace("f32", "f64"));
    PassManager::default_pipeline().run(&mut m).unwrap();
    let wide: Vec<Value> = args
        .iter()
        .map(|a| match a {
            Value::Array(t) if t.elem == ScalarType::F32 => Value::Array(Tensor::new(
                ScalarType::F64,
                t.shape.clone(),
                t.data.iter().map(|s| Scalar::F64(s.as_f64())).collect(),
            )),
            v => v.clone(),
        })
        .collect();
    interp::run(&m, name, &wide).unwrap()
}

/// The bound the analysis proves at the sizes `args` bind.
fn proven(m: &Module, name: &str, args: &[Value]) -> Vec<f64> {
    let k = m.kernel(name).unwrap();
    let sample = Sample::of(m, k, args);
    let params: Vec<Option<(f64, f64)>> = (0..args.len())
        .map(|i| pj_compiler::dialects::pj::param_range(m, k, i))
        .collect();
    let (ranges, _) = pj_compiler::quant::ranges::analyze(
        m,
        k,
        &Inputs {
            params: &params,
            sizes: &sample.sizes,
            limits: pj_compiler::quant::ranges::no_sizes(),
        },
    );
    pj_compiler::quant::error::analyze(m, k, &ranges).1
}

/// Over seeds: quantized results within the proven bound of the exact
/// ones, the bound within the tolerance, every backend bit for bit the
/// interpreter's quantized results.
fn check_property(src: &str, name: &str, sizes: &[(&str, usize)], tolerance: &[Option<f64>]) {
    let (_, q, notes) = quantized(src, name);
    assert!(quant_ops(&q) > 0, "{name} was not quantized: {notes:?}");
    let lowered_q = lowered(&q);
    let codes = jit_all(&q);
    let sizes: HashMap<&str, usize> = sizes.iter().copied().collect();
    for seed in 0..12 {
        let mut rng = Rng(seed);
        let args = random_args(&q, name, &sizes, &mut rng);
        let got = interp::run(&q, name, &args).unwrap();
        let want = exact(src, name, &args);
        let bounds = proven(&q, name, &args);
        for (i, ((g, w), b)) in got.iter().zip(&want).zip(&bounds).enumerate() {
            if let Some(t) = tolerance[i] {
                assert!(*b <= t, "{name} result {i}: bound {b} beyond tolerance {t}");
            }
            for (x, y) in g.data.iter().zip(&w.data) {
                let err = (x.as_f64() - y.as_f64()).abs();
                assert!(
                    err <= *b,
                    "{name} seed {seed} result {i}: error {err} > proven {b}"
                );
            }
        }
        // the lowered `quant` ops give the same bits, in every backend
        assert_eq!(
            interp::run(&lowered_q, name, &args).unwrap(),
            got,
            "{name}: lower-quant"
        );
        for code in &codes {
            let native = code.kernel(name).unwrap().call(&args).unwrap();
            assert_eq!(native, got, "{name} seed {seed}: {}", code.backend());
        }
    }
}

#[test]
fn a_matrix_product_in_int8_stays_within_its_proven_bound() {
    check_property(
        DENSE,
        "dense",
        &[("M", 9), ("K", 37), ("N", 21)],
        &[Some(0.5)],
    );
}

#[test]
fn a_convolution_in_int8_stays_within_its_proven_bound() {
    check_property(
        CONV,
        "conv",
        &[("H", 11), ("W", 13), ("R", 3), ("S", 5)],
        &[Some(0.5)],
    );
}

#[test]
fn a_convolution_reading_past_the_edges_in_int8_stays_within_its_proven_bound() {
    check_property(
        CONV_ZERO,
        "conv2d",
        &[("H", 9), ("W", 12), ("R", 3), ("S", 5)],
        &[Some(1.0)],
    );
}

#[test]
fn float_work_after_the_product_and_exact_results_keep_their_bounds() {
    check_property(
        EPILOGUE,
        "scores",
        &[("T", 5), ("D", 16), ("S", 7)],
        &[Some(2.0), Some(0.0)],
    );
}

#[test]
fn chained_products_requantize_in_integers_within_the_proven_bound() {
    let (_, q, notes) = quantized(MLP, "mlp");
    let text = notes.join("\n");
    assert!(
        text.contains("stage `h_u8` of `mlp`: int8 — requantized from `h_acc` in integers"),
        "{text}"
    );
    let ops: Vec<String> = q
        .all_ops()
        .into_iter()
        .map(|o| q.op(o).opcode.to_string())
        .collect();
    assert!(ops.iter().any(|o| o == "quant.requantize"), "{ops:?}");
    check_property(
        MLP,
        "mlp",
        &[("B", 5), ("D", 64), ("H", 37), ("O", 7)],
        &[Some(4.0)],
    );
}

#[test]
fn the_quantized_ir_is_fixed_point_with_the_scales_in_it() {
    let (_, q, notes) = quantized(DENSE, "dense");
    insta::assert_snapshot!(
        "dense_int8",
        format!(
            "{}\n{}",
            notes.join("\n"),
            pj_compiler::ir::print::print_module(&q, Default::default())
        )
    );
}

#[test]
fn a_tolerance_that_cannot_be_met_is_refused_with_the_bound() {
    let tight = DENSE.replace("abs = 0.5", "abs = 0.0001");
    let (float, q, notes) = quantized(&tight, "dense");
    assert_eq!(quant_ops(&q), 0);
    assert_eq!(
        pj_compiler::ir::print::print_module(&q, Default::default()),
        pj_compiler::ir::print::print_module(&float, Default::default())
    );
    let note = notes.join("\n");
    assert!(
        note.contains("stage `y`") && note.contains("not quantized"),
        "{note}"
    );
    assert!(note.contains("beyond its tolerance (abs 0.0001"), "{note}");
    // and without any tolerance, it says to declare one
    let none = DENSE.replace(" @tolerance(abs = 0.5)", "");
    let (_, q, notes) = quantized(&none, "dense");
    assert_eq!(quant_ops(&q), 0);
    assert!(notes.join("\n").contains("has no tolerance"), "{notes:?}");
    // and without ranges there is nothing to quantize
    let unranged = DENSE.replace(" @range(-1.0, 1.0)", "");
    let (_, q, notes) = quantized(&unranged, "dense");
    assert_eq!(quant_ops(&q), 0);
    assert!(notes.join("\n").contains("declare @range"), "{notes:?}");
}

#[test]
fn a_bound_that_grows_with_a_size_is_checked_at_each_call() {
    let (_, q, notes) = quantized(DENSE, "dense");
    let note = notes.join("\n");
    let limit: i64 = note
        .split("K <= ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no limit on K in {note}"));
    assert!(limit >= 37, "{note}");
    let mut rng = Rng(1);
    let sizes: HashMap<&str, usize> = [("M", 2), ("K", limit as usize + 1), ("N", 3)].into();
    let args = random_args(&q, "dense", &sizes, &mut rng);
    let err = interp::run(&q, "dense", &args).unwrap_err().to_string();
    assert!(
        err.contains("size `K`") && err.contains(&format!("more than {limit}")),
        "{err}"
    );
    for code in jit_all(&q) {
        let err = code
            .kernel("dense")
            .unwrap()
            .call(&args)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("more than {limit}")),
            "{}: {err}",
            code.backend()
        );
    }
    // a `where` clause within the limit needs no check of its own
    let bounded = DENSE.replace(
        "-> y: f32[M, N] @tolerance(abs = 0.5)",
        "-> y: f32[M, N] @tolerance(abs = 0.5) where K <= 40",
    );
    let (_, q, notes) = quantized(&bounded, "dense");
    assert!(
        quant_ops(&q) > 0 && !notes.join("\n").contains("checked at each call"),
        "{notes:?}"
    );
}

/// Every example, given its data's ranges on its float inputs and a
/// tolerance on its float results: each stage the pass quantizes keeps,
/// on random inputs within those ranges, every result within the proven
/// bound of the exact one (and the bound within the tolerance), with the
/// same bits in every backend; a kernel it leaves alone says why.
#[test]
fn every_example_given_ranges_is_quantized_within_its_bound_or_says_why() {
    use pj_compiler::ir::Attr;
    let mut quantized_examples = Vec::new();
    for &name in EXAMPLES {
        let src = read(&root().join(format!("examples/{name}.pj")));
        let mut m = compile(name, &src);
        PassManager::default_pipeline().run(&mut m).unwrap();
        let k = m.kernel(name).unwrap();
        let args = example_args(&m, name);
        let sample = Sample::of(&m, k, &args);
        let sig = pj_compiler::dialects::signature(&m, k);
        // the data's ranges become promises, and every float result gets a tolerance
        let mut arg_attrs: Vec<Attr> = match m.op(k).attr("arg_attrs") {
            Some(Attr::Array(a)) => a.clone(),
            _ => vec![Attr::Dict(vec![]); sig.params.len()],
        };
        for (i, (_, ty)) in sig.params.iter().enumerate() {
            if let (true, Some((lo, hi)), Attr::Dict(d)) =
                (ty.elem().is_float(), sample.observed[i], &mut arg_attrs[i])
            {
                d.push((
                    "range".into(),
                    Attr::Array(vec![Attr::Float(lo), Attr::Float(hi)]),
                ));
            }
        }
        let floats: Vec<bool> = interp::run(&m, name, &args)
            .unwrap()
            .iter()
            .map(|t| t.elem.is_float())
            .collect();
        let result_attrs: Vec<Attr> = floats
            .iter()
            .map(|&f| {
                let t = pj_compiler::dialects::pj::Tolerance {
                    abs: 10.0,
                    rel: 0.0,
                };
                Attr::Dict(if f {
                    vec![("tolerance".into(), t.to_attr())]
                } else {
                    vec![]
                })
            })
            .collect();
        m.op_mut(k).set_attr("arg_attrs", Attr::Array(arg_attrs));
        m.op_mut(k)
            .set_attr("result_attrs", Attr::Array(result_attrs));
        let mut q = m.clone();
        // int8 wherever it applies (auto leaves a convolution in float),
        // then int16
        let mut pass = Quantize::new(Request::new(Mode::Int8));
        pass.dot_products = pj_compiler::target::DotProducts::VNNI;
        let notes: Vec<String> = PassManager::new()
            .with_pass(Box::new(pass))
            .with_pass(Box::new(Quantize::new(Request::new(Mode::Int16))))
            .run(&mut q)
            .unwrap()
            .into_iter()
            .flat_map(|r| r.notes)
            .collect();
        assert!(!notes.is_empty(), "{name}: the pass says nothing");
        let print = |m: &Module| pj_compiler::ir::print::print_module(m, Default::default());
        if print(&q) == print(&m) {
            continue;
        }
        quantized_examples.push(name);
        let sizes: HashMap<&str, usize> = sample
            .sizes
            .iter()
            .map(|(s, &n)| (s.as_str(), n as usize))
            .collect();
        let codes = jit_all(&q);
        for seed in 0..6 {
            let mut rng = Rng(seed + 100);
            let args = random_args(&q, name, &sizes, &mut rng);
            let got = interp::run(&q, name, &args).unwrap();
            let want = exact(&src, name, &args);
            let bounds = proven(&q, name, &args);
            for (i, ((g, w), b)) in got.iter().zip(&want).zip(&bounds).enumerate() {
                if floats[i] {
                    assert!(
                        *b <= 10.0,
                        "{name} result {i}: bound {b} beyond the tolerance"
                    );
                }
                for (x, y) in g.data.iter().zip(&w.data) {
                    let err = (x.as_f64() - y.as_f64()).abs();
                    assert!(err <= *b, "{name} seed {seed} result {i}: {err} > {b}");
                }
            }
            for code in &codes {
                let native = code.kernel(name).unwrap().call(&args).unwrap();
                assert_eq!(native, got, "{name} seed {seed}: {}", code.backend());
            }
        }
    }
    // the two examples that sum products of float arrays, and the 8-bit
    // blur computed in float (exactly in integers: error bound 0)
    quantized_examples.sort_unstable();
    assert_eq!(quantized_examples, ["blur_u8", "conv2d", "matmul"]);
}

/// Per-channel scales: each column of the weights gets the step its own
/// largest magnitude needs, computed at run time (`w_max`, `w_scale`), at
/// most the declared range's — so a column 100 times smaller than the
/// range keeps its precision, where one scale for the whole tensor would
/// leave it a few steps. The proof is the declared range's either way.
#[test]
fn columns_of_different_magnitudes_get_scales_of_their_own() {
    let (_, q, notes) = quantized(DENSE, "dense");
    let text = notes.join("\n");
    assert!(
        text.contains("one per channel of `w`, its largest magnitude over 127 computed at run time, at most 3.9387e-3"),
        "{text}"
    );
    let codes = jit_all(&q);
    let sizes: HashMap<&str, usize> = [("M", 7), ("K", 40), ("N", 9)].into();
    for seed in 0..8 {
        let mut rng = Rng(seed);
        let mut args = random_args(&q, "dense", &sizes, &mut rng);
        // column j scaled by 10^(-2j/8): from the whole range to 1/100 of it
        let n = sizes["N"];
        if let Value::Array(w) = &mut args[1] {
            for (i, v) in w.data.iter_mut().enumerate() {
                let j = i % n;
                *v = Scalar::F32((v.as_f64() * 10f64.powf(-2.0 * j as f64 / 8.0)) as f32);
            }
        }
        let got = interp::run(&q, "dense", &args).unwrap();
        let want = exact(DENSE, "dense", &args);
        let bound = proven(&q, "dense", &args)[0];
        let (Value::Array(x), Value::Array(w)) = (&args[0], &args[1]) else {
            unreachable!()
        };
        let k = sizes["K"];
        // x's step and zero point as the note gives them
        let sx = 7.8468e-3;
        for (e, (g, t)) in got[0].data.iter().zip(&want[0].data).enumerate() {
            let (i, j) = (e / n, e % n);
            let err = (g.as_f64() - t.as_f64()).abs();
            assert!(
                err <= bound,
                "seed {seed}: error {err} beyond the proof {bound}"
            );
            // the bound column j has with a step of its own: each product's
            // error within |x| s_j / 2 + |w| s_x / 2 + s_x s_j / 4
            let wmax = (0..k)
                .map(|r| w.data[r * n + j].as_f64().abs())
                .fold(0.0, f64::max);
            let sj = wmax / 127.0 * (1.0 + 2f64.powi(-11));
            let own: f64 = (0..k)
                .map(|r| {
                    let xv = x.data[i * k + r].as_f64().abs();
                    let wv = w.data[r * n + j].as_f64().abs();
                    xv * sj / 2.0 + wv * sx / 2.0 + sx * sj / 4.0
                })
                .sum();
            assert!(
                err <= own * 1.001 + 1e-6,
                "seed {seed} y[{i}, {j}]: error {err} beyond its column's own bound {own}"
            );
        }
        for code in &codes {
            let native = code.kernel("dense").unwrap().call(&args).unwrap();
            assert_eq!(native, got, "seed {seed}: {}", code.backend());
        }
    }
}

/// The bound of a quantization by scales computed at run time rests on
/// the scale covering the value quantized (`quant::facts::within_its_scale`):
/// a scale from a minimum, from the values rather than their magnitudes,
/// or over part of the column proves nothing.
#[test]
fn a_scale_that_may_not_cover_its_values_proves_nothing() {
    let (_, q, _) = quantized(DENSE, "dense");
    let args = random_args(
        &q,
        "dense",
        &[("M", 3), ("K", 5), ("N", 4)].into(),
        &mut Rng(1),
    );
    assert!(proven(&q, "dense", &args)[0].is_finite());
    let find = |m: &Module, opcode: &str| -> Vec<pj_compiler::ir::OpId> {
        m.all_ops()
            .into_iter()
            .filter(|&o| m.op(o).opcode.to_string() == opcode)
            .collect()
    };
    // the reduction of `w_max`: the only `max`
    let max_reduce = |m: &Module| {
        find(m, "pj.reduce")
            .into_iter()
            .find(|&o| m.op(o).attr("kind").and_then(|a| a.as_str()) == Some("max"))
            .unwrap()
    };
    let mut minimum = q.clone();
    let r = max_reduce(&minimum);
    minimum
        .op_mut(r)
        .set_attr("kind", pj_compiler::ir::Attr::Str("min".into()));
    let mut signed = q.clone();
    let abs = find(&signed, "math.abs")[0];
    signed.op_mut(abs).opcode =
        pj_compiler::dialects::Opcode::Math(pj_compiler::dialects::MathOp::Floor);
    let mut part = q.clone();
    let r = max_reduce(&part);
    // over the first M rows of the K
    let m_size = find(&part, "pj.size")
        .into_iter()
        .find(|&o| part.op(o).attr("name").and_then(|a| a.as_str()) == Some("M"))
        .unwrap();
    part.op_mut(r).operands[1] = part.result(m_size);
    for (what, m) in [("min", minimum), ("floor", signed), ("part", part)] {
        pj_compiler::ir::verify::verify(&m).unwrap();
        let b = proven(&m, "dense", &args)[0];
        assert!(b.is_infinite(), "{what}: proven {b}");
    }
}

/// A two-layer perceptron with its ReLU: the first product's stage is
/// float work on the sum (`max(sum(d) ..., 0.0)`), quantized all the same;
/// the second product's operand is requantized from the first's sum with
/// the ReLU on the integers (`max(q, z)`: quantizing is monotone).
const MLP_RELU: &str = "
kernel mlp(x: f32[B, D] @range(-1.0, 1.0), w1: f32[D, H] @range(-0.1, 0.1), w2: f32[H, O] @range(-0.1, 0.1))
    -> y: f32[B, O] @tolerance(abs = 4.0) where D <= 64, H <= 64 {
    h[b, j] = max(sum(d) x[b, d] * w1[d, j], 0.0);
    y[b, o] = sum(j) h[b, j] * w2[j, o];
}";

#[test]
fn a_relu_between_two_products_is_requantized_on_the_integers() {
    let (_, q, notes) = quantized(MLP_RELU, "mlp");
    let text = notes.join("\n");
    assert!(text.contains("stage `h` of `mlp`: int8"), "{text}");
    assert!(
        text.contains("requantized from `h_acc` in integers")
            && text.contains("then max(·, 0) on the integers (0 is 0 there)"),
        "{text}\n{}",
        pj_compiler::ir::print::print_module(&q, Default::default())
    );
    check_property(
        MLP_RELU,
        "mlp",
        &[("B", 5), ("D", 64), ("H", 37), ("O", 7)],
        &[Some(4.0)],
    );
    // a clamp on both sides (ReLU6's shape): both on the integers
    let clamped = MLP_RELU.replace(
        "max(sum(d) x[b, d] * w1[d, j], 0.0)",
        "min(max(sum(d) x[b, d] * w1[d, j], 0.0), 0.5)",
    );
    let (_, _, notes) = quantized(&clamped, "mlp");
    let text = notes.join("\n");
    assert!(
        text.contains(
            "then max(·, 0) on the integers (0 is 0 there), then min(·, 0.5) on the integers"
        ),
        "{text}"
    );
    check_property(
        &clamped,
        "mlp",
        &[("B", 3), ("D", 50), ("H", 20), ("O", 9)],
        &[Some(4.0)],
    );
}
