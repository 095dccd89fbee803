//! What `cargo bench` measures: each example kernel compiled by picojoule
//! (Cranelift JIT, the default pipeline, `--fast-math=reassoc` as `pj run`;
//! and, where it changes the code, `--fast-math=contract`, fused
//! multiply-adds as the C compiler makes by default) and the same kernel as
//! a plain C
//! loop (`c/baselines.c`, `cc -O3 -march=native`), on the same inputs;
//! for the memory-bound kernels, hand-vectorized 128-bit C too
//! (`c/vec128.c`: what a 128-bit code generator could reach); and
//! this machine's roofline: memory bandwidth (a STREAM-like triad) and the
//! peak rate of vector FMAs (`c/probes.c`).

use pj_compiler::codegen::driver::{self, FastMath, Options};
use pj_compiler::codegen::{Backend, JitModule, KernelArg};
use pj_compiler::dialects::arith::Scalar;
use pj_runtime::{Buffer, ElemType};
use std::path::PathBuf;
use std::time::Instant;

#[allow(missing_docs)]
unsafe extern "C" {
    fn c_blur(input: *const f32, out: *mut f32, bx: *mut f32, h: i64, w: i64);
    fn c_unsharp(img: *const f32, amount: f32, out: *mut f32, bx: *mut f32, h: i64, w: i64);
    fn c_chain(x: *const f32, a: f32, b: f32, y: *mut f32, n: i64);
    fn c_softmax(x: *const f32, y: *mut f32, n: i64, c: i64);
    fn c_layernorm(
        x: *const f32,
        gamma: *const f32,
        beta: *const f32,
        eps: f32,
        y: *mut f32,
        n: i64,
        c: i64,
    );
    fn c_matmul(a: *const f32, b: *const f32, c: *mut f32, m: i64, k: i64, n: i64);
    fn c_qdot(a: *const u8, b: *const i8, c: *mut i32, m: i64, k: i64, n: i64);
    fn c_conv2d(img: *const f32, filt: *const f32, out: *mut f32, h: i64, w: i64, r: i64, s: i64);
    fn c128_chain(x: *const f32, a: f32, b: f32, y: *mut f32, n: i64);
    fn c128_blur(input: *const f32, out: *mut f32, ring: *mut f32, h: i64, w: i64);
    fn c128_unsharp(img: *const f32, amount: f32, out: *mut f32, ring: *mut f32, h: i64, w: i64);
    fn c128_softmax(x: *const f32, y: *mut f32, n: i64, c: i64);
    fn pj_probe_fma128(iters: i64, seed: *const f32, sink: *mut f32) -> f64;
    fn pj_probe_fma512(iters: i64, seed: *const f32, sink: *mut f32) -> f64;
}

/// The kernels `cargo bench` covers, with issue 4's sizes.
pub const KERNELS: &[(&str, &[(&str, i64)])] = &[
    ("chain", &[("N", 1 << 24)]),
    ("blur", &[("H", 4096), ("W", 4096)]),
    ("unsharp", &[("H", 4096), ("W", 4096)]),
    ("softmax", &[("N", 4096), ("C", 1024)]),
    ("layernorm", &[("N", 4096), ("C", 1024)]),
    ("conv2d", &[("H", 2048), ("W", 2048), ("R", 5), ("S", 5)]),
    ("matmul", &[("M", 1024), ("K", 1024), ("N", 1024)]),
    ("qdot", &[("M", 1024), ("K", 1024), ("N", 1024)]),
];

/// One kernel ready to run both ways on the same inputs.
pub struct Case {
    /// The example's name (= its kernel's name).
    pub name: String,
    code: JitModule,
    /// Compiled with `--fast-math=contract`, when that fuses anything here.
    contracted: Option<JitModule>,
    inputs: Vec<Option<Buffer>>,
    scalars: Vec<Scalar>,
    outputs: Vec<Buffer>,
    /// The C baseline's output and scratch (a stage it materializes).
    c_out: Buffer,
    c_scratch: Buffer,
    sizes: Vec<(String, i64)>,
}

fn size(sizes: &[(String, i64)], n: &str) -> i64 {
    sizes.iter().find(|(k, _)| k == n).map_or(0, |s| s.1)
}

/// xorshift64*: the same inputs every run.
fn random_bytes(elem: ElemType, n: usize, seed: &mut u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * elem.size());
    for _ in 0..n {
        *seed ^= *seed >> 12;
        *seed ^= *seed << 25;
        *seed ^= *seed >> 27;
        let r = seed.wrapping_mul(0x2545_F491_4F6C_DD1D);
        match elem {
            ElemType::F32 => {
                out.extend(((r >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0).to_le_bytes())
            }
            ElemType::U8 | ElemType::I8 => out.push((r % 64) as u8),
            other => out.extend(&vec![0u8; other.size()]),
        }
    }
    out
}

