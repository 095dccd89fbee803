//! Target profiles: what the optimizer and the energy model know about a
//! machine — cores, vector width, cache sizes, bandwidth per memory level,
//! throughput, and picojoules per operation class and per byte moved.
//!
//! Profiles are data (TOML, `profiles/*.toml`, every number with its
//! source in a comment); the built-in ones are compiled in, and a user can
//! load their own from a path (`--target-profile FILE`). `docs/energy-model.md`
//! explains how they are used and how far to trust them.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// A machine, as the optimizer and the energy model see it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Short name (`x86_64-avx512`).
    pub name: String,
    /// One line for people.
    pub description: String,
    /// `x86_64` or `aarch64`.
    pub arch: String,
    /// Cores the kernel may use.
    pub cores: u32,
    /// Clock, GHz.
    pub ghz: f64,
    /// The hardware's widest vector, bits (a backend may use less).
    pub vector_bits: u32,
    /// Cache sizes.
    pub cache: Caches,
    /// Bandwidth per level, one core.
    pub bandwidth: Bandwidth,
    /// Instruction throughput.
    pub throughput: Throughput,
    /// Energy per operation and per byte.
    pub energy: Energy,
    /// Nanoseconds to fault in and zero a fresh 4 KiB page: the first
    /// touch of a buffer the runtime maps anew on every call (larger than
    /// it keeps). None: 250, a bare-metal Linux figure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_touch_ns: Option<f64>,
    /// When `pj calibrate` measured it (`YYYY-MM-DD`), for the host
    /// profile of a calibrated machine; none for a written profile.
    #[serde(skip)]
    pub measured: Option<String>,
}

/// Cache geometry, bytes.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Caches {
    /// Line size.
    pub line_bytes: u64,
    /// L1 data cache, per core.
    pub l1_bytes: u64,
    /// L2, per core (or the share of one core).
    pub l2_bytes: u64,
    /// Last-level cache available to the kernel (to one core of it).
    pub llc_bytes: u64,
    /// The last level every core has between them, where that is more than
    /// one core's (a VM's share, or a cache partitioned between cores;
    /// `pj calibrate` measures it): a parallel kernel's threads keep that
    /// much of their buffers. None: one core's, a cache all cores share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llc_bytes_all_cores: Option<u64>,
    /// Associativity of L1 (ways).
    pub l1_ways: u64,
    /// Associativity of L2.
    pub l2_ways: u64,
    /// Associativity of the last level.
    pub llc_ways: u64,
    /// The share of a repeated sweep one core finds still in the last
    /// level, by working set (bytes ascending, share), as `pj calibrate`
    /// read it off its bandwidth curve: all of it up to the last level's
    /// edge, then what the bandwidth says — the replacement policy's, not
    /// a formula's. Empty for a written profile (capacity over working set).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub llc_kept: Vec<(u64, f64)>,
    /// The same with every core sweeping its own share.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub llc_kept_all_cores: Vec<(u64, f64)>,
}

/// Sustained bandwidth of one core from each level, GB/s.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Bandwidth {
    pub l1_gbs: f64,
    pub l2_gbs: f64,
    pub llc_gbs: f64,
    pub dram_gbs: f64,
    /// DRAM bandwidth of every core streaming at once (none: `dram_gbs`
    /// times the cores, which overstates it where a few cores saturate
    /// the memory controllers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dram_all_cores_gbs: Option<f64>,
}

/// Instructions per cycle, one core.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Throughput {
    /// Vector floating-point instructions (FMA, add, mul) per cycle.
    pub vector_fp_per_cycle: f64,
    /// Scalar instructions per cycle.
    pub scalar_per_cycle: f64,
    /// Cycles the divider is busy with one 128-bit vector (or a scalar) of
    /// `f32` division or square root: its reciprocal throughput.
    #[serde(default = "default_divide_cycles")]
    pub divide_cycles: f64,
    /// Cycles between two integer divisions (64-bit `idiv`/`sdiv`) by a
    /// divisor known only at run time: its reciprocal throughput.
    #[serde(default = "default_int_divide_cycles")]
    pub int_divide_cycles: f64,
}

/// Ten cycles: 64-bit `idiv` on recent x86 cores.
fn default_int_divide_cycles() -> f64 {
    10.0
}

/// Three cycles per 128 bits: `divps`/`sqrtps` on recent x86 cores.
fn default_divide_cycles() -> f64 {
    3.0
}

