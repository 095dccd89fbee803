//! The `bf16` scheme of the `quantize` pass (`quant::storage`): an `f32`
//! stage the schedule stores to memory is stored as bfloat16 bits in
//! `u16`. The packing rounds to nearest even exactly as an independent
//! rounding does, in the interpreter, in its `arith` expansion and in every
//! backend; a stored stage keeps every result within the proven bound of
//! the exact one, the bound within the tolerance; what stays float says
//! why.

mod common;

use common::*;
use pj_compiler::Module;
use pj_compiler::dialects::arith::Scalar;
use pj_compiler::interp::{self, Tensor, Value};
use pj_compiler::ir::ScalarType;
use pj_compiler::passes::PassManager;
use pj_compiler::passes::quantize::Quantize;
use pj_compiler::quant::plan::{Mode, Request};

/// The nearest bfloat16 to `x` by comparing the two candidates in `f64`
/// (ties to the even one): an oracle independent of the bit trick.
fn nearest_bf16(x: f32) -> u16 {
    let b = x.to_bits();
    if x.is_nan() {
        return ((b >> 16) as u16 & 0x8000) | 0x7fc0;
    }
    let down = (b >> 16) as u16;
    let up = down.wrapping_add(1);
    let value = |q: u16| f32::from_bits((q as u32) << 16) as f64;
    let (dd, du) = ((value(down) - x as f64).abs(), (value(up) - x as f64).abs());
    // past the largest finite value, `up` is infinity: the overflow
    // threshold is half a step beyond, where `du` (inf) loses unless tied
    let top = f32::from_bits(0x7f7f_0000) as f64 + 2f64.powi(119);
    if (x as f64).abs() >= top {
        return (down & 0x8000) | 0x7f80;
    }
    if dd < du || (dd == du && down.is_multiple_of(2)) {
        down
    } else {
        up
    }
}

const PACK: &str = r#"pj.kernel() {arg_names = ["x", "q"], result_names = ["p", "u"], result_types = ["u16[N]", "f32[N]"], sym_name = "k"} {
^bb0(%x: f32[N], %q: u16[N]):
  %N = pj.size() {name = "N"} : i64
  %z = arith.constant() {value = 0} : i64
  %p = pj.stage(%z, %N) {name = "p", result = 0} : u16[?] {
  ^bb0(%i: i64):
    %v = pj.read(%x, %i) : f32
    %b = quant.pack_bf16(%v) : u16
    pj.yield(%b)
  }
  %u = pj.stage(%z, %N) {name = "u", result = 1} : f32[?] {
  ^bb0(%j: i64):
    %w = pj.read(%q, %j) : u16
    %f = quant.unpack_bf16(%w) : f32
    pj.yield(%f)
  }
  pj.return(%p, %u)
}"#;