fn args<'a>(inputs: &'a mut [Option<Buffer>], scalars: &[Scalar]) -> Vec<KernelArg<'a>> {
    inputs
        .iter_mut()
        .zip(scalars)
        .map(|(b, s)| match b {
            Some(b) => KernelArg::Array(b),
            None => KernelArg::Scalar(*s),
        })
        .collect()
}

fn data<T>(b: &mut Buffer) -> *mut T {
    // SAFETY: the descriptor of an owned buffer.
    unsafe { (*b.descriptor()).data.cast() }
}

impl Case {
    /// Compiles `examples/<name>.pj` with Cranelift and makes its inputs
    /// at `sizes`.
    pub fn new(name: &str, sizes: &[(&str, i64)]) -> Case {
        Case::with_backend(name, sizes, Backend::Cranelift)
    }

    /// [`Case::new`] with `backend`.
    pub fn with_backend(name: &str, sizes: &[(&str, i64)], backend: Backend) -> Case {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let path = root.join(format!("examples/{name}.pj"));
        let src = std::fs::read_to_string(&path).expect("example exists");
        let m = pj_compiler::compile_source(name, &src)
            .unwrap_or_else(|_| panic!("{name} compiles"))
            .module;
        // as `pj run` compiles by default: optimized, float reductions
        // reassociated; and with multiply-adds fused too
        let options = |fast_math| Options {
            fast_math,
            ..Options::with_backend(backend)
        };
        let lower = |o: &Options| {
            driver::lower(&m, o, driver::Stage::Checked)
                .expect("lowers")
                .0
        };
        let code = driver::jit(
            &lower(&options(FastMath::Reassoc)),
            &options(FastMath::Reassoc),
        )
        .expect("JIT");
        let contract = options(FastMath::Contract);
        let contracted = Some(lower(&contract))
            .filter(|l| {
                let text = pj_compiler::ir::print::print_module(l, Default::default());
                contract.contract()
                    && (text.contains("arith.fma(") || text.contains("fused = true"))
            })
            .map(|l| driver::jit(&l, &contract).expect("JIT"));
        let sizes: Vec<(String, i64)> = sizes.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let kernel = code.kernel(name).expect("compiled");
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut inputs = Vec::new();
        let mut scalars = Vec::new();
        for (pname, ty) in &kernel.params {
            match ty {
                pj_compiler::ir::Type::Buffer { elem, dims } => {
                    let shape: Vec<usize> = dims
                        .iter()
                        .map(|d| match d {
                            pj_compiler::ir::Dim::Sym(s) => size(&sizes, s) as usize,
                            pj_compiler::ir::Dim::Static(n) => *n as usize,
                            pj_compiler::ir::Dim::Dynamic => 1,
                        })
                        .collect();
                    let et = pj_compiler::codegen::abi::elem_code(*elem);
                    let n: usize = shape.iter().product();
                    let bytes = random_bytes(et, n, &mut seed);
                    inputs.push(Some(
                        Buffer::from_bytes(et, &shape, &bytes).expect("buffer"),
                    ));
                    scalars.push(Scalar::Bool(false));
                }
                pj_compiler::ir::Type::Scalar(t) => {
                    inputs.push(None);
                    let v = if pname == "eps" { 1e-5 } else { 0.5 };
                    scalars.push(Scalar::F64(v).cast(*t));
                }
                _ => unreachable!("kernel parameters are arrays or scalars"),
            }
        }
        let mut case = Case {
            name: name.to_string(),
            code,
            contracted,
            inputs,
            scalars,
            outputs: Vec::new(),
            c_out: Buffer::zeros(ElemType::F32, &[0]).expect("empty"),
            c_scratch: Buffer::zeros(ElemType::F32, &[0]).expect("empty"),
            sizes,
        };
        let shapes = {
            let kernel = case.code.kernel(name).expect("compiled");
            let mut a = args(&mut case.inputs, &case.scalars);
            kernel.result_shapes(&mut a).expect("shapes")
        };
        let kernel = case.code.kernel(name).expect("compiled");
        for ((_, elem, _), shape) in kernel.results.iter().zip(&shapes) {
            let et = pj_compiler::codegen::abi::elem_code(*elem);
            case.outputs.push(Buffer::zeros(et, shape).expect("output"));
        }
        let out_elem = case.outputs[0].elem();
        case.c_out = Buffer::zeros(out_elem, &shapes[0]).expect("C output");
        let (h, w) = (size(&case.sizes, "H"), size(&case.sizes, "W"));
        case.c_scratch =
            Buffer::zeros(ElemType::F32, &[((h + 2) * w).max(0) as usize]).expect("scratch");
        case
    }

