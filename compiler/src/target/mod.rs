//! Targets: the one place that interprets `target-lexicon` triples.
//!
//! picojoule generates code for a fixed list of targets ([`SUPPORTED`]);
//! `host` means the machine the compiler runs on, with every ISA feature
//! Cranelift detects there. A target is a triple plus the ISA flags code is
//! built with; a [`profile::Profile`] says what the machine costs in time
//! and energy.

pub mod calibration;
pub mod energy;
pub mod profile;
pub mod report;

use cranelift_codegen::isa::{self, OwnedTargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use std::str::FromStr;
use target_lexicon::{BinaryFormat, Triple};

/// A target picojoule can compile for.
#[derive(Clone, Debug)]
pub struct Target {
    /// The triple.
    pub triple: Triple,
    /// Whether this is the machine the compiler runs on.
    pub is_host: bool,
    /// A processor to tune and select instructions for (`pj build --cpu`,
    /// the LLVM backend): one of [`CPUS`] for the triple's architecture.
    pub cpu: Option<&'static Cpu>,
}

/// A processor `--cpu` names.
#[derive(Debug, PartialEq, Eq)]
pub struct Cpu {
    /// LLVM's name for it.
    pub name: &'static str,
    /// `x86_64` or `aarch64`.
    pub arch: &'static str,
    /// Its widest vector registers, in bits.
    pub vector_bits: u32,
    /// Its 8-bit dot-product instructions.
    pub dot: DotProducts,
}

/// The 8-bit dot products (four products summed into an `i32` lane) a
/// processor has one instruction for: what `vector.dot4` becomes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DotProducts {
    /// `u8` times `i8`: x86's VNNI `vpdpbusd`, aarch64's I8MM `usdot`.
    pub mixed_sign: bool,
    /// `i8` times `i8` and `u8` times `u8`: aarch64's `sdot` and `udot`
    /// (DotProd).
    pub same_sign: bool,
    /// `u8` times `i8` summed in pairs *saturated to `i16`*, then in pairs
    /// to `i32`: x86's SSSE3 `pmaddubsw` and SSE2 `pmaddwd`, for x86
    /// without VNNI. Exact where the `u8` lanes are below 128 (a pair's sum
    /// then stays within ±32512), which `lower-stages` checks.
    pub pairs16: bool,
}

impl DotProducts {
    /// None.
    pub const NONE: DotProducts = DotProducts {
        mixed_sign: false,
        same_sign: false,
        pairs16: false,
    };
    /// x86 without VNNI (SSSE3 or later).
    pub const PAIRS16: DotProducts = DotProducts {
        mixed_sign: false,
        same_sign: false,
        pairs16: true,
    };
    /// x86 VNNI.
    pub const VNNI: DotProducts = DotProducts {
        mixed_sign: true,
        same_sign: false,
        pairs16: false,
    };
    /// aarch64 DotProd.
    pub const DOTPROD: DotProducts = DotProducts {
        mixed_sign: false,
        same_sign: true,
        pairs16: false,
    };
    /// aarch64 DotProd and I8MM.
    pub const DOTPROD_I8MM: DotProducts = DotProducts {
        mixed_sign: true,
        same_sign: true,
        pairs16: false,
    };

    /// Whether a product of `x` and `y` lanes (`u8` or `i8`) has one.
    pub fn covers(self, x_signed: bool, y_signed: bool) -> bool {
        if x_signed == y_signed {
            self.same_sign
        } else {
            self.mixed_sign
        }
    }

    /// Whether there is any.
    pub fn any(self) -> bool {
        self.mixed_sign || self.same_sign || self.pairs16
    }

    /// Whether `u8 × i8` products are computed in saturating pairs only
    /// (no exact instruction for them): rows must then stay below 128.
    pub fn seven_bit_rows(self) -> bool {
        self.pairs16 && !self.mixed_sign
    }
}

impl Cpu {
    /// Whether it has fused multiply-adds: every aarch64 core; the x86
    /// processors of [`CPUS`] with 256-bit vectors or wider (AVX2 and FMA3
    /// came together, in Haswell and in Zen), none of the narrower.
    pub fn has_fma(&self) -> bool {
        self.arch == "aarch64" || self.vector_bits >= 256
    }
}

const fn cpu(name: &'static str, arch: &'static str, vector_bits: u32, dot: DotProducts) -> Cpu {
    Cpu {
        name,
        arch,
        vector_bits,
        dot,
    }
}

const NO_DOT: DotProducts = DotProducts::NONE;
const PAIRS: DotProducts = DotProducts::PAIRS16;
const VNNI: DotProducts = DotProducts::VNNI;
const DOTPROD: DotProducts = DotProducts::DOTPROD;
const I8MM: DotProducts = DotProducts::DOTPROD_I8MM;

