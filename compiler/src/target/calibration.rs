//! The host profile measured on the machine itself (`pj calibrate`): what
//! was measured, how the memory levels are read off a bandwidth curve, and
//! where the result is kept (one file per machine in the user's data
//! directory, found again by the machine's identity).
//!
//! The measuring itself is `pj-machine`'s; this module is pure data and
//! arithmetic, so the reading-off is tested on curves written by hand.
//! Energies cannot be measured here (no power counters on most machines):
//! a calibrated profile keeps its class's energies, with their sources.

use super::profile::Profile;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One calibration's results, as stored.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// The machine measured ([`identity`]): a stored calibration applies
    /// only to the machine that made it.
    pub identity: String,
    /// When, as `YYYY-MM-DD` (UTC).
    pub date: String,
    /// Cores seen.
    pub cores: u32,
    /// Clock while running, GHz (none: the class's).
    pub ghz: Option<f64>,
    /// FMA instructions per cycle at the widest vector measured.
    pub vector_fp_per_cycle: Option<f64>,
    /// L1d, L2 per core, as the OS reports them.
    pub l1_bytes: u64,
    #[allow(missing_docs)]
    pub l2_bytes: u64,
    /// The working set up to which bandwidth stays clearly above DRAM's:
    /// the last-level cache one core effectively has (a VM may report its
    /// host's whole L3, shared with other tenants).
    pub llc_bytes: u64,
    /// The same with every core streaming its own share
    /// ([`Caches::llc_bytes_all_cores`](super::profile::Caches)); none in a
    /// calibration older than the measurement.
    #[serde(default)]
    pub llc_bytes_all_cores: Option<u64>,
    /// One core's bandwidth per level, GB/s.
    pub l1_gbs: f64,
    #[allow(missing_docs)]
    pub l2_gbs: f64,
    #[allow(missing_docs)]
    pub llc_gbs: f64,
    #[allow(missing_docs)]
    pub dram_gbs: f64,
    /// DRAM bandwidth with every core streaming, GB/s.
    pub dram_all_cores_gbs: f64,
    /// Nanoseconds to fault in and zero a fresh 4 KiB page (none in a
    /// calibration older than the measurement).
    #[serde(default)]
    pub first_touch_ns: Option<f64>,
    /// The measured curve: (working-set bytes, GB/s), one core.
    pub curve: Vec<(u64, f64)>,
    /// Every core together, past the private caches.
    #[serde(default)]
    pub curve_all_cores: Vec<(u64, f64)>,
}

/// The memory levels read off a bandwidth curve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Levels {
    #[allow(missing_docs)]
    pub l1_gbs: f64,
    #[allow(missing_docs)]
    pub l2_gbs: f64,
    #[allow(missing_docs)]
    pub llc_gbs: f64,
    #[allow(missing_docs)]
    pub dram_gbs: f64,
    /// See [`Calibration::llc_bytes`].
    pub llc_bytes: u64,
}

/// Reads the levels off `curve` (working-set bytes ascending, GB/s) given
/// the L1 and L2 sizes the OS reports: L1's bandwidth is the best at sets
/// within L1; L2's, the best between twice L1 and L2; DRAM's, the best of
/// the largest sets' ([`dram_of`]); the last level reaches as far as the bandwidth stays 1.3× above
/// DRAM's, and its bandwidth is the median of the sets between twice L2
/// and half that reach (DRAM's where nothing lies between: no shared
/// cache worth the name).
pub fn levels(curve: &[(u64, f64)], l1_bytes: u64, l2_bytes: u64) -> Option<Levels> {
    let dram_gbs = dram_of(curve)?;
    let best = |lo: u64, hi: u64| {
        curve
            .iter()
            .filter(|p| p.0 > lo && p.0 <= hi)
            .map(|p| p.1)
            .fold(None, |m: Option<f64>, g| Some(m.map_or(g, |m| m.max(g))))
    };
    let l1_gbs = best(0, l1_bytes).unwrap_or(curve[0].1);
    let l2_gbs = best(2 * l1_bytes, l2_bytes).unwrap_or(l1_gbs).min(l1_gbs);
    let llc_bytes = last_level_edge(curve, l2_bytes);
    let mut between: Vec<f64> = curve
        .iter()
        .filter(|p| p.0 >= 2 * l2_bytes && p.0 <= llc_bytes / 2)
        .map(|p| p.1)
        .collect();
    between.sort_by(f64::total_cmp);
    let llc_gbs = between
        .get(between.len() / 2)
        .copied()
        .unwrap_or(dram_gbs)
        .clamp(dram_gbs, l2_gbs);
    Some(Levels {
        l1_gbs,
        l2_gbs,
        llc_gbs,
        dram_gbs: dram_gbs.min(llc_gbs),
        llc_bytes,
    })
}