    /// One call of the picojoule kernel.
    pub fn run_pj(&mut self) {
        let kernel = self.code.kernel(&self.name).expect("compiled");
        let mut a = args(&mut self.inputs, &self.scalars);
        let mut refs: Vec<&mut Buffer> = self.outputs.iter_mut().collect();
        kernel.call_buffers(&mut a, &mut refs).expect("kernel runs");
    }

    /// Whether `--fast-math=contract` fuses multiply-adds in this kernel
    /// (on this machine).
    pub fn has_contracted(&self) -> bool {
        self.contracted.is_some()
    }

    /// One call of the kernel compiled with `--fast-math=contract` (the
    /// default one where that fuses nothing).
    pub fn run_pj_contracted(&mut self) {
        let code = self.contracted.as_ref().unwrap_or(&self.code);
        let kernel = code.kernel(&self.name).expect("compiled");
        let mut a = args(&mut self.inputs, &self.scalars);
        let mut refs: Vec<&mut Buffer> = self.outputs.iter_mut().collect();
        kernel.call_buffers(&mut a, &mut refs).expect("kernel runs");
    }

    /// The `i`-th parameter as an `f32` scalar (0.5 when it is not one).
    fn scalar_f32(&self, i: usize) -> f32 {
        match self.scalars[i] {
            Scalar::F32(v) => v,
            _ => 0.5,
        }
    }

    /// One call of the plain C loop.
    pub fn run_c(&mut self) {
        let s = |n: &str| size(&self.sizes, n);
        let f = Self::scalar_f32;
        let out = data::<f32>(&mut self.c_out);
        let scratch = data::<f32>(&mut self.c_scratch);
        // the i-th parameter's data, null when it is a scalar or absent
        let mut input = |i: usize| -> *mut u8 {
            match self.inputs.get_mut(i) {
                Some(Some(b)) => data(b),
                _ => std::ptr::null_mut(),
            }
        };
        let (i0, i1, i2) = (input(0), input(1), input(2));
        // SAFETY: every buffer was allocated with the extents the C code
        // walks (the kernel's own shapes, and (H + 2) x W of scratch).
        unsafe {
            match self.name.as_str() {
                "blur" => c_blur(i0.cast(), out, scratch, s("H"), s("W")),
                "unsharp" => c_unsharp(i0.cast(), f(self, 1), out, scratch, s("H"), s("W")),
                "chain" => c_chain(i0.cast(), f(self, 1), f(self, 2), out, s("N")),
                "softmax" => c_softmax(i0.cast(), out, s("N"), s("C")),
                "layernorm" => c_layernorm(
                    i0.cast(),
                    i1.cast(),
                    i2.cast(),
                    f(self, 3),
                    out,
                    s("N"),
                    s("C"),
                ),
                "matmul" => c_matmul(i0.cast(), i1.cast(), out, s("M"), s("K"), s("N")),
                "qdot" => c_qdot(i0, i1.cast(), out.cast(), s("M"), s("K"), s("N")),
                "conv2d" => c_conv2d(i0.cast(), i1.cast(), out, s("H"), s("W"), s("R"), s("S")),
                other => panic!("no C baseline for {other}"),
            }
        }
    }

    /// Whether this kernel has a hand-vectorized 128-bit C version.
    pub fn has_c128(&self) -> bool {
        matches!(self.name.as_str(), "chain" | "blur" | "unsharp" | "softmax")
    }

    /// One call of the hand-vectorized 128-bit C version (into the same
    /// output as [`Case::run_c`]); nothing where there is none.
    pub fn run_c128(&mut self) {
        let s = |n: &str| size(&self.sizes, n);
        let f = Self::scalar_f32;
        let out = data::<f32>(&mut self.c_out);
        let scratch = data::<f32>(&mut self.c_scratch);
        let i0: *mut f32 = match self.inputs.first_mut() {
            Some(Some(b)) => data(b),
            _ => return,
        };
        // SAFETY: as in `run_c`; the ring needs 3 x W of the (H + 2) x W
        // scratch.
        unsafe {
            match self.name.as_str() {
                "chain" => c128_chain(i0, f(self, 1), f(self, 2), out, s("N")),
                "blur" if s("H") >= 1 => c128_blur(i0, out, scratch, s("H"), s("W")),
                "unsharp" if s("H") >= 1 => {
                    c128_unsharp(i0, f(self, 1), out, scratch, s("H"), s("W"))
                }
                "softmax" => c128_softmax(i0, out, s("N"), s("C")),
                _ => {}
            }
        }
    }

