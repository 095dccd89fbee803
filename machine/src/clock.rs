//! The clock: a chain of dependent integer adds retires one add per cycle
//! on every out-of-order core of the last fifteen years, so adds per
//! second is cycles per second. The adds take a register, not an
//! immediate: Golden Cove's renamer folds chains of immediate adds (20
//! "GHz" measured on a Sapphire Rapids VM) — the frequency the core actually runs at
//! (turbo included), which is what converts cycles into time.

use std::time::Instant;

/// Adds in the chain per loop iteration.
const CHAIN: u64 = 32;

/// GHz, best of five runs of ~20 ms; `None` on an architecture without
/// the measurement.
pub fn ghz() -> Option<f64> {
    let iters = 20_000_000 / CHAIN * 30;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        let x = chain(iters)?;
        let s = t.elapsed().as_secs_f64();
        std::hint::black_box(x);
        best = best.min(s);
    }
    Some((iters * CHAIN) as f64 / best / 1e9)
}

#[cfg(target_arch = "x86_64")]
fn chain(iters: u64) -> Option<u64> {
    let mut x: u64 = 0;
    let mut n = iters;
    // SAFETY: register arithmetic only; no memory, no stack.
    unsafe {
        std::arch::asm!(
            "2:",
            ".rept 32",
            "add {x}, {one}",
            ".endr",
            "sub {n}, 1",
            "jnz 2b",
            x = inout(reg) x,
            n = inout(reg) n,
            one = in(reg) 1u64,
            options(nomem, nostack),
        );
    }
    let _ = n;
    Some(x)
}

#[cfg(target_arch = "aarch64")]
fn chain(iters: u64) -> Option<u64> {
    let mut x: u64 = 0;
    let mut n = iters;
    // SAFETY: register arithmetic only; no memory, no stack.
    unsafe {
        std::arch::asm!(
            "2:",
            ".rept 32",
            "add {x}, {x}, {one}",
            ".endr",
            "subs {n}, {n}, #1",
            "b.ne 2b",
            x = inout(reg) x,
            n = inout(reg) n,
            one = in(reg) 1u64,
            options(nomem, nostack),
        );
    }
    let _ = n;
    Some(x)
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn chain(_iters: u64) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_chain_counts_every_add() {
        assert_eq!(super::chain(1000), Some(32_000));
    }

    #[test]
    fn a_clock_is_measured_on_the_supported_architectures() {
        let g = super::ghz().expect("x86_64 and aarch64 measure");
        // a plausible clock, not an exact one: a loaded machine reads lower
        assert!(g > 0.05 && g < 10.0, "{g} GHz");
    }
}
