//! Vector FMA throughput: twelve independent accumulators (more than
//! latency × ports on any core: 4 cycles × 2 ports needs 8), each updated
//! by one fused multiply-add per step, so the FMA ports are the only
//! limit. Measured at every vector width the CPU has, because some parts
//! issue fewer 512-bit FMAs per cycle than 256-bit ones.

use std::time::Instant;

/// One vector width's throughput.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VectorFma {
    /// Vector width, bits.
    pub bits: u32,
    /// Single-precision GFLOP/s of one core (an FMA is two).
    pub gflops: f64,
    /// FMA instructions per cycle (`None` without a measured clock).
    pub per_cycle: Option<f64>,
}

const ACCUMULATORS: usize = 12;
const STEPS: usize = 2_000_000;

/// Every width this CPU runs, narrowest first.
pub fn vector_fma(ghz: Option<f64>) -> Vec<VectorFma> {
    let mut out = Vec::new();
    for (bits, run) in kernels() {
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            let t = Instant::now();
            std::hint::black_box(run(STEPS));
            best = best.min(t.elapsed().as_secs_f64());
        }
        let instructions = (STEPS * ACCUMULATORS) as f64;
        let lanes = f64::from(bits / 32);
        out.push(VectorFma {
            bits,
            gflops: instructions * lanes * 2.0 / best / 1e9,
            per_cycle: ghz.map(|g| instructions / best / (g * 1e9)),
        });
    }
    out
}

type Kernel = fn(usize) -> f32;

/// `y = p(x)` elementwise.
type ArrayKernel = fn(&mut [f32], &[f32]);

#[cfg(target_arch = "x86_64")]
fn kernels() -> Vec<(u32, Kernel)> {
    let mut k: Vec<(u32, Kernel)> = Vec::new();
    if std::arch::is_x86_feature_detected!("fma") {
        k.push((128, |n| unsafe { x86::fma128(n) }));
        k.push((256, |n| unsafe { x86::fma256(n) }));
    }
    if std::arch::is_x86_feature_detected!("avx512f") {
        k.push((512, |n| unsafe { x86::fma512(n) }));
    }
    k
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::ACCUMULATORS;
    use std::arch::x86_64::*;

    // Each accumulator converges to 1 (a = a·0.5 + 0.5): no overflow, no
    // subnormals, and the compiler cannot fold the chain away.
    macro_rules! fma_loop {
        ($name:ident, $feat:literal, $ty:ty, $set1:ident, $fmadd:ident, $add:ident, $cvt:expr) => {
            #[target_feature(enable = $feat)]
            pub unsafe fn $name(steps: usize) -> f32 {
                let half = $set1(0.5);
                let mut acc: [$ty; ACCUMULATORS] = [$set1(0.0); ACCUMULATORS];
                for _ in 0..steps {
                    for a in acc.iter_mut() {
                        *a = $fmadd(*a, half, half);
                    }
                }
                let mut s = acc[0];
                for a in &acc[1..] {
                    s = $add(s, *a);
                }
                $cvt(s)
            }
        };
    }
    fma_loop!(
        fma128,
        "fma",
        __m128,
        _mm_set1_ps,
        _mm_fmadd_ps,
        _mm_add_ps,
        _mm_cvtss_f32
    );
    fma_loop!(
        fma256,
        "fma,avx",
        __m256,
        _mm256_set1_ps,
        _mm256_fmadd_ps,
        _mm256_add_ps,
        |v| _mm256_cvtss_f32(v)
    );
    fma_loop!(
        fma512,
        "avx512f",
        __m512,
        _mm512_set1_ps,
        _mm512_fmadd_ps,
        _mm512_add_ps,
        |v| _mm512_cvtss_f32(v)
    );
}

#[cfg(target_arch = "aarch64")]
fn kernels() -> Vec<(u32, Kernel)> {
    vec![(128, neon_fma as Kernel)]
}