    /// Runs every implementation once and panics unless each agrees with
    /// picojoule within `tol` (relative to the largest magnitude): the C
    /// loop, the 128-bit C where there is one, and picojoule compiled with
    /// `--fast-math=contract` (against the last C result).
    pub fn assert_implementations_agree(&mut self, tol: f64) {
        let check = |c: &Self, what: &str| {
            let d = c.max_rel_diff();
            assert!(d < tol, "{}: {what} differ by {d}", c.name);
        };
        self.run_pj();
        self.run_c();
        check(self, "picojoule and C");
        if self.has_c128() {
            self.run_c128();
            check(self, "picojoule and 128-bit C");
        }
        self.run_pj_contracted();
        check(self, "contracted picojoule and C");
    }

    /// The largest difference between picojoule's result and C's, relative
    /// to the largest magnitude: both must compute the same thing.
    pub fn max_rel_diff(&self) -> f64 {
        let a = self.outputs[0].bytes();
        let b = self.c_out.bytes();
        let vals = |x: &[u8]| -> Vec<f64> {
            match self.c_out.elem() {
                ElemType::I32 => x
                    .chunks(4)
                    .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as f64)
                    .collect(),
                _ => x
                    .chunks(4)
                    .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
                    .collect(),
            }
        };
        let (a, b) = (vals(a), vals(b));
        let scale = b.iter().fold(1e-30f64, |m, v| m.max(v.abs()));
        a.iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs() / scale)
            .fold(0.0, f64::max)
    }

    /// Bytes every implementation must move: inputs read once, results written once.
    pub fn compulsory_bytes(&self) -> f64 {
        let ins: usize = self.inputs.iter().flatten().map(|b| b.bytes().len()).sum();
        let outs: usize = self.outputs.iter().map(|b| b.bytes().len()).sum();
        (ins + outs) as f64
    }

    /// Arithmetic operations of the kernel's algorithm (a multiply-add is 2).
    pub fn flops(&self) -> f64 {
        let s = |n: &str| size(&self.sizes, n) as f64;
        match self.name.as_str() {
            "matmul" | "qdot" => 2.0 * s("M") * s("K") * s("N"),
            "conv2d" => 2.0 * s("H") * s("W") * s("R") * s("S"),
            "blur" | "unsharp" => 8.0 * s("H") * s("W"),
            "chain" => 5.0 * s("N"),
            "softmax" | "layernorm" => 6.0 * s("N") * s("C"),
            _ => 0.0,
        }
    }
}

/// Peak vector FMA rate of one core, GFLOP/s, at 128 bits (what the
/// Cranelift backend can use) or at 512 bits; best of five.
pub fn fma_peak_gflops(wide: bool) -> f64 {
    let mut sink = 0.0f32;
    let iters = 20_000_000;
    let mut best = 0.0f64;
    for _ in 0..5 {
        let t = Instant::now();
        let seed = std::hint::black_box([0.999_999f32, 1e-7, 1e-3]);
        // SAFETY: plain C arithmetic reading three floats, writing one.
        let flops = unsafe {
            if wide {
                pj_probe_fma512(iters, seed.as_ptr(), &mut sink)
            } else {
                pj_probe_fma128(iters, seed.as_ptr(), &mut sink)
            }
        };
        best = best.max(flops / t.elapsed().as_secs_f64() / 1e9);
    }
    std::hint::black_box(sink);
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The baselines compute what the kernels compute, at small sizes.
    #[test]
    fn c_baselines_agree_with_picojoule() {
        for (name, _) in KERNELS {
            let sizes: Vec<(&str, i64)> = match *name {
                "chain" => vec![("N", 1000)],
                "softmax" | "layernorm" => vec![("N", 17), ("C", 33)],
                "conv2d" => vec![("H", 19), ("W", 23), ("R", 5), ("S", 3)],
                "matmul" | "qdot" => vec![("M", 9), ("K", 31), ("N", 20)],
                _ => vec![("H", 19), ("W", 23)],
            };
            Case::new(name, &sizes).assert_implementations_agree(1e-5);
        }
    }

    #[test]
    fn the_fma_probe_measures_something() {
        assert!(fma_peak_gflops(false) > 0.1);
    }
}