#[test]
fn packing_rounds_to_nearest_even_everywhere_alike() {
    let m = pj_compiler::ir::parse::parse_module(PACK).unwrap();
    pj_compiler::ir::verify::verify(&m).unwrap();
    let mut xs: Vec<f32> = vec![
        0.0,
        -0.0,
        1.0,
        f32::from_bits(0x3f80_8000),
        f32::from_bits(0x3f81_8000),
        f32::from_bits(0x3f80_7fff),
        f32::MAX,
        -f32::MAX,
        f32::from_bits(0x7f7f_7fff),
        f32::from_bits(0x7f7f_8000),
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        -f32::NAN,
        f32::from_bits(0x7f80_0001),
        f32::from_bits(0xff80_0001),
        f32::from_bits(0x7fff_ffff),
        f32::from_bits(1),
        f32::from_bits(0x0000_8000),
        f32::from_bits(0x0001_8000),
        f32::MIN_POSITIVE,
    ];
    let mut rng = Rng(11);
    xs.extend((0..4000).map(|_| f32::from_bits(rng.next() as u32)));
    let qs: Vec<u16> = (0..xs.len()).map(|i| (i * 40503 % 65536) as u16).collect();
    let n = xs.len();
    let args = [
        Value::Array(Tensor::new(
            ScalarType::F32,
            vec![n],
            xs.iter().map(|&x| Scalar::F32(x)).collect(),
        )),
        Value::Array(Tensor::new(
            ScalarType::U16,
            vec![n],
            qs.iter().map(|&q| Scalar::U16(q)).collect(),
        )),
    ];
    let got = interp::run(&m, "k", &args).unwrap();
    for (i, &x) in xs.iter().enumerate() {
        assert_eq!(
            got[0].data[i],
            Scalar::U16(nearest_bf16(x)),
            "pack {x:e} ({:#x})",
            x.to_bits()
        );
        let Scalar::F32(u) = got[1].data[i] else {
            panic!()
        };
        assert_eq!(u.to_bits(), (qs[i] as u32) << 16, "unpack {:#x}", qs[i]);
    }
    // the arith expansion, and every backend, vectorized
    same_bits(
        &interp::run(&lowered(&m), "k", &args).unwrap(),
        &got,
        &xs,
        "lower-quant",
    );
    for code in jit_all(&m) {
        let native = code.kernel("k").unwrap().call(&args).unwrap();
        same_bits(&native, &got, &xs, code.backend().name());
    }
}

/// Asserts the same bits, naming the first input that differs.
fn same_bits(got: &[Tensor], want: &[Tensor], xs: &[f32], what: &str) {
    for (r, (g, w)) in bits(got).iter().zip(bits(want)).enumerate() {
        if let Some(i) = (0..g.data.len()).find(|&i| g.data[i] != w.data[i]) {
            panic!(
                "{what}: result {r} element {i} (x = {:#x}): {:?}, expected {:?}",
                xs[i].to_bits(),
                g.data[i],
                w.data[i]
            );
        }
    }
}

/// Tensors with floats as their bits, so NaNs compare.
fn bits(ts: &[Tensor]) -> Vec<Tensor> {
    ts.iter()
        .map(|t| {
            let elem = if t.elem == ScalarType::F32 {
                ScalarType::U32
            } else {
                t.elem
            };
            Tensor::new(
                elem,
                t.shape.clone(),
                t.data
                    .iter()
                    .map(|s| match s {
                        Scalar::F32(v) => Scalar::U32(v.to_bits()),
                        s => *s,
                    })
                    .collect(),
            )
        })
        .collect()
}

/// The kernel, and the kernel after `quantize` with `mode` for code in
/// 512-bit vectors (LLVM's on this machine class); the notes.
fn quantized(src: &str, name: &str, mode: Mode) -> (Module, Module, Vec<String>) {
    quantized_for(src, name, mode, 512)
}

fn quantized_for(
    src: &str,
    name: &str,
    mode: Mode,
    vector_bits: u32,
) -> (Module, Module, Vec<String>) {
    let mut pass = Quantize::new(Request::new(mode));
    pass.vector_bits = vector_bits;
    quantized_with(name, src, pass)
}

fn unfused() -> String {
    read(&root().join("bench/unfused.pj"))
}

