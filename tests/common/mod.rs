//! Helpers shared by the integration tests.
#![allow(dead_code)]

use pj_compiler::Module;
use pj_compiler::dialects::arith::Scalar;
use pj_compiler::interp::{Tensor, Value};
use pj_compiler::ir::ScalarType;
use pj_compiler::ir::print::{PrintOptions, print_module};
use pj_compiler::ir::{parse::parse_module, verify::verify};
use std::path::{Path, PathBuf};

/// Every example kernel; each is `examples/<name>.pj` with data in
/// `examples/data/<name>/`.
pub const EXAMPLES: &[&str] = &[
    "blur",
    "valid_blur",
    "matmul",
    "softmax",
    "chain",
    "qdot",
    "unsharp",
    "layernorm",
    "conv2d",
    "gelu",
    "ema",
    "histogram",
    "edges",
    "logistic",
    "blur_u8",
];

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What `pj build examples/EXAMPLE.pj ARGS -o FILE` writes to `FILE`
/// (`--emit asm`, `llvm-ir`, ...), or a panic with its stderr.
pub fn built(example: &str, args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(format!("{example}.out"));
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_pj"))
        .args(["build", &format!("examples/{example}.pj")])
        .args(args)
        .arg("-o")
        .arg(&out)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(out).unwrap()
}

/// Compiles source text or panics with the rendered diagnostics.
pub fn compile(name: &str, src: &str) -> Module {
    match pj_compiler::compile_source(name, src) {
        Ok(c) => c.module,
        Err(d) => panic!(
            "{name} does not compile:\n{}",
            pj_lang::diagnostic::render_all(&d, name, src)
        ),
    }
}

/// Prints, parses back and prints again; asserts the two texts agree and the
/// parsed module verifies. Returns the text.
pub fn assert_round_trip(m: &Module, locs: bool) -> String {
    let opts = PrintOptions { locs };
    let text = print_module(m, opts);
    let parsed =
        parse_module(&text).unwrap_or_else(|d| panic!("printed IR does not parse: {d:?}\n{text}"));
    verify(&parsed).unwrap_or_else(|e| panic!("re-parsed IR does not verify:\n{e}\n{text}"));
    assert_eq!(
        print_module(&parsed, opts),
        text,
        "print -> parse -> print changed the text"
    );
    text
}

/// Loads the example inputs in examples/data/<kernel>/ in parameter order.
pub fn example_args(m: &Module, kernel: &str) -> Vec<Value> {
    let k = m.kernel(kernel).expect("kernel exists");
    pj_compiler::dialects::signature(m, k)
        .params
        .into_iter()
        .map(|(name, ty)| {
            let path = root().join(format!("examples/data/{kernel}/{name}.npy"));
            let t =
                picojoule::npy::read(&path).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
            if ty.rank().is_some() {
                Value::Array(t)
            } else {
                Value::Scalar(t.data[0])
            }
        })
        .collect()
}

/// Asserts two tensors agree: integers and bools exactly, floats within
/// `rel` relative error (with an absolute floor of `rel` for values near 0).
pub fn assert_close(got: &Tensor, want: &Tensor, rel: f64, what: &str) {
    assert_eq!(got.elem, want.elem, "{what}: element type");
    assert_eq!(got.shape, want.shape, "{what}: shape");
    for (i, (g, w)) in got.data.iter().zip(&want.data).enumerate() {
        let ok = match (g, w) {
            (Scalar::F32(_) | Scalar::F64(_), _) => {
                let (g, w) = (g.as_f64(), w.as_f64());
                (g.is_nan() && w.is_nan()) || (g - w).abs() <= rel * w.abs().max(1.0)
            }
            _ => g == w,
        };
        assert!(ok, "{what}: element {i} is {g:?}, expected {w:?}");
    }
}

/// Reads a file under the repository root.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The pipeline that takes a kernel to loop level and cleans up after.
pub const TO_LOOPS: &str = pj_compiler::codegen::LOWERING_PIPELINE;

/// `m` lowered to loops (a copy).
pub fn lowered(m: &Module) -> Module {
    let mut l = m.clone();
    pj_compiler::passes::PassManager::parse(TO_LOOPS)
        .expect("known passes")
        .run(&mut l)
        .expect("lowering succeeds");
    l
}