/// The processors `--cpu` accepts: the x86-64 micro-architecture levels
/// and the server and Apple cores picojoule's users run on.
pub const CPUS: &[Cpu] = &[
    cpu("x86-64", "x86_64", 128, NO_DOT),
    cpu("x86-64-v2", "x86_64", 128, PAIRS),
    cpu("x86-64-v3", "x86_64", 256, PAIRS),
    cpu("x86-64-v4", "x86_64", 512, PAIRS),
    cpu("haswell", "x86_64", 256, PAIRS),
    cpu("skylake", "x86_64", 256, PAIRS),
    cpu("skylake-avx512", "x86_64", 512, PAIRS),
    cpu("cascadelake", "x86_64", 512, VNNI),
    cpu("icelake-server", "x86_64", 512, VNNI),
    cpu("sapphirerapids", "x86_64", 512, VNNI),
    cpu("znver2", "x86_64", 256, PAIRS),
    cpu("znver3", "x86_64", 256, PAIRS),
    cpu("znver4", "x86_64", 512, VNNI),
    cpu("znver5", "x86_64", 512, VNNI),
    cpu("generic", "aarch64", 128, NO_DOT),
    cpu("neoverse-n1", "aarch64", 128, DOTPROD),
    cpu("neoverse-n2", "aarch64", 128, I8MM),
    cpu("neoverse-v1", "aarch64", 128, I8MM),
    cpu("neoverse-v2", "aarch64", 128, I8MM),
    cpu("cortex-a72", "aarch64", 128, NO_DOT),
    cpu("apple-m1", "aarch64", 128, DOTPROD),
    cpu("apple-m2", "aarch64", 128, I8MM),
    cpu("apple-m3", "aarch64", 128, I8MM),
    cpu("apple-m4", "aarch64", 128, I8MM),
];

/// Triples `pj build --target` accepts besides `host`.
pub const SUPPORTED: [&str; 4] = [
    "x86_64-unknown-linux-gnu",
    "aarch64-unknown-linux-gnu",
    "aarch64-apple-darwin",
    "x86_64-apple-darwin",
];

/// Why a target was refused.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Not a triple picojoule supports.
    #[error("unsupported target `{0}`; supported: host, {list}", list = SUPPORTED.join(", "))]
    Unsupported(String),
    /// Not a processor of the target's architecture.
    #[error("unknown processor `{cpu}` for {arch}; `--cpu` takes: {list}")]
    UnknownCpu {
        /// The name given.
        cpu: String,
        /// The target's architecture.
        arch: String,
        /// The names accepted for it.
        list: String,
    },
    /// Cranelift cannot build for it in this build of picojoule.
    #[error("cannot generate code for `{triple}`: {reason}")]
    Isa {
        /// The triple.
        triple: String,
        /// Cranelift's reason.
        reason: String,
    },
}

impl Target {
    /// The machine the compiler runs on, with every feature it has.
    pub fn host() -> Target {
        Target {
            triple: Triple::host(),
            is_host: true,
            cpu: None,
        }
    }

    /// `host` or one of [`SUPPORTED`].
    pub fn parse(name: &str) -> Result<Target, TargetError> {
        if name == "host" {
            return Ok(Target::host());
        }
        if !SUPPORTED.contains(&name) {
            return Err(TargetError::Unsupported(name.to_string()));
        }
        let triple =
            Triple::from_str(name).map_err(|_| TargetError::Unsupported(name.to_string()))?;
        // An explicit triple means "any machine of this kind": baseline
        // features, even when it names this machine's kind.
        Ok(Target {
            triple,
            is_host: false,
            cpu: None,
        })
    }