/// Picojoules per scalar operation (a vector op costs its lanes' operations
/// plus one `instruction`) and per byte moved from each level.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Energy {
    /// Overhead of issuing one instruction (fetch, decode, schedule, registers).
    pub instruction: f64,
    pub int8_add: f64,
    pub int8_mul: f64,
    pub int16_add: f64,
    pub int16_mul: f64,
    pub int32_add: f64,
    pub int32_mul: f64,
    pub f16_add: f64,
    pub f16_mul: f64,
    pub f16_fma: f64,
    pub f32_add: f64,
    pub f32_mul: f64,
    pub f32_fma: f64,
    pub f32_div: f64,
    pub f32_sqrt: f64,
    pub f64_add: f64,
    pub f64_mul: f64,
    pub f64_fma: f64,
    pub f64_div: f64,
    pub f64_sqrt: f64,
    pub transcendental: f64,
    pub l1_byte: f64,
    pub l2_byte: f64,
    pub llc_byte: f64,
    pub dram_byte: f64,
}

/// [`Profile::host`], once read.
static HOST: std::sync::Mutex<Option<Profile>> = std::sync::Mutex::new(None);

/// The built-in profiles: name and TOML text.
pub const BUILTIN: &[(&str, &str)] = &[
    ("x86_64-avx512", include_str!("profiles/x86_64-avx512.toml")),
    ("x86_64-avx2", include_str!("profiles/x86_64-avx2.toml")),
    ("aarch64", include_str!("profiles/aarch64.toml")),
    ("apple-m1", include_str!("profiles/apple-m1.toml")),
];