/// Every native backend this build contains (`codegen::Backend::built`):
/// what differential tests loop over, so a new backend is covered on its
/// first day.
pub fn backends() -> Vec<pj_compiler::codegen::Backend> {
    pj_compiler::codegen::Backend::built()
}

/// `m` (checked, or lowered already) JIT-compiled by `backend` with strict
/// floating point: bit for bit the interpreter's arithmetic.
pub fn jit(m: &Module, backend: pj_compiler::codegen::Backend) -> pj_compiler::codegen::JitModule {
    try_jit(m, backend).unwrap_or_else(|e| panic!("{backend}: {e}"))
}

/// [`jit`], or the backend's refusal.
pub fn try_jit(
    m: &Module,
    backend: pj_compiler::codegen::Backend,
) -> Result<pj_compiler::codegen::JitModule, pj_compiler::codegen::CodegenError> {
    use pj_compiler::codegen::driver::{self, FastMath, Options};
    let options = Options {
        fast_math: FastMath::Off,
        ..Options::with_backend(backend)
    };
    driver::compile(m, &options)
}

/// [`jit`] by every built backend (each module knows its backend:
/// `JitModule::backend`, for messages).
pub fn jit_all(m: &Module) -> Vec<pj_compiler::codegen::JitModule> {
    backends().into_iter().map(|b| jit(m, b)).collect()
}

/// The backends a fuzz-style test (thousands of small cases) runs case
/// `case` through: Cranelift on every case, a backend that compiles in
/// tens of milliseconds rather than one (LLVM) on every
/// `PJ_LLVM_EVERY`-th case (default 8), so that a CI run stays within
/// minutes while every kind of case still reaches it.
pub fn backends_for_case(case: u64) -> Vec<pj_compiler::codegen::Backend> {
    use pj_compiler::codegen::Backend;
    let every: u64 = std::env::var("PJ_LLVM_EVERY")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(8);
    backends()
        .into_iter()
        // `1`, not `0`: case 0 and every tenth are random bytes in some tests
        .filter(|&b| b == Backend::Cranelift || every == 1 || case % every == 1)
        .collect()
}

/// A deterministic generator (splitmix64) for property tests over seeds.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi]`, the ends included now and then.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f32 {
        match self.next() % 64 {
            0 => lo as f32,
            1 => hi as f32,
            _ => (lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64) as f32,
        }
    }

    /// An integer uniform in `[lo, hi]`, the ends more often.
    pub fn integer(&mut self, lo: i64, hi: i64) -> i64 {
        match self.next() % 16 {
            0 => lo,
            1 => hi,
            _ => lo + (self.next() % ((hi - lo) as u64 + 1)) as i64,
        }
    }
}

/// `src` compiled and through the default pipeline, then a copy through
/// `pass` (a configured `quantize` pass) alone: both, and its notes.
pub fn quantized_with(
    name: &str,
    src: &str,
    pass: pj_compiler::passes::quantize::Quantize,
) -> (Module, Module, Vec<String>) {
    let mut float = compile(name, src);
    pj_compiler::passes::PassManager::default_pipeline()
        .run(&mut float)
        .unwrap();
    let mut q = float.clone();
    let notes = pj_compiler::passes::PassManager::new()
        .with_pass(Box::new(pass))
        .run(&mut q)
        .unwrap()
        .into_iter()
        .flat_map(|r| r.notes)
        .collect();
    (float, q, notes)
}

/// A 1-D array of 16-bit floats (`f16` or `bf16`) from their bits.
pub fn half_tensor(t: ScalarType, bits: &[u16]) -> Tensor {
    let data = bits
        .iter()
        .map(|&q| match t {
            ScalarType::F16 => Scalar::F16(q),
            _ => Scalar::Bf16(q),
        })
        .collect();
    Tensor::new(t, vec![bits.len()], data)
}

/// The first bound a `quantize` note proves (`proven within 1.2e-2 ...`).
pub fn proven_bound(notes: &str) -> f64 {
    notes
        .split("proven within ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no bound in {notes}"))
}
