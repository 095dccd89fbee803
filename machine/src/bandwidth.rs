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

/// Working sets from 24 KiB to `largest` bytes: doubling, with a point
/// between each pair (×√2) from 4 MiB on — where the last level ends, and
/// with it what a repeated call finds there; a doubling's step would place
/// that edge only within a factor of two.
fn sizes(largest: u64) -> Vec<u64> {
    let mut sizes = Vec::new();
    let mut s: u64 = 24 << 10;
    while s < largest {
        sizes.push(s);
        let between = (s as f64 * std::f64::consts::SQRT_2) as u64;
        if s >= 4 << 20 && between < largest {
            sizes.push(between & !4095);
        }
        s *= 2;
    }
    sizes.push(largest);
    sizes
}

/// One core's bandwidth at every working set of [`sizes`].
pub fn curve(largest: u64, progress: &mut dyn FnMut(&str)) -> Vec<Point> {
    measure_sizes(sizes(largest), 1, progress)
}

/// The bandwidth `cores` threads reach together, each streaming its own
/// share of the working set, at the working sets of [`sizes`] from `from`
/// bytes on: the last level all of them have between them (a VM's, or a
/// cache partitioned between cores, grows with the cores; a shared one
/// does not) and, at the largest, DRAM's bandwidth with every core busy.
pub fn all_cores_curve(
    from: u64,
    largest: u64,
    cores: usize,
    progress: &mut dyn FnMut(&str),
) -> Vec<Point> {
    let sizes = sizes(largest).into_iter().filter(|&b| b >= from).collect();
    measure_sizes(sizes, cores.max(1), progress)
}

fn measure_sizes(sizes: Vec<u64>, threads: usize, progress: &mut dyn FnMut(&str)) -> Vec<Point> {
    let mut out = Vec::new();
    for bytes in sizes {
        progress(&format!("  {} KiB", bytes >> 10));
        out.push(Point {
            bytes,
            gbs: triad_gbs(bytes, threads),
        });
    }
    out
}

/// The triad's best bandwidth over three arrays of `bytes` in all, split
/// evenly between `threads` threads that start each sample together.
fn triad_gbs(bytes: u64, threads: usize) -> f64 {
    let n = (bytes / 12 / threads as u64).max(16) as usize;
    let total = 12 * n as u64 * threads as u64;
    let sweeps = (BYTES_PER_SAMPLE / total).max(1);
    let samples = if bytes > 256 << 20 { 3 } else { 5 };
    let start = std::sync::Barrier::new(threads);
    let times: Vec<f64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let start = &start;
                s.spawn(move || {
                    let b = vec![1.0f32; n];
                    let c = vec![2.0f32; n];
                    let mut a = vec![0.0f32; n];
                    // the first sweep faults the pages in and warms the caches
                    triad(&mut a, &b, &c);
                    // best of several: other tenants of a VM come and go
                    let mut best = f64::INFINITY;
                    for _ in 0..samples {
                        start.wait();
                        let t = Instant::now();
                        for _ in 0..sweeps {
                            triad(&mut a, &b, &c);
                            std::hint::black_box(&mut a);
                        }
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
    (TRAFFIC_PER_ELEMENT * n as u64 * threads as u64 * sweeps) as f64 / slowest / 1e9
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
        let two = all_cores_curve(96 << 10, 1 << 20, 2, &mut |_| {});
        let sizes: Vec<u64> = two.iter().map(|p| p.bytes).collect();
        assert_eq!(sizes, [96 << 10, 192 << 10, 384 << 10, 768 << 10, 1 << 20]);
        assert!(two.iter().all(|p| p.gbs > 0.0 && p.gbs.is_finite()));
    }

    #[test]
    fn sizes_fall_between_the_doublings_from_four_mib_on() {
        let m = 1u64 << 20;
        let s = sizes(20 * m);
        assert_eq!(
            s.iter()
                .filter(|&&b| b >= 2 * m)
                .copied()
                .collect::<Vec<_>>(),
            [3 * m, 6 * m, 8_896_512, 12 * m, 17_793_024, 20 * m]
        );
    }
}