/// DRAM's bandwidth on `curve`: the best of its sets of half the largest
/// or more (twice any cache the OS reports: `pj calibrate`'s largest set is
/// four times its last level), since a neighbour's burst reads low, never
/// high — a single low last point had made every set before it a cache.
pub fn dram_of(curve: &[(u64, f64)]) -> Option<f64> {
    let &(largest, _) = curve.last()?;
    curve
        .iter()
        .filter(|p| p.0 >= largest / 2)
        .map(|p| p.1)
        .reduce(f64::max)
}

/// How far a last level reaches on `curve` (working-set bytes ascending,
/// GB/s; its largest sets DRAM's, [`dram_of`]): the largest set past `private_bytes`
/// whose bandwidth stays 1.3× above DRAM's (`private_bytes` where none
/// does).
pub fn last_level_edge(curve: &[(u64, f64)], private_bytes: u64) -> u64 {
    let dram_gbs = dram_of(curve).unwrap_or(0.0);
    curve
        .iter()
        .filter(|p| p.0 > private_bytes && p.1 >= 1.3 * dram_gbs)
        .map(|p| p.0)
        .max()
        .unwrap_or(private_bytes)
        .max(private_bytes)
}

/// What a repeated sweep of each working set past `edge` finds still in
/// the last level, read off `curve` (its largest sets DRAM's) given the last
/// level's bandwidth: the share of the bytes served at `llc_gbs` that puts
/// the sweep at its measured bandwidth, all of it at `edge`, never growing
/// with the working set. Empty where the last level is no faster than DRAM.
pub fn kept_by_working_set(curve: &[(u64, f64)], edge: u64, llc_gbs: f64) -> Vec<(u64, f64)> {
    let dram_gbs = dram_of(curve).unwrap_or(0.0);
    if !(dram_gbs > 0.0 && llc_gbs > dram_gbs) {
        return Vec::new();
    }
    let mut kept = vec![(edge, 1.0)];
    let mut least = 1.0f64;
    for &(bytes, gbs) in curve.iter().filter(|p| p.0 > edge) {
        // seconds per byte: kept · 1/llc + (1 - kept) · 1/dram = 1/gbs
        let share = (1.0 / dram_gbs - 1.0 / gbs) / (1.0 / dram_gbs - 1.0 / llc_gbs);
        least = least.min(share.clamp(0.0, 1.0));
        kept.push((bytes, least));
    }
    kept
}