/// Why a profile could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// No built-in profile of that name.
    #[error("no target profile `{0}`; built in: {list}", list = BUILTIN.iter().map(|b| b.0).collect::<Vec<_>>().join(", "))]
    Unknown(String),
    /// The file could not be read.
    #[error("cannot read target profile `{path}`: {reason}")]
    Read {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
    /// The TOML is malformed or misses a field.
    #[error("target profile `{path}` is invalid: {reason}")]
    Invalid {
        /// Where it came from.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

impl Profile {
    /// Bytes of a result above which code generators write it with
    /// non-temporal stores (past the caches, without reading each line
    /// first): a result this much larger than the last-level cache is
    /// evicted before anything reads it back, and the stores' line reads
    /// are a third of a streaming kernel's traffic. Eight times the last
    /// level: on the Xeon of docs/performance.md, `chain`'s result of 16 MB
    /// was 4% slower with them, 32 MB even, 64 MB 23% faster, 1 GB 35%.
    ///
    /// A measured profile's last level is where one core's bandwidth falls
    /// to DRAM's (`pj calibrate`): the threshold is half of it, where a
    /// result and an input as large (a pipeline stage's usual shape)
    /// overflow it together. The whole of it was too much: on the Xeon VM
    /// of docs/energy-model.md the measured edge lies on a cliff, read as
    /// 48 MiB on one calibration and 68 on the next, and at 68 `blur`'s and
    /// `chain`'s 64 MiB results went through the caches: 15.8 and 10.7 ms
    /// against 10.6 and 8.5 past them.
    pub fn nontemporal_bytes(&self) -> u64 {
        if self.is_measured() {
            self.cache.llc_bytes / 2
        } else {
            self.cache.llc_bytes.saturating_mul(8)
        }
    }

    /// The last level `threads` threads have between them: one core's,
    /// growing in proportion to every core's ([`Caches::llc_bytes_all_cores`]).
    pub fn llc_bytes_with(&self, threads: u32) -> f64 {
        let one = self.cache.llc_bytes as f64;
        let all = self.cache.llc_bytes_all_cores.map_or(one, |b| b as f64);
        if self.cores <= 1 || threads <= 1 {
            return one;
        }
        let share = f64::from(threads.min(self.cores) - 1) / f64::from(self.cores - 1);
        one + (all - one).max(0.0) * share
    }

    /// The share of `footprint` bytes swept again and again by `threads`
    /// threads that each sweep finds still in the last level: measured
    /// ([`Caches::llc_kept`]: between one core's and every core's in
    /// proportion to the threads), else the capacity the threads have
    /// between them over the footprint, all of it where it fits.
    pub fn llc_retained(&self, footprint: f64, threads: u32) -> f64 {
        let one = &self.cache.llc_kept;
        if one.is_empty() {
            return (self.llc_bytes_with(threads) / footprint.max(1.0)).min(1.0);
        }
        let kept_one = kept_at(one, footprint);
        let all = &self.cache.llc_kept_all_cores;
        if self.cores <= 1 || threads <= 1 || all.is_empty() {
            return kept_one;
        }
        let share = f64::from(threads.min(self.cores) - 1) / f64::from(self.cores - 1);
        kept_one + (kept_at(all, footprint) - kept_one) * share
    }

    /// A built-in profile by name.
    pub fn builtin(name: &str) -> Result<Profile, ProfileError> {
        let (_, text) = BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| ProfileError::Unknown(name.to_string()))?;
        Profile::parse(text, name)
    }

    /// Every built-in profile.
    pub fn all_builtin() -> Vec<Profile> {
        BUILTIN
            .iter()
            .map(|(n, t)| Profile::parse(t, n).expect("built-in profiles are valid (tested)"))
            .collect()
    }

    /// Parses a profile's TOML; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Profile, ProfileError> {
        let p: Profile = toml::from_str(text).map_err(|e| ProfileError::Invalid {
            path: origin.to_string(),
            reason: e.message().to_string(),
        })?;
        p.validate().map_err(|reason| ProfileError::Invalid {
            path: origin.to_string(),
            reason,
        })?;
        Ok(p)
    }

    /// A built-in name, or else a path to a TOML file.
    pub fn load(name_or_path: &str) -> Result<Profile, ProfileError> {
        if BUILTIN.iter().any(|(n, _)| *n == name_or_path) {
            return Profile::builtin(name_or_path);
        }
        let path = Path::new(name_or_path);
        if !name_or_path.ends_with(".toml") && !path.exists() {
            return Err(ProfileError::Unknown(name_or_path.to_string()));
        }
        let text = std::fs::read_to_string(path).map_err(|e| ProfileError::Read {
            path: name_or_path.to_string(),
            reason: e.to_string(),
        })?;
        Profile::parse(&text, name_or_path)
    }

    /// The profile of the machine the compiler runs on: what `pj
    /// calibrate` measured here if it has (`calibration`), else the
    /// built-in one of its class with the detected core count and cache
    /// sizes where the OS reports them (the last level is kept from the
    /// profile: a VM reports the whole host's, shared with others).
    ///
    /// Read once per process (the OS's files and the stored calibration:
    /// every compile asks), again after a calibration is stored.
    pub fn host() -> Profile {
        let mut cached = HOST.lock().unwrap_or_else(|e| e.into_inner());
        cached
            .get_or_insert_with(|| {
                let class = Profile::host_class();
                match super::calibration::Calibration::load() {
                    Some(c) => c.apply(&class),
                    None => class,
                }
            })
            .clone()
    }

    /// Forgets the host profile read, so that the next [`Profile::host`]
    /// reads it again (a calibration was just stored).
    pub fn forget_host() {
        *HOST.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Whether [`Profile::host`] is measured (a profile from `pj
    /// calibrate`) rather than its class's constants.
    pub fn is_measured(&self) -> bool {
        self.measured.is_some()
    }

    /// The built-in profile of this machine's class, with the detected
    /// core count and L1/L2 sizes: what calibration starts from.
    pub fn host_class() -> Profile {
        let class = if cfg!(target_arch = "aarch64") {
            if cfg!(target_vendor = "apple") {
                "apple-m1"
            } else {
                "aarch64"
            }
        } else if host_has_avx512() {
            "x86_64-avx512"
        } else {
            "x86_64-avx2"
        };
        let mut p = Profile::builtin(class).expect("built-in");
        p.name = format!("host ({class})");
        if let Ok(n) = std::thread::available_parallelism() {
            p.cores = n.get() as u32;
        }
        let (l1, l2) = os_cache_sizes();
        if let Some(l1) = l1 {
            p.cache.l1_bytes = l1;
        }
        if let Some(l2) = l2 {
            p.cache.l2_bytes = l2.max(p.cache.l1_bytes);
        }
        p
    }

    /// The profile for a compilation target: the host's for `host`, else
    /// the class of the triple's architecture (baseline: `x86_64-avx2`).
    pub fn for_target(t: &super::Target) -> Profile {
        use target_lexicon::Architecture;
        if t.is_host {
            return Profile::host();
        }
        let name = match (t.triple.architecture, t.is_apple(), t.cpu) {
            (Architecture::Aarch64(_), true, _) => "apple-m1",
            (Architecture::Aarch64(_), false, _) => "aarch64",
            (_, _, Some(c)) if c.vector_bits >= 512 => "x86_64-avx512",
            _ => "x86_64-avx2",
        };
        Profile::builtin(name).expect("built-in")
    }

    fn validate(&self) -> Result<(), String> {
        let c = &self.cache;
        if !(c.line_bytes > 0 && c.l1_bytes > 0 && c.l1_bytes <= c.l2_bytes) {
            return Err("cache sizes must be positive with L1 <= L2".into());
        }
        if c.l1_ways == 0 || c.l2_ways == 0 || c.llc_ways == 0 {
            return Err("cache associativities (`*_ways`) must be at least 1".into());
        }
        let b = &self.bandwidth;
        for (n, v) in [
            ("l1_gbs", b.l1_gbs),
            ("l2_gbs", b.l2_gbs),
            ("llc_gbs", b.llc_gbs),
            ("dram_gbs", b.dram_gbs),
            ("ghz", self.ghz),
            ("vector_fp_per_cycle", self.throughput.vector_fp_per_cycle),
            ("scalar_per_cycle", self.throughput.scalar_per_cycle),
            ("divide_cycles", self.throughput.divide_cycles),
            ("int_divide_cycles", self.throughput.int_divide_cycles),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("`{n}` must be a positive number, got {v}"));
            }
        }
        if self.cores == 0 || self.vector_bits < 64 {
            return Err("`cores` must be >= 1 and `vector_bits` >= 64".into());
        }
        Ok(())
    }
}

