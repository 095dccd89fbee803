//! `--quantize=auto` decides by the energy model: among the schemes whose
//! proven bound meets the tolerance, a stage keeps one only where the
//! kernel lowered with it is estimated to cost less energy in no more
//! time. First the mechanism, with pricers that say what they are told;
//! then the real model on fixed profiles (the host's figures vary).

mod common;

use common::*;
use pj_compiler::Module;
use pj_compiler::codegen::Backend;
use pj_compiler::passes::quantize::Quantize;
use pj_compiler::quant::plan::{Mode, Request};
use pj_compiler::quant::price::{Price, Pricer};
use pj_compiler::target::profile::Profile;
use std::collections::HashMap;
use std::sync::Arc;

const MATMUL: &str = "
kernel matmul(a: f32[M, K] @range(-1.0, 1.0), b: f32[K, N] @range(-1.0, 1.0))
    -> c: f32[M, N] @tolerance(abs = 50.0) {
    c[i, j] = sum(k) a[i, k] * b[k, j];
}";

const CONV: &str = "
kernel conv2d(img: f32[H, W] @boundary(zero) @range(0.0, 1.0), filt: f32[R, S] @range(-1.0, 1.0))
    -> out: f32[H, W] @tolerance(abs = 0.5) {
    out[y, x] = sum(r, s) img[y + r - R / 2, x + s - S / 2] * filt[r, s];
}";

/// Whether `m` holds 8-bit quantized stages (`quant.quantize` ops).
fn has_int8(m: &Module) -> bool {
    m.all_ops().into_iter().any(|o| {
        matches!(
            m.op(o).opcode,
            pj_compiler::dialects::Opcode::Quant(pj_compiler::dialects::QuantOp::Quantize)
        )
    })
}

/// A pricer that prices a module with `quant` ops at `narrow`, any other
/// at `wide`.
fn fixed(narrow: Price, wide: Price) -> Pricer {
    Arc::new(move |m: &Module, _kernel: &str| Ok(if has_int8(m) { narrow } else { wide }))
}

fn auto_with(src: &str, pricer: Option<Pricer>) -> (Module, Vec<String>) {
    let mut pass = Quantize::new(Request::new(Mode::Auto));
    pass.dot_products = pj_compiler::target::DotProducts::VNNI;
    pass.pricer = pricer;
    let (_, q, notes) = quantized_with("matmul", src, pass);
    (q, notes)
}

const CHEAP: Price = Price {
    picojoules: 1.0e6,
    seconds: 1.0e-3,
};
const DEAR: Price = Price {
    picojoules: 4.0e6,
    seconds: 4.0e-3,
};

#[test]
fn auto_keeps_int8_where_the_model_prices_it_lower() {
    let (q, notes) = auto_with(MATMUL, Some(fixed(CHEAP, DEAR)));
    let text = notes.join("\n");
    assert!(has_int8(&q), "{text}");
    assert!(text.contains("stage `c` of `matmul`: int8"), "{text}");
    assert!(
        text.contains("int8 estimated 1.00 µJ, 1.000 ms against 4.00 µJ, 4.000 ms without it"),
        "{text}"
    );
}

#[test]
fn auto_keeps_float_where_the_model_prices_int8_higher() {
    let (q, notes) = auto_with(MATMUL, Some(fixed(DEAR, CHEAP)));
    let text = notes.join("\n");
    assert!(!has_int8(&q), "{text}");
    assert!(
        text.contains("stage `c` of `matmul`: float — auto keeps it in f32: int8 estimated 4.00 µJ, 4.000 ms against 1.00 µJ, 1.000 ms without it"),
        "{text}"
    );
    assert!(
        text.contains("--quantize=int8 quantizes it anyway"),
        "{text}"
    );
    // the request by name is not second-guessed
    let mut pass = Quantize::new(Request::new(Mode::Int8));
    pass.dot_products = pj_compiler::target::DotProducts::VNNI;
    pass.pricer = Some(fixed(DEAR, CHEAP));
    let (_, q, _) = quantized_with("matmul", MATMUL, pass);
    assert!(has_int8(&q));
}