impl Calibration {
    /// `class` (the built-in profile of the machine's kind, its energies
    /// and issue rates kept) with everything measured put in.
    pub fn apply(&self, class: &Profile) -> Profile {
        let mut p = class.clone();
        let kind = class
            .name
            .trim_start_matches("host (")
            .trim_end_matches(')');
        p.name = format!("host ({kind}, measured {})", self.date);
        p.description = format!(
            "this machine, measured by `pj calibrate` on {}; energies and issue rates of the {kind} class",
            self.date
        );
        p.measured = Some(self.date.clone());
        p.cores = self.cores.max(1);
        if let Some(g) = self.ghz.filter(|g| g.is_finite() && *g > 0.0) {
            p.ghz = g;
        }
        if let Some(v) = self
            .vector_fp_per_cycle
            .filter(|v| v.is_finite() && *v > 0.0)
        {
            p.throughput.vector_fp_per_cycle = v;
        }
        p.cache.l1_bytes = self.l1_bytes.max(1);
        p.cache.l2_bytes = self.l2_bytes.max(p.cache.l1_bytes);
        p.cache.llc_bytes = self.llc_bytes.max(p.cache.l2_bytes);
        p.cache.llc_bytes_all_cores = self
            .llc_bytes_all_cores
            .filter(|&b| b > p.cache.llc_bytes && p.cores > 1);
        p.cache.llc_kept = kept_by_working_set(&self.curve, self.llc_bytes, self.llc_gbs);
        if let Some(edge) = self.llc_bytes_all_cores.filter(|_| p.cores > 1) {
            let mut plateau: Vec<f64> = self
                .curve_all_cores
                .iter()
                .filter(|c| c.0 <= edge)
                .map(|c| c.1)
                .collect();
            plateau.sort_by(f64::total_cmp);
            if let Some(&llc_gbs) = plateau.get(plateau.len() / 2) {
                p.cache.llc_kept_all_cores =
                    kept_by_working_set(&self.curve_all_cores, edge, llc_gbs);
            }
        }
        p.bandwidth.l1_gbs = self.l1_gbs;
        p.bandwidth.l2_gbs = self.l2_gbs;
        p.bandwidth.llc_gbs = self.llc_gbs;
        p.bandwidth.dram_gbs = self.dram_gbs;
        p.bandwidth.dram_all_cores_gbs = Some(self.dram_all_cores_gbs);
        if let Some(ns) = self.first_touch_ns.filter(|n| n.is_finite() && *n > 0.0) {
            p.first_touch_ns = Some(ns);
        }
        p
    }

    /// The stored calibration for this machine, if there is one (a file
    /// that does not parse is ignored: `pj calibrate` writes a new one).
    pub fn load() -> Option<Calibration> {
        let path = stored_path()?;
        let text = std::fs::read_to_string(&path).ok()?;
        let c: Calibration = toml::from_str(&text).ok()?;
        (c.identity == identity() && c.is_sane()).then_some(c)
    }

    fn is_sane(&self) -> bool {
        [
            self.l1_gbs,
            self.l2_gbs,
            self.llc_gbs,
            self.dram_gbs,
            self.dram_all_cores_gbs,
        ]
        .iter()
        .all(|g| g.is_finite() && *g > 0.0)
            && self.l1_bytes > 0
    }

    /// Writes it where [`Calibration::load`] finds it (through a temporary
    /// file and a rename: never a half-written file); returns the path.
    pub fn store(&self) -> Result<PathBuf, String> {
        let path = stored_path().ok_or("no data directory: set PJ_DATA_DIR or HOME")?;
        let dir = path.parent().expect("a file in a directory");
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let text = format!(
            "# This machine, as `pj calibrate` measured it. Delete the file or\n# run `pj calibrate` again to re-measure.\n{}",
            toml::to_string(self).map_err(|e| e.to_string())?
        );
        write_atomically(&path, &text)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        super::profile::Profile::forget_host();
        Ok(path)
    }
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    if let Ok(m) = std::fs::symlink_metadata(path)
        && !m.is_file()
    {
        return Err(std::io::Error::other("exists and is not a regular file"));
    }
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Where this machine's calibration is kept: `$PJ_DATA_DIR`, else the
/// user's data directory (`~/.local/share/picojoule` on Linux,
/// `~/Library/Application Support/picojoule` on macOS), one file per
/// machine identity (a home directory shared by several machines keeps
/// each one's).
pub fn stored_path() -> Option<PathBuf> {
    let dir = match std::env::var_os("PJ_DATA_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => dirs::data_dir()?.join("picojoule"),
    };
    Some(dir.join(format!("host-{:016x}.toml", fnv1a(identity().as_bytes()))))
}

/// What distinguishes this machine from another for a calibration: the
/// processor's name, its core count and its L1/L2 sizes.
pub fn identity() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name") || l.starts_with("CPU part"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (l1, l2) = super::profile::os_cache_sizes();
    format!(
        "{cpu}; {cores} cores; L1d {}; L2 {}",
        l1.unwrap_or(0),
        l2.unwrap_or(0)
    )
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Today's date (UTC) as `YYYY-MM-DD`.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: u64 = 1024;
    const M: u64 = 1024 * 1024;