#[cfg(target_arch = "x86_64")]
fn host_has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

#[cfg(not(target_arch = "x86_64"))]
fn host_has_avx512() -> bool {
    false
}

/// L1d and L2 (per core) as the OS reports them.
pub fn os_cache_sizes() -> (Option<u64>, Option<u64>) {
    (
        sysfs_cache_bytes(1, "Data"),
        sysfs_cache_bytes(2, "Unified"),
    )
}

/// The last-level cache as the OS reports it (a VM's may be its host's
/// whole L3, shared with other tenants).
pub fn os_llc_bytes() -> Option<u64> {
    sysfs_cache_bytes(3, "Unified")
}

/// A cache size from Linux sysfs (`/sys/devices/system/cpu/cpu0/cache`).
fn sysfs_cache_bytes(level: u32, kind: &str) -> Option<u64> {
    let dir = Path::new("/sys/devices/system/cpu/cpu0/cache");
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        let read = |f: &str| std::fs::read_to_string(p.join(f)).ok();
        // not every entry is a cache (`uevent`): skip, do not give up
        let (Some(l), Some(t), Some(s)) = (read("level"), read("type"), read("size")) else {
            continue;
        };
        if l.trim() != level.to_string() || t.trim() != kind {
            continue;
        }
        let s = s.trim();
        let (num, mult) = match s.strip_suffix('K') {
            Some(n) => (n, 1024),
            None => match s.strip_suffix('M') {
                Some(n) => (n, 1024 * 1024),
                None => (s, 1),
            },
        };
        return num.parse::<u64>().ok().map(|n| n * mult);
    }
    None
}

/// `curve`'s share at `bytes`: linear in the logarithm of the working set
/// between its points, its first point's below them and its last's beyond.
fn kept_at(curve: &[(u64, f64)], bytes: f64) -> f64 {
    let Some(&(first, first_kept)) = curve.first() else {
        return 1.0;
    };
    if bytes <= first as f64 {
        return first_kept;
    }
    for w in curve.windows(2) {
        let ((b0, k0), (b1, k1)) = (w[0], w[1]);
        if bytes <= b1 as f64 {
            let t = (bytes / b0 as f64).ln() / (b1 as f64 / b0 as f64).ln().max(f64::MIN_POSITIVE);
            return k0 + (k1 - k0) * t.clamp(0.0, 1.0);
        }
    }
    curve.last().map_or(1.0, |l| l.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profiles_parse_and_are_sane() {
        let all = Profile::all_builtin();
        assert_eq!(all.len(), 4);
        for p in &all {
            assert!(p.energy.dram_byte > p.energy.llc_byte, "{}", p.name);
            assert!(p.energy.llc_byte >= p.energy.l2_byte, "{}", p.name);
            assert!(p.energy.l2_byte > p.energy.l1_byte, "{}", p.name);
            assert!(p.bandwidth.l1_gbs >= p.bandwidth.dram_gbs, "{}", p.name);
        }
        let host = Profile::host();
        assert!(host.cores >= 1 && host.cache.l1_bytes > 0);
    }

    #[test]
    fn a_bad_profile_is_refused_with_its_reason() {
        let text = BUILTIN[0].1.replace("ghz = 2.6", "ghz = -1.0");
        let e = Profile::parse(&text, "mine.toml").unwrap_err().to_string();
        assert!(e.contains("mine.toml") && e.contains("ghz"), "{e}");
        let e = Profile::parse("name = 3", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.toml"), "{e}");
        let e = Profile::load("no-such-profile").unwrap_err().to_string();
        assert!(e.contains("built in: x86_64-avx512"), "{e}");
    }
}