#[test]
fn less_energy_in_more_time_is_not_cheaper() {
    let frugal_but_slow = Price {
        picojoules: 1.0e6,
        seconds: 8.0e-3,
    };
    let (q, notes) = auto_with(MATMUL, Some(fixed(frugal_but_slow, DEAR)));
    assert!(!has_int8(&q), "{notes:?}");
    assert!(
        notes.join("\n").contains("auto keeps it in f32"),
        "{notes:?}"
    );
}

#[test]
fn a_model_that_cannot_price_leaves_auto_to_its_rule() {
    let failing: Pricer = Arc::new(|_: &Module, _: &str| Err("no estimate".to_string()));
    // matrix product on VNNI: the rule quantizes it
    let (q, _) = auto_with(MATMUL, Some(failing.clone()));
    assert!(has_int8(&q));
    // a convolution's products are no matrix product's: the rule keeps f32
    let (q, notes) = auto_with(CONV, Some(failing));
    assert!(!has_int8(&q), "{notes:?}");
    assert!(
        notes.join("\n").contains("measured slower than f32"),
        "{notes:?}"
    );
}

/// The notes and the quantized module `auto` makes of `src` for
/// `backend` on the fixed `x86_64-avx512` profile at `sizes`.
fn auto_on_profile(
    src: &str,
    kernel: &str,
    sizes: &[(&str, i64)],
    backend: Backend,
) -> (Module, String) {
    let mut m = compile(kernel, src);
    pj_compiler::passes::PassManager::default_pipeline()
        .run(&mut m)
        .unwrap();
    let p = Profile::builtin("x86_64-avx512").unwrap();
    let sizes: HashMap<String, i64> = sizes.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    let (q, notes) =
        pj_compiler::target::report::quantize(&m, Request::new(Mode::Auto), &sizes, &p, backend)
            .unwrap();
    (q, notes.join("\n"))
}

#[test]
fn the_model_keeps_a_convolution_in_f32_on_every_backend() {
    // 8-bit products widened one by one to i32 cost more than f32's: the
    // model says so (and measurement agrees: docs/quantization.md)
    for backend in backends() {
        let (q, text) = auto_on_profile(
            CONV,
            "conv2d",
            &[("H", 2048), ("W", 2048), ("R", 5), ("S", 5)],
            backend,
        );
        assert!(!has_int8(&q), "{backend:?}: {text}");
        assert!(
            text.contains("stage `out` of `conv2d`: float — auto keeps it in f32: int8 estimated"),
            "{backend:?}: {text}"
        );
    }
}

#[test]
fn the_model_chooses_exact_16_bit_integers_for_the_8_bit_blur() {
    let src = read(&root().join("examples/blur_u8.pj"));
    for backend in backends() {
        let (_, text) = auto_on_profile(&src, "blur_u8", &[("H", 4096), ("W", 4096)], backend);
        assert!(
            text.contains("stage `out` of `blur_u8`: int16 — exact integer arithmetic"),
            "{backend:?}: {text}"
        );
        assert!(text.contains("int16 estimated"), "{backend:?}: {text}");
    }
}

#[test]
fn an_unbounded_error_is_no_proof_for_a_lossy_scheme() {
    // `magnitude = sqrt(gx² + gy²)` amplifies any error near 0 without
    // bound: storing `gx` in 16 bits proves nothing about it, even though
    // the float code's own bound is unbounded too
    let src = read(&root().join("examples/edges.pj"));
    let mut m = compile("edges", &src);
    pj_compiler::passes::PassManager::default_pipeline()
        .run(&mut m)
        .unwrap();
    for mode in [Mode::Bf16, Mode::F16] {
        let request = Request {
            mode,
            tolerance: Some(pj_compiler::dialects::pj::Tolerance {
                abs: 50.0,
                rel: 0.0,
            }),
        };
        let (q, notes) = pj_compiler::target::report::quantize(
            &m,
            request,
            &HashMap::new(),
            &Profile::builtin("x86_64-avx512").unwrap(),
            Backend::Cranelift,
        )
        .unwrap();
        let text = notes.join("\n");
        assert!(
            text.contains("stage `gx` of `edges`: float — not quantized:")
                && text.contains(
                    "within inf of the exact result on `magnitude`, beyond its tolerance"
                ),
            "{mode:?}: {text}"
        );
        assert_eq!(
            pj_compiler::ir::print::print_module(&q, Default::default()),
            pj_compiler::ir::print::print_module(&m, Default::default()),
            "{mode:?}: nothing changes"
        );
    }
}
