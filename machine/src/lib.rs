//! Measures the machine picojoule runs on, for the host profile
//! (`pj calibrate`): the clock, the vector FMA throughput, and the
//! bandwidth one core sees at every working-set size from L1 to DRAM,
//! plus DRAM's bandwidth with every core streaming.
//!
//! The loops here are what a benchmark of the hardware must be: built with
//! full optimization even in debug builds (the workspace's `Cargo.toml`
//! sets `opt-level = 3` for this crate), vectorized with the widest vectors
//! the CPU has (runtime dispatch), and kept apart from the compiler so that
//! nothing else is slowed by it. Each figure is the best of several runs:
//! a busy machine makes them lower, never higher.

mod bandwidth;
mod clock;
mod fma;
mod pages;

pub use bandwidth::{Point, all_cores_curve, curve};
pub use clock::ghz;
pub use fma::{VectorFma, sustained_per_cycle, vector_fma};
pub use pages::first_touch_ns;

/// Everything one calibration measured.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// Cores the measurement saw (`available_parallelism`).
    pub cores: usize,
    /// Clock while running, GHz (a chain of dependent integer adds: one
    /// cycle each on every core this runs on); `None` where not measured.
    pub ghz: Option<f64>,
    /// Peak FMA throughput per vector width.
    pub fma: Vec<VectorFma>,
    /// FMA instructions per cycle compiled polynomial code sustains
    /// ([`sustained_per_cycle`]).
    pub fma_sustained_per_cycle: Option<f64>,
    /// One core's bandwidth per working-set size.
    pub curve: Vec<Point>,
    /// Every core's bandwidth together, each streaming its own share, from
    /// the working set of twice every core's L2 on.
    pub all_cores_curve: Vec<Point>,
    /// DRAM bandwidth with every core streaming its own arrays, GB/s (the
    /// last point of `all_cores_curve`).
    pub all_cores_dram_gbs: f64,
    /// Nanoseconds to touch a freshly mapped 4 KiB page the first time
    /// (the fault and the kernel zeroing it).
    pub first_touch_ns: f64,
}

/// Measures everything, reporting each step to `progress` (a few seconds
/// in all; `largest` bytes is the biggest working set, which must be well
/// past the last-level cache; the curve with every core starts at
/// `all_cores_from` bytes, past the private caches).
pub fn measure(largest: u64, all_cores_from: u64, progress: &mut dyn FnMut(&str)) -> Measurement {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    progress("clock");
    let ghz = clock::ghz();
    progress("vector FMA throughput");
    let fma = fma::vector_fma(ghz);
    let fma_sustained_per_cycle = fma::sustained_per_cycle(ghz);
    progress("bandwidth per working-set size, one core");
    let curve = bandwidth::curve(largest, progress);
    progress("bandwidth per working-set size, every core");
    let all_cores_curve = bandwidth::all_cores_curve(all_cores_from, largest, cores, progress);
    let all_cores_dram_gbs = all_cores_curve.last().map_or(0.0, |p| p.gbs);
    progress("first touch of fresh pages");
    let first_touch_ns = pages::first_touch_ns();
    Measurement {
        cores,
        ghz,
        fma,
        fma_sustained_per_cycle,
        curve,
        all_cores_curve,
        all_cores_dram_gbs,
        first_touch_ns,
    }
}
