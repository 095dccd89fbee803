//! `pj calibrate` without a file: measures this machine (clock, vector FMA
//! throughput, bandwidth from L1 to DRAM on one core and DRAM's on all)
//! and stores the result, which the host profile uses from then on — the
//! energy model's estimates and the scheduler's decisions describe this
//! machine instead of its class's constants.

use anyhow::{Result, anyhow};
use pj_compiler::target::calibration::{self, Calibration};
use pj_compiler::target::profile::{self, Profile};
use std::io::Write as _;

/// The largest working set: four times the last level the OS reports,
/// at least 256 MiB, at most 512 MiB (faulting the pages in is most of the
/// time; a VM reports its host's whole L3, 480 MiB on this project's Xeon,
/// whose effective share ends below 48 MiB) and an eighth of the memory
/// available.
fn largest_working_set() -> u64 {
    let mib = 1u64 << 20;
    let llc = profile::os_llc_bytes().unwrap_or(32 * mib);
    let mut bytes = (4 * llc).clamp(256 * mib, 512 * mib);
    if let Some(avail) = mem_available() {
        bytes = bytes.min(avail / 8).max(64 * mib);
    }
    bytes
}

fn mem_available() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = s.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The host profile for an estimate a person asked for: on a terminal,
/// the first time on this machine, measure it (a couple of seconds, said
/// on stderr, kept for next time) — a new user's first `pj energy` then
/// describes their machine. Elsewhere (a pipe, CI, tests: possibly a busy
/// machine, whose measurement would be kept) the class's constants, with
/// the hint `pj bench` prints.
pub fn host_for_estimates() -> Profile {
    use std::io::IsTerminal;
    let p = Profile::host();
    if p.is_measured()
        || !std::io::stdout().is_terminal()
        || !std::io::stderr().is_terminal()
        || std::env::var_os("PJ_NO_CALIBRATE").is_some()
    {
        return p;
    }
    eprintln!(
        "this machine has not been measured: measuring it once for the estimates (`pj calibrate` re-measures; PJ_NO_CALIBRATE=1 skips)"
    );
    match measure_and_store() {
        Ok(path) => eprintln!("kept in {}", path.display()),
        Err(e) => eprintln!("warning: {e:#}; estimating with the class's constants"),
    }
    Profile::host()
}

/// Measures this machine and keeps the result, quietly but for progress.
fn measure_and_store() -> Result<std::path::PathBuf> {
    let class = Profile::host_class();
    let m = pj_machine::measure(
        largest_working_set(),
        all_cores_from(&class),
        &mut |what: &str| {
            if !what.starts_with("  ") {
                eprint!("  {what}…");
                eprintln!();
            }
        },
    );
    let c = calibration_of(&class, &m)?;
    c.store().map_err(|e| anyhow!(e))
}

/// Where the curve with every core starts: twice their L2s together, past
/// what the cores keep privately.
fn all_cores_from(class: &Profile) -> u64 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    2 * class.cache.l2_bytes * cores
}

/// The stored form of measurement `m` on a machine of `class`.
fn calibration_of(class: &Profile, m: &pj_machine::Measurement) -> Result<Calibration> {
    let pairs = |c: &[pj_machine::Point]| c.iter().map(|p| (p.bytes, p.gbs)).collect::<Vec<_>>();
    let curve = pairs(&m.curve);
    let curve_all_cores = pairs(&m.all_cores_curve);
    let levels = calibration::levels(&curve, class.cache.l1_bytes, class.cache.l2_bytes)
        .ok_or_else(|| anyhow!("the bandwidth measurement returned nothing"))?;
    Ok(Calibration {
        identity: calibration::identity(),
        date: calibration::today(),
        cores: m.cores as u32,
        ghz: m.ghz,
        vector_fp_per_cycle: m.fma_sustained_per_cycle,
        l1_bytes: class.cache.l1_bytes,
        l2_bytes: class.cache.l2_bytes,
        llc_bytes: levels.llc_bytes,
        llc_bytes_all_cores: (m.cores > 1).then(|| {
            calibration::last_level_edge(&curve_all_cores, class.cache.l2_bytes * m.cores as u64)
        }),
        l1_gbs: levels.l1_gbs,
        l2_gbs: levels.l2_gbs,
        llc_gbs: levels.llc_gbs,
        dram_gbs: levels.dram_gbs,
        dram_all_cores_gbs: calibration::dram_of(&curve_all_cores).unwrap_or(m.all_cores_dram_gbs),
        first_touch_ns: Some(m.first_touch_ns),
        curve,
        curve_all_cores,
    })
}