#[cfg(target_arch = "aarch64")]
fn neon_fma(steps: usize) -> f32 {
    use std::arch::aarch64::*;
    // SAFETY: NEON is part of every aarch64 target.
    unsafe {
        let half = vdupq_n_f32(0.5);
        let mut acc = [vdupq_n_f32(0.0); ACCUMULATORS];
        for _ in 0..steps {
            for a in acc.iter_mut() {
                *a = vfmaq_f32(half, *a, half);
            }
        }
        let mut s = acc[0];
        for a in &acc[1..] {
            s = vaddq_f32(s, *a);
        }
        vgetq_lane_f32::<0>(s)
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn kernels() -> Vec<(u32, Kernel)> {
    Vec::new()
}

/// The rate compiled code sustains: a degree-8 polynomial by Horner's
/// rule (a chain of dependent FMAs, as math functions evaluate theirs)
/// over an array that stays in L1, vectorized with the widest vectors.
/// The out-of-order core overlaps elements' chains but not perfectly:
/// this, not the peak, is what the energy model divides floating-point
/// instructions by. Returns FMA instructions per cycle (GFLOP/s without a
/// clock: `None`).
pub fn sustained_per_cycle(ghz: Option<f64>) -> Option<f64> {
    let ghz = ghz?;
    let n = 2048;
    let x: Vec<f32> = (0..n).map(|i| i as f32 / n as f32).collect();
    let mut y = vec![0.0f32; n];
    let (lanes, run) = horner_kernel();
    let sweeps = 4000;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..sweeps {
            run(&mut y, &x);
            std::hint::black_box(&mut y);
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    let instructions = (sweeps * n / lanes * (HORNER.len() - 1)) as f64;
    Some(instructions / best / (ghz * 1e9))
}

/// exp's Taylor coefficients: any values would do, these stay finite.
const HORNER: [f32; 9] = [
    2.48e-5, 1.98e-4, 1.39e-3, 8.33e-3, 4.17e-2, 0.1667, 0.5, 1.0, 1.0,
];

#[inline(always)]
fn horner_body(y: &mut [f32], x: &[f32]) {
    for (o, &v) in y.iter_mut().zip(x) {
        let mut p = HORNER[0];
        for &c in &HORNER[1..] {
            p = p.mul_add(v, c);
        }
        *o = p;
    }
}

#[cfg(target_arch = "x86_64")]
fn horner_kernel() -> (usize, ArrayKernel) {
    #[target_feature(enable = "avx512f,fma")]
    unsafe fn h512(y: &mut [f32], x: &[f32]) {
        horner_body(y, x)
    }
    #[target_feature(enable = "avx2,fma")]
    unsafe fn h256(y: &mut [f32], x: &[f32]) {
        horner_body(y, x)
    }
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: detected
        (16, |y, x| unsafe { h512(y, x) })
    } else if std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: detected (FMA3 implies AVX2 on every CPU that has it)
        (8, |y, x| unsafe { h256(y, x) })
    } else {
        // without FMA `mul_add` is a library call: counted per element
        (1, horner_body)
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn horner_kernel() -> (usize, ArrayKernel) {
    (4, horner_body)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_width_converges_and_is_timed() {
        for (bits, run) in super::kernels() {
            // 12 accumulators of bits/32 lanes, each converged to 1.0 … but
            // only lane 0 of the sum is returned: 12
            assert_eq!(run(200), 12.0, "{bits}-bit");
        }
        let mut y = vec![0.0; 3];
        super::horner_body(&mut y, &[0.0, 1.0, 0.5]);
        assert_eq!(y[0], 1.0);
        assert!((y[1] - 1.0f32.exp()).abs() < 1e-3, "{y:?}");
        let s = super::sustained_per_cycle(Some(3.0)).unwrap();
        assert!(s > 0.0 && s.is_finite(), "{s}");
        assert_eq!(super::sustained_per_cycle(None), None);
        for f in super::vector_fma(Some(3.0)) {
            assert!(f.gflops > 0.0 && f.per_cycle.unwrap() > 0.0, "{f:?}");
        }
    }
}
