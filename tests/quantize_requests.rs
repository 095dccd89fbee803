//! Per-stage requests in the schedule block (`s.quantize(int8 | int16 |
//! bf16 | float)`): honoured without `--quantize`, over it where both are
//! given, and checked like every directive.

mod common;

use common::*;
use pj_compiler::Module;
use pj_compiler::passes::quantize::Quantize;
use pj_compiler::quant::plan::{Mode, Request};

const DIRECTED: &str = "
kernel directed(x: f32[N, N] @boundary(clamp) @range(0.0, 4.0), img: u8[N, N] @boundary(clamp),
                a: f32[N, K] @range(-1.0, 1.0), w: f32[K, N] @range(-1.0, 1.0))
    -> (y: f32[N, N] @tolerance(abs = 0.1), b: u8[N, N], c: f32[N, N] @tolerance(abs = 1.0)) {
    t[i, j] = sqrt(x[i, j - 1] + x[i, j] + x[i, j + 1]) * 0.5 + 1.0;
    y[i, j] = t[i, j] * t[i, j] - 0.5 * t[i, j];
    h[i, j] = (f32(img[i, j]) + f32(img[i, j + 1])) / 2.0;
    b[i, j] = u8(h[i, j] + 0.5);
    c[i, j] = sum(k) a[i, k] * w[k, j];
    schedule {
        t.compute_root();
        t.quantize(bf16);
        h.quantize(int16);
        b.quantize(int16);
    }
}";

fn run_pass(src: &str, mode: Mode) -> (Module, Module, Vec<String>) {
    let mut pass = Quantize::new(Request::new(mode));
    pass.dot_products = pj_compiler::target::DotProducts::VNNI;
    quantized_with("directed", src, pass)
}

fn stage_type(m: &Module, name: &str) -> String {
    m.all_ops()
        .into_iter()
        .find(|&o| m.op(o).attr("name").and_then(pj_compiler::ir::Attr::as_str) == Some(name))
        .map(|o| m.ty(m.result(o)).to_string())
        .unwrap_or_else(|| panic!("no stage {name}"))
}

#[test]
fn requested_stages_are_quantized_without_the_flag_and_only_they() {
    let (_, q, notes) = run_pass(DIRECTED, Mode::Off);
    let text = notes.join("\n");
    assert!(text.contains("stage `t` of `directed`: bf16"), "{text}");
    assert!(
        text.contains("stage `h` of `directed`: int16 — exact"),
        "{text}"
    );
    assert!(
        text.contains("stage `b` of `directed`: int16 — exact"),
        "{text}"
    );
    assert_eq!(stage_type(&q, "t"), "u16[?, ?]");
    assert_eq!(stage_type(&q, "h"), "u16[?, ?]");
    // `c` asked for nothing: no int8 without --quantize
    assert!(!text.contains("stage `c`"), "{text}");
    assert!(
        q.all_ops().into_iter().all(|o| !matches!(
            q.op(o).opcode,
            pj_compiler::dialects::Opcode::Quant(pj_compiler::dialects::QuantOp::Quantize)
        )),
        "c was quantized"
    );
    // the requests are answered: the stages no longer carry them
    assert!(!pj_compiler::quant::plan::has_stage_requests(&q));
    // with --quantize=int8 the product goes int8 too
    let (_, _, notes) = run_pass(DIRECTED, Mode::Int8);
    assert!(
        notes.join("\n").contains("stage `c` of `directed`: int8"),
        "{notes:?}"
    );
}

#[test]
fn a_float_request_keeps_a_stage_in_float_under_auto() {
    let src = read(&root().join("examples/blur_u8.pj")).replace(
        "}\n\n// bench",
        "    schedule {\n        bx.quantize(float);\n    }\n}\n\n// bench",
    );
    let (_, q, notes) = run_pass(&src.replace("blur_u8", "directed"), Mode::Auto);
    // `bx` stays float, so `out`, which reads it, computes in float too
    assert_eq!(stage_type(&q, "bx"), "f32[?, ?]", "{notes:?}");
    let out = q
        .all_ops()
        .into_iter()
        .find(|&o| q.op(o).attr("name").and_then(pj_compiler::ir::Attr::as_str) == Some("out"))
        .unwrap();
    assert!(
        pj_compiler::quant::exact::computes_in_float(&q, out),
        "{notes:?}"
    );
    // without the request, auto makes both integers
    let (_, q, _) = run_pass(
        &read(&root().join("examples/blur_u8.pj")).replace("blur_u8", "directed"),
        Mode::Auto,
    );
    assert_eq!(stage_type(&q, "bx"), "u16[?, ?]");
}

#[test]
fn a_bad_request_is_a_diagnostic() {
    let bad = DIRECTED.replace("t.quantize(bf16)", "t.quantize(int4)");
    let Err(d) = pj_compiler::compile_source("bad.pj", &bad) else {
        panic!("int4 accepted")
    };
    let text = pj_lang::diagnostic::render_all(&d, "bad.pj", &bad);
    assert!(
        text.contains("`quantize` takes `int8`, `int16`, `f16`, `bf16` or `float`"),
        "{text}"
    );
    let twice = DIRECTED.replace(
        "h.quantize(int16);",
        "h.quantize(int16);\n        h.quantize(bf16);",
    );
    let Err(d) = pj_compiler::compile_source("twice.pj", &twice) else {
        panic!("two requests accepted")
    };
    assert!(
        pj_lang::diagnostic::render_all(&d, "twice.pj", &twice).contains("scheduled twice"),
        "{d:?}"
    );
}