    /// A curve shaped like this project's Xeon VM: L1 48 KiB, L2 2 MiB, a
    /// last level good to ~32 MiB, DRAM beyond.
    fn xeon_like() -> Vec<(u64, f64)> {
        vec![
            (24 * K, 180.0),
            (48 * K, 150.0),
            (96 * K, 95.0),
            (192 * K, 100.0),
            (384 * K, 98.0),
            (768 * K, 96.0),
            (1536 * K, 80.0),
            (3 * M, 45.0),
            (6 * M, 32.0),
            (12 * M, 30.0),
            (24 * M, 26.0),
            (48 * M, 16.0),
            (96 * M, 14.0),
            (192 * M, 13.0),
            (1024 * M, 12.5),
        ]
    }

    #[test]
    fn levels_are_read_off_the_plateaus() {
        let l = levels(&xeon_like(), 48 * K, 2 * M).unwrap();
        assert_eq!(l.l1_gbs, 180.0);
        assert_eq!(l.l2_gbs, 100.0);
        assert_eq!(l.dram_gbs, 12.5);
        // 26 GB/s at 24 MiB is above 1.3 × 12.5; 16 at 48 MiB is not
        assert_eq!(l.llc_bytes, 24 * M);
        // the median of 6 and 12 MiB's
        assert_eq!(l.llc_gbs, 32.0);
        // a neighbour's burst during the largest set reads low: DRAM is
        // the best of the sets from half the largest on, and the last
        // level does not grow to the whole curve
        let mut busy = xeon_like();
        busy.push((2048 * M, 9.0));
        let b = levels(&busy, 48 * K, 2 * M).unwrap();
        assert_eq!((b.dram_gbs, b.llc_bytes), (12.5, 24 * M));
    }

    #[test]
    fn every_core_together_may_reach_further_than_one() {
        // the curve with two cores: the last level holds 96 MiB between
        // them (51 GB/s against DRAM's 24), not 128
        let two = [
            (8 * M, 60.0),
            (48 * M, 55.0),
            (96 * M, 51.0),
            (128 * M, 30.0),
            (512 * M, 24.0),
        ];
        assert_eq!(last_level_edge(&two, 4 * M), 96 * M);
    }

    #[test]
    fn what_a_repeated_sweep_keeps_is_read_off_the_curve() {
        // one core: the last level at 32 GB/s to 24 MiB, DRAM at 12.5;
        // 48 MiB at 16 GB/s is a sweep that found about a third there
        let l = levels(&xeon_like(), 48 * K, 2 * M).unwrap();
        let kept = kept_by_working_set(&xeon_like(), l.llc_bytes, l.llc_gbs);
        assert_eq!(kept[0], (24 * M, 1.0));
        let (bytes, third) = kept[1];
        assert_eq!(bytes, 48 * M);
        let seconds_per_byte = third / 32.0 + (1.0 - third) / 12.5;
        assert!((seconds_per_byte - 1.0 / 16.0).abs() < 1e-12, "{third}");
        // never more for a larger set, whatever the noise (13 at 192 MiB
        // after 14 at 96), and nothing at DRAM's own bandwidth
        assert!(kept.windows(2).all(|w| w[1].1 <= w[0].1), "{kept:?}");
        assert_eq!(kept.last(), Some(&(1024 * M, 0.0)));
        // no last level faster than DRAM: nothing kept
        assert!(kept_by_working_set(&[(M, 10.0), (64 * M, 10.0)], M, 10.0).is_empty());

        // the profile interpolates in the working set's logarithm, and
        // between one core's and every core's by the threads
        let mut p = class_for_test();
        p.cores = 2;
        p.cache.llc_kept = vec![(64 * M, 1.0), (128 * M, 0.0)];
        p.cache.llc_kept_all_cores = vec![(128 * M, 1.0), (256 * M, 0.0)];
        let mib = |n: u64| (n * M) as f64;
        assert_eq!(p.llc_retained(mib(32), 1), 1.0);
        assert!((p.llc_retained(mib(64) * 2f64.sqrt(), 1) - 0.5).abs() < 1e-12);
        assert_eq!(p.llc_retained(mib(512), 1), 0.0);
        assert_eq!(p.llc_retained(mib(128), 2), 1.0);
        assert_eq!(p.llc_retained(mib(128), 1), 0.0);
        // a written profile: capacity over footprint
        let mut q = class_for_test();
        q.cache.llc_bytes = 16 * M;
        assert_eq!(q.llc_retained(mib(64), 1), 0.25);
    }