#[test]
fn a_stage_stored_as_bf16_keeps_the_results_within_the_proven_bound() {
    let src = unfused();
    // auto takes binary16 where the ranges keep the values below 65504
    for (mode, chosen) in [
        (Mode::Bf16, "bf16 — stored as bfloat16"),
        (Mode::F16, "f16 — stored as binary16"),
        (Mode::Auto, "f16 — stored as binary16"),
    ] {
        let (_, q, notes) = quantized(&src, "unfused", mode);
        let text = notes.join("\n");
        assert!(
            text.contains(&format!("stage `t` of `unfused`: {chosen}")),
            "{text}"
        );
        let bound = proven_bound(&text);
        assert!(bound <= 0.1, "{text}");
        let mut wide = compile("unfused", &src.replace("f32", "f64"));
        PassManager::default_pipeline().run(&mut wide).unwrap();
        let codes = jit_all(&q);
        for seed in 0..6 {
            let mut rng = Rng(seed);
            let n = 37;
            let data: Vec<Scalar> = (0..n * n)
                .map(|_| Scalar::F32(rng.uniform(0.0, 4.0)))
                .collect();
            let args = [Value::Array(Tensor::new(
                ScalarType::F32,
                vec![n, n],
                data.clone(),
            ))];
            let got = interp::run(&q, "unfused", &args).unwrap();
            let exact = interp::run(
                &wide,
                "unfused",
                &[Value::Array(Tensor::new(
                    ScalarType::F64,
                    vec![n, n],
                    data.iter().map(|s| Scalar::F64(s.as_f64())).collect(),
                ))],
            )
            .unwrap();
            let err = got[0]
                .data
                .iter()
                .zip(&exact[0].data)
                .map(|(g, e)| (g.as_f64() - e.as_f64()).abs())
                .fold(0.0, f64::max);
            assert!(
                err <= bound,
                "seed {seed}: error {err} beyond the bound {bound}"
            );
            for code in &codes {
                let native = code.kernel("unfused").unwrap().call(&args).unwrap();
                assert_eq!(native, got, "seed {seed}: {}", code.backend());
            }
        }
    }
}

#[test]
fn what_is_not_stored_or_cannot_meet_the_tolerance_stays_float_and_says_why() {
    // blur's `bx` is a sliding window: never stored whole
    let blur = read(&root().join("examples/blur.pj"));
    let (float, q, notes) = quantized(&blur, "blur", Mode::Bf16);
    let print = |m: &Module| pj_compiler::ir::print::print_module(m, Default::default());
    assert_eq!(print(&q), print(&float));
    assert!(
        notes
            .join("\n")
            .contains("stage `bx` of `blur`: float — fused into its readers"),
        "{notes:?}"
    );
    // auto, for 128-bit vectors (Cranelift), where packing costs more
    // than it saves; bf16 asked for stores it anyway
    let (float, q, notes) = quantized_for(&unfused(), "unfused", Mode::Auto, 128);
    assert_eq!(print(&q), print(&float));
    assert!(
        notes
            .join("\n")
            .contains("auto keeps it in f32: packing 16-bit floats in 128-bit vectors"),
        "{notes:?}"
    );
    let (float, q, _) = quantized_for(&unfused(), "unfused", Mode::Bf16, 128);
    assert_ne!(print(&q), print(&float));
    // a tolerance tighter than bf16's bound
    let tight = unfused().replace("abs = 0.1", "abs = 0.01");
    let (float, q, notes) = quantized(&tight, "unfused", Mode::Bf16);
    assert_eq!(print(&q), print(&float));
    let text = notes.join("\n");
    assert!(
        text.contains("bf16 would be within") && text.contains("beyond its tolerance (abs 0.01"),
        "{text}"
    );
    // values past binary16's 65504: f16 cannot hold them, auto stores bf16
    let wide = unfused()
        .replace("@range(0.0, 4.0)", "@range(0.0, 1.0e12)")
        .replace("abs = 0.1", "abs = 1.0e11");
    let (float, q, notes) = quantized(&wide, "unfused", Mode::F16);
    assert_eq!(print(&q), print(&float));
    assert!(
        notes.join("\n").contains("stage `t` of `unfused`: float"),
        "{notes:?}"
    );
    let (_, _, notes) = quantized(&wide, "unfused", Mode::Auto);
    assert!(
        notes
            .join("\n")
            .contains("stage `t` of `unfused`: bf16 — stored as bfloat16"),
        "{notes:?}"
    );
}

#[test]
fn the_stored_stage_is_packed_and_every_read_unpacked() {
    let (_, q, notes) = quantized(&unfused(), "unfused", Mode::Bf16);
    insta::assert_snapshot!(
        "unfused_bf16",
        format!(
            "{}\n{}",
            notes.join("\n"),
            pj_compiler::ir::print::print_module(&q, Default::default())
        )
    );
}
