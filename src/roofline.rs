//! This machine's memory roofline: a STREAM-like triad, measured in the
//! same run as the kernels it is compared with (`pj bench --roofline`,
//! `cargo bench`).

use std::time::Instant;

/// Best-of-five STREAM triad `a = b + s * c` over 3 × 64 MiB of f64, on the
/// current thread: this machine's sustainable DRAM bandwidth, in GB/s.
pub fn triad_bandwidth() -> f64 {
    let n = 8 << 20;
    let b = vec![1.0f64; n];
    let c = vec![2.0f64; n];
    let mut a = vec![0.0f64; n];
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        for ((x, y), z) in a.iter_mut().zip(&b).zip(&c) {
            *x = y + 3.0 * z;
        }
        std::hint::black_box(&mut a);
        best = best.min(t.elapsed().as_secs_f64());
    }
    (3 * 8 * n) as f64 / best / 1e9
}