    #[test]
    fn without_a_shared_cache_the_last_level_is_dram() {
        let curve = vec![
            (24 * K, 100.0),
            (256 * K, 50.0),
            (4 * M, 10.0),
            (64 * M, 10.0),
        ];
        let l = levels(&curve, 32 * K, 512 * K).unwrap();
        assert_eq!(l.llc_bytes, 512 * K);
        assert_eq!(l.llc_gbs, 10.0);
        assert_eq!(levels(&[], 1, 1), None);
    }

    #[test]
    fn a_calibration_round_trips_and_replaces_the_measured_fields() {
        let l = levels(&xeon_like(), 48 * K, 2 * M).unwrap();
        let c = Calibration {
            identity: identity(),
            date: "2026-12-04".into(),
            cores: 2,
            ghz: Some(3.1),
            vector_fp_per_cycle: Some(1.9),
            l1_bytes: 48 * K,
            l2_bytes: 2 * M,
            llc_bytes: l.llc_bytes,
            l1_gbs: l.l1_gbs,
            l2_gbs: l.l2_gbs,
            llc_gbs: l.llc_gbs,
            dram_gbs: l.dram_gbs,
            dram_all_cores_gbs: 20.0,
            first_touch_ns: Some(900.0),
            curve: xeon_like(),
            llc_bytes_all_cores: Some(48 * M),
            curve_all_cores: vec![(8 * M, 60.0), (48 * M, 50.0), (96 * M, 24.0)],
        };
        let text = toml::to_string(&c).unwrap();
        let back: Calibration = toml::from_str(&text).unwrap();
        assert_eq!(back, c);
        // a calibration stored before every core's curve was measured
        // still loads, as one core's last level for every thread count
        let older: String = text
            .lines()
            .filter(|l| !l.starts_with("llc_bytes_all_cores") && !l.starts_with("curve_all_cores"))
            .map(|l| format!("{l}\n"))
            .collect();
        let older: Calibration = toml::from_str(&older).unwrap();
        assert_eq!(older.llc_bytes_all_cores, None);
        assert_eq!(
            older.apply(&class_for_test()).llc_bytes_with(2),
            (24 * M) as f64
        );
        let class = class_for_test();
        let p = c.apply(&class);
        assert_eq!(
            (p.ghz, p.cache.llc_bytes, p.bandwidth.dram_gbs),
            (3.1, 24 * M, 12.5)
        );
        assert_eq!(p.bandwidth.dram_all_cores_gbs, Some(20.0));
        assert_eq!(p.first_touch_ns, Some(900.0));
        // two cores keep twice one core's share between them
        assert_eq!(p.cache.llc_bytes_all_cores, Some(48 * M));
        assert_eq!(
            (
                p.llc_bytes_with(1),
                p.llc_bytes_with(2),
                p.llc_bytes_with(8)
            ),
            ((24 * M) as f64, (48 * M) as f64, (48 * M) as f64)
        );
        assert_eq!(p.energy, class.energy);
        assert!(p.name.contains("measured 2026-12-04"), "{}", p.name);
    }

    fn class_for_test() -> Profile {
        Profile::builtin("x86_64-avx512").unwrap()
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_791), (2026, 12, 4));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
