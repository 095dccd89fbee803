//! The first touch of fresh memory: a buffer larger than the allocator
//! keeps is mapped anew on every call, and each of its pages faults and is
//! zeroed by the kernel the first time it is written. On this project's
//! VM that costs more than streaming the page from DRAM: storing a 64 MB
//! intermediate whole made blur 2.6× slower than the model's estimate.

use std::time::Instant;

/// A page, as the kernel maps them.
const PAGE: usize = 4096;

/// Nanoseconds per 4 KiB page to allocate 64 MiB afresh and write one
/// byte of each page, best of five.
pub fn first_touch_ns() -> f64 {
    let bytes = 64 << 20;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        // zeroed: mapped lazily, every page faults on its first write
        let mut v = vec![0u8; bytes];
        for i in (0..bytes).step_by(PAGE) {
            v[i] = 1;
        }
        std::hint::black_box(&mut v);
        drop(v);
        best = best.min(t.elapsed().as_secs_f64());
    }
    best * 1e9 / (bytes / PAGE) as f64
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_page_costs_something() {
        let ns = super::first_touch_ns();
        assert!(ns > 1.0 && ns < 1e6, "{ns} ns");
    }
}