    /// The architecture's name as [`CPUS`] spells it.
    pub fn arch(&self) -> &'static str {
        match self.triple.architecture {
            target_lexicon::Architecture::Aarch64(_) => "aarch64",
            _ => "x86_64",
        }
    }

    /// This target tuned for processor `name` (one of [`CPUS`] of its
    /// architecture): code may use every instruction it has, so it runs
    /// only on that processor and newer ones of its line.
    pub fn with_cpu(mut self, name: &str) -> Result<Target, TargetError> {
        let arch = self.arch();
        match CPUS.iter().find(|c| c.name == name && c.arch == arch) {
            Some(c) => {
                self.cpu = Some(c);
                // an explicit processor replaces the host's detected one
                self.is_host = false;
                Ok(self)
            }
            None => Err(TargetError::UnknownCpu {
                cpu: name.to_string(),
                arch: arch.to_string(),
                list: CPUS
                    .iter()
                    .filter(|c| c.arch == arch)
                    .map(|c| c.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// Apple platforms (Mach-O objects, symbols with a leading underscore).
    pub fn is_apple(&self) -> bool {
        self.triple.binary_format == BinaryFormat::Macho
    }

    /// The 8-bit dot products the target's code may use: detected on the
    /// host, the `--cpu`'s, or the triple's baseline (none on x86-64 and
    /// generic aarch64; DotProd on Apple silicon, from the M1 on).
    pub fn dot_products(&self) -> DotProducts {
        if self.is_host {
            return host_dot_products();
        }
        match self.cpu {
            Some(c) => c.dot,
            None if self.arch() == "aarch64" && self.is_apple() => DotProducts::DOTPROD,
            None => DotProducts::NONE,
        }
    }

    /// Whether code for this target may use AVX-512 F, DQ, BW and VL
    /// (x86-64-v4): detected on the host, else a `--cpu` with 512-bit
    /// vectors (every one of them has the four).
    pub fn has_avx512(&self) -> bool {
        if self.arch() != "x86_64" {
            return false;
        }
        if self.is_host {
            return host_has_avx512();
        }
        self.cpu.is_some_and(|c| c.vector_bits == 512)
    }

    /// The Cranelift ISA: the host's detected features for `host`, the
    /// architecture's baseline otherwise. Position-independent code, optimized.
    pub fn isa(&self) -> Result<OwnedTargetIsa, TargetError> {
        let err = |reason: String| TargetError::Isa {
            triple: self.triple.to_string(),
            reason,
        };
        let mut flags = settings::builder();
        flags
            .set("opt_level", "speed")
            .map_err(|e| err(e.to_string()))?;
        flags
            .set("is_pic", "true")
            .map_err(|e| err(e.to_string()))?;
        let builder = if self.is_host {
            cranelift_native::builder().map_err(|e| err(e.to_string()))?
        } else {
            isa::lookup(self.triple.clone()).map_err(|e| err(e.to_string()))?
        };
        builder
            .finish(settings::Flags::new(flags))
            .map_err(|e| err(e.to_string()))
    }

    /// Whether code for this target has fused multiply-add instructions:
    /// every aarch64; x86_64 with FMA3 (detected for `host`, the
    /// processor's for `--cpu`; an x86_64 triple alone means the baseline,
    /// without).
    pub fn has_fma(&self) -> bool {
        match self.triple.architecture {
            target_lexicon::Architecture::Aarch64(_) => true,
            target_lexicon::Architecture::X86_64 => match self.cpu {
                Some(cpu) if !self.is_host => cpu.has_fma(),
                _ => self.features().iter().any(|f| f == "has_fma"),
            },
            _ => false,
        }
    }

    /// Whether code for this target converts between `f32` and binary16
    /// in one instruction: every aarch64 (`fcvt`); x86_64 with F16C
    /// (detected for `host`; every `--cpu` with AVX2 or wider; not the
    /// baseline a bare triple means).
    pub fn has_f16c(&self) -> bool {
        match self.triple.architecture {
            target_lexicon::Architecture::Aarch64(_) => true,
            target_lexicon::Architecture::X86_64 if self.is_host => host_has_f16c(),
            target_lexicon::Architecture::X86_64 => self.cpu.is_some_and(|c| c.vector_bits >= 256),
            _ => false,
        }
    }

    /// The ISA features code for this target uses (`has_avx2`, ...).
    pub fn features(&self) -> Vec<String> {
        match self.isa() {
            Ok(isa) => isa
                .isa_flags()
                .iter()
                .filter(|v| v.as_bool() == Some(true))
                .map(|v| v.name.to_string())
                .collect(),
            Err(e) => vec![format!("(unavailable: {e})")],
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn host_dot_products() -> DotProducts {
    use std::arch::is_x86_feature_detected as has;
    // `PJ_HOST_DOT_PRODUCTS=pairs16` (or `none`): this machine taken as one
    // without VNNI (or without either), to measure and test the code such
    // machines get
    match std::env::var("PJ_HOST_DOT_PRODUCTS").as_deref() {
        Ok("pairs16") if has!("ssse3") => return DotProducts::PAIRS16,
        Ok("none") => return DotProducts::NONE,
        _ => {}
    }
    // the EVEX form needs VL for 128/256-bit vectors; AVX-VNNI is the VEX one
    if (has!("avx512vnni") && has!("avx512vl")) || has!("avxvnni") {
        DotProducts::VNNI
    } else if has!("ssse3") {
        DotProducts::PAIRS16
    } else {
        DotProducts::NONE
    }
}

#[cfg(target_arch = "x86_64")]
fn host_has_f16c() -> bool {
    std::arch::is_x86_feature_detected!("f16c")
}

#[cfg(not(target_arch = "x86_64"))]
fn host_has_f16c() -> bool {
    false
}

#[cfg(target_arch = "x86_64")]
fn host_has_avx512() -> bool {
    use std::arch::is_x86_feature_detected as has;
    has!("avx512f") && has!("avx512dq") && has!("avx512bw") && has!("avx512vl")
}

#[cfg(not(target_arch = "x86_64"))]
fn host_has_avx512() -> bool {
    false
}

#[cfg(target_arch = "aarch64")]
fn host_dot_products() -> DotProducts {
    use std::arch::is_aarch64_feature_detected as has;
    DotProducts {
        mixed_sign: has!("i8mm"),
        same_sign: has!("dotprod"),
        pairs16: false,
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn host_dot_products() -> DotProducts {
    DotProducts::NONE
}