/// Measures, prints what was measured beside the class's constants, and
/// stores it (`store = false`: only prints).
pub fn calibrate_machine(store: bool) -> Result<()> {
    let class = Profile::host_class();
    let largest = largest_working_set();
    eprintln!(
        "measuring this machine (a few seconds; working sets up to {} MiB; keep it otherwise idle)",
        largest >> 20
    );
    let mut step = |what: &str| {
        if what.starts_with("  ") {
            eprint!(".");
        } else {
            eprint!("\n  {what} ");
        }
        let _ = std::io::stderr().flush();
    };
    let m = pj_machine::measure(largest, all_cores_from(&class), &mut step);
    eprintln!();
    let c = calibration_of(&class, &m)?;
    let p = c.apply(&class);
    println!("{}", table(&class, &p, &m));
    if store {
        let path = c.store().map_err(|e| anyhow!(e))?;
        println!(
            "stored in {} — the host profile from now on (pj energy, explain, bench, and the scheduler)",
            path.display()
        );
    }
    Ok(())
}

fn table(class: &Profile, p: &Profile, m: &pj_machine::Measurement) -> String {
    let mib = |b: u64| format!("{:.1} MiB", b as f64 / f64::from(1 << 20));
    let gbs = |g: f64| format!("{g:.1} GB/s");
    let mut rows: Vec<(String, String, String)> = vec![
        ("cores".into(), class.cores.to_string(), p.cores.to_string()),
        (
            "clock".into(),
            format!("{:.2} GHz", class.ghz),
            format!("{:.2} GHz", p.ghz),
        ),
        (
            "FP instructions per cycle".into(),
            format!("{:.2}", class.throughput.vector_fp_per_cycle),
            format!("{:.2} sustained", p.throughput.vector_fp_per_cycle),
        ),
        (
            "L1 bandwidth".into(),
            gbs(class.bandwidth.l1_gbs),
            gbs(p.bandwidth.l1_gbs),
        ),
        (
            "L2 bandwidth".into(),
            gbs(class.bandwidth.l2_gbs),
            gbs(p.bandwidth.l2_gbs),
        ),
        (
            "last-level bandwidth".into(),
            gbs(class.bandwidth.llc_gbs),
            gbs(p.bandwidth.llc_gbs),
        ),
        (
            "last level (effective)".into(),
            mib(class.cache.llc_bytes),
            mib(p.cache.llc_bytes),
        ),
        (
            format!("last level, {} cores", p.cores),
            class
                .cache
                .llc_bytes_all_cores
                .map_or("(one core's)".into(), mib),
            p.cache
                .llc_bytes_all_cores
                .map_or("(one core's)".into(), mib),
        ),
        (
            "DRAM bandwidth, 1 core".into(),
            gbs(class.bandwidth.dram_gbs),
            gbs(p.bandwidth.dram_gbs),
        ),
        (
            format!("DRAM bandwidth, {} cores", p.cores),
            class
                .bandwidth
                .dram_all_cores_gbs
                .map_or("(not given)".into(), gbs),
            p.bandwidth
                .dram_all_cores_gbs
                .map_or("(not measured)".into(), gbs),
        ),
    ];
    rows.push((
        "first touch of a page".into(),
        class
            .first_touch_ns
            .map_or("(250 ns)".into(), |n| format!("{n:.0} ns")),
        format!("{:.0} ns", m.first_touch_ns),
    ));
    for f in &m.fma {
        rows.push((
            format!("  {}-bit FMA peak", f.bits),
            String::new(),
            match f.per_cycle {
                Some(c) => format!("{c:.2}/cycle {:.0} GFLOP/s", f.gflops),
                None => format!("{:.0} GFLOP/s", f.gflops),
            },
        ));
    }
    let mut t = format!(
        "{:<26} {:>16} {:>16}\n",
        "",
        format!(
            "{} class",
            class
                .name
                .trim_start_matches("host (")
                .trim_end_matches(')')
        ),
        "measured"
    );
    for (k, a, b) in rows {
        t += &format!("{k:<26} {a:>16} {b:>16}\n");
    }
    t += "bandwidth by working set (one core): ";
    t += &m
        .curve
        .iter()
        .map(|p| format!("{} {:.0}", size_text(p.bytes), p.gbs))
        .collect::<Vec<_>>()
        .join(", ");
    t += &format!(" GB/s\nbandwidth by working set ({} cores): ", m.cores);
    t += &m
        .all_cores_curve
        .iter()
        .map(|p| format!("{} {:.0}", size_text(p.bytes), p.gbs))
        .collect::<Vec<_>>()
        .join(", ");
    t += " GB/s";
    for (who, kept) in [
        ("one core".to_string(), &p.cache.llc_kept),
        (format!("{} cores", p.cores), &p.cache.llc_kept_all_cores),
    ] {
        if kept.is_empty() {
            continue;
        }
        t += &format!("\nkept in the last level by a repeated sweep ({who}): ");
        t += &kept
            .iter()
            .map(|(b, k)| format!("{} {:.0}%", size_text(*b), k * 100.0))
            .collect::<Vec<_>>()
            .join(", ");
    }
    t += "\nenergies stay the class's estimates (with their sources): nothing here measures power";
    t
}

fn size_text(b: u64) -> String {
    if b >= 1 << 20 {
        let mib = b as f64 / f64::from(1 << 20);
        if mib.fract() == 0.0 {
            format!("{mib}M")
        } else {
            format!("{mib:.1}M")
        }
    } else {
        format!("{}K", b >> 10)
    }
}
