//! Bandwidth by working-set size: STREAM's triad `a = b + s·c` (two
//! streams read, one written: the mix of a typical pipeline stage) over
//! working sets from a few KiB to well past the last-level cache. The
//! curve's plateaus are the memory levels; the caller reads them off with
//! the cache sizes the OS reports.
//!
//! Bytes are counted as the memory system moves them: the written array's
//! lines are read for ownership and written back, 16 bytes per element
//! where STREAM counts 12 — the energy model counts a store's traffic the
//! same way.

use std::time::Instant;

/// One working-set size and the bandwidth one core sustained over it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// Bytes of the three arrays together.
    pub bytes: u64,
    /// Bytes moved per second (the stored array twice), GB/s.
    pub gbs: f64,
}

/// Two reads, one write-allocate read and one write-back of four bytes.
const TRAFFIC_PER_ELEMENT: u64 = 16;

/// Bytes moved per timed repetition at least: small sets are swept many
/// times so that the timer's resolution does not matter.
const BYTES_PER_SAMPLE: u64 = 48 << 20;

/// One core's bandwidth at working sets of 24 KiB, doubling, to `largest`
/// bytes (and `largest` itself).
pub fn curve(largest: u64, progress: &mut dyn FnMut(&str)) -> Vec<Point> {
    let mut sizes = Vec::new();
    let mut s: u64 = 24 << 10;
    while s < largest {
        sizes.push(s);
        s *= 2;
    }
    sizes.push(largest);
    let mut out = Vec::new();
    for bytes in sizes {
        progress(&format!("  {} KiB", bytes >> 10));
        out.push(Point {
            bytes,
            gbs: triad_gbs(bytes),
        });
    }
    out
}

/// The triad's best bandwidth over three arrays of `bytes` in all.
fn triad_gbs(bytes: u64) -> f64 {
    let n = (bytes / 12).max(16) as usize;
    let b = vec![1.0f32; n];
    let c = vec![2.0f32; n];
    let mut a = vec![0.0f32; n];
    let sweeps = (BYTES_PER_SAMPLE / (12 * n as u64)).max(1);
    // the first sweep faults the pages in and warms the caches
    triad(&mut a, &b, &c);
    let mut best = f64::INFINITY;
    let samples = if bytes > 256 << 20 { 3 } else { 5 };
    for _ in 0..samples {
        let t = Instant::now();
        for _ in 0..sweeps {
            triad(&mut a, &b, &c);
            std::hint::black_box(&mut a);
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    (TRAFFIC_PER_ELEMENT * n as u64 * sweeps) as f64 / best / 1e9
}

/// DRAM bandwidth with `cores` threads each streaming its own share of
/// `largest` bytes at once: what a parallel kernel's threads share.
pub fn all_cores_gbs(largest: u64, cores: usize) -> f64 {
    let cores = cores.max(1);
    let n = (largest / 12 / cores as u64).max(16) as usize;
    let start = std::sync::Barrier::new(cores);
    let times: Vec<f64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..cores)
            .map(|_| {
                let start = &start;
                s.spawn(move || {
                    let b = vec![1.0f32; n];
                    let c = vec![2.0f32; n];
                    let mut a = vec![0.0f32; n];
                    triad(&mut a, &b, &c);
                    let mut best = f64::INFINITY;
                    // best of five: other tenants of a VM come and go
                    for _ in 0..5 {
                        start.wait();
                        let t = Instant::now();
                        triad(&mut a, &b, &c);
                        std::hint::black_box(&mut a);
                        best = best.min(t.elapsed().as_secs_f64());
                    }
                    best
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(f64::INFINITY))
            .collect()
    });
    // the slowest thread's time bounds what all moved together
    let slowest = times.iter().copied().fold(0.0, f64::max);
    (TRAFFIC_PER_ELEMENT * n as u64 * cores as u64) as f64 / slowest / 1e9
}

/// `a = b + 3·c`, with the widest vectors this CPU has.
fn triad(a: &mut [f32], b: &[f32], c: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the feature was just detected.
            return unsafe { triad_avx512(a, b, c) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the feature was just detected.
            return unsafe { triad_avx2(a, b, c) };
        }
    }
    triad_body(a, b, c)
}

#[inline(always)]
fn triad_body(a: &mut [f32], b: &[f32], c: &[f32]) {
    for ((x, y), z) in a.iter_mut().zip(b).zip(c) {
        *x = y + 3.0 * z;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn triad_avx512(a: &mut [f32], b: &[f32], c: &[f32]) {
    triad_body(a, b, c)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn triad_avx2(a: &mut [f32], b: &[f32], c: &[f32]) {
    triad_body(a, b, c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_triad_computes_and_the_curve_covers_every_size() {
        let (mut a, b, c) = (vec![0.0; 100], vec![1.0; 100], vec![2.0; 100]);
        triad(&mut a, &b, &c);
        assert!(a.iter().all(|&x| x == 7.0));
        let pts = curve(200 << 10, &mut |_| {});
        let sizes: Vec<u64> = pts.iter().map(|p| p.bytes).collect();
        assert_eq!(sizes, [24 << 10, 48 << 10, 96 << 10, 192 << 10, 200 << 10]);
        assert!(pts.iter().all(|p| p.gbs > 0.0 && p.gbs.is_finite()));
        assert!(all_cores_gbs(1 << 20, 2) > 0.0);
    }
}
