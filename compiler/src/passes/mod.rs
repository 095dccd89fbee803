//! Passes and the pass manager.
//!
//! A pass is a named IR-to-IR transformation ([`Pass`]). The manager runs a
//! pipeline of them (`canonicalize,cse,dce`), verifies the IR after each
//! one, and can keep the IR text after each pass and time them — the
//! `--print-ir-after-all` and `--time-passes` flags of `pj opt`.
//!
//! Adding a pass: write `passes/<name>.rs` with a `//!` saying what it does,
//! when it is legal and what it costs; add it to [`REGISTRY`].

pub mod canonicalize;
pub mod contract;
pub mod cse;
pub mod dce;
pub mod inline_pointwise;
pub mod licm;
pub mod lower_half;
pub mod lower_quant;
pub mod lower_stages;
pub mod quantize;
pub mod schedule;
pub mod split_epilogue;
pub mod vectorize;

use crate::ir::Module;
use crate::ir::print::{PrintOptions, print_module};
use crate::ir::verify::{VerifyErrors, verify};
use std::time::{Duration, Instant};

/// An IR transformation.
pub trait Pass {
    /// Kebab-case name, as used in pipeline strings.
    fn name(&self) -> &'static str;
    /// Transforms the module; returns whether anything changed.
    fn run(&mut self, m: &mut Module) -> Result<bool, PassError>;
    /// What the last run decided that its user should hear (the
    /// `quantize` pass's choices and refusals), one line each.
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A pass failed.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    /// The IR was invalid after a pass: a compiler bug.
    #[error("IR is invalid after pass `{pass}`:\n{errors}")]
    Verify {
        /// The pass that ran last.
        pass: String,
        /// What is wrong.
        errors: VerifyErrors,
    },
    /// The pass could not do its work.
    #[error("pass `{pass}` failed: {message}")]
    Failed {
        /// The pass.
        pass: String,
        /// Why.
        message: String,
    },
}

/// A registered pass: name, one-line description, constructor.
pub struct PassInfo {
    /// Name in pipeline strings.
    pub name: &'static str,
    /// What it does.
    pub description: &'static str,
    /// Makes a fresh instance.
    pub create: fn() -> Box<dyn Pass>,
}

/// Every pass, by name.
pub const REGISTRY: &[PassInfo] = &[
    PassInfo {
        name: "canonicalize",
        description: "fold constants and apply algebraic identities that are exact in IEEE arithmetic",
        create: || Box::new(canonicalize::Canonicalize),
    },
    PassInfo {
        name: "cse",
        description: "merge identical pure ops whose operands are the same values",
        create: || Box::new(cse::Cse),
    },
    PassInfo {
        name: "dce",
        description: "remove pure ops whose results are unused",
        create: || Box::new(dce::Dce),
    },
    PassInfo {
        name: "split-epilogue",
        description: "give a reduction followed by float work (a matrix product's ReLU) a stage of its own, for the register-blocked order",
        create: || Box::new(split_epilogue::SplitEpilogue),
    },
    PassInfo {
        name: "inline-pointwise",
        description: "fuse a stage read at one place into its reader, so it is never stored",
        create: || Box::new(inline_pointwise::InlinePointwise),
    },
    PassInfo {
        name: "lower-half",
        description: "compute with f16 and bf16 values in f32, rounded after each operation, keeping their bits in memory",
        create: || Box::new(lower_half::LowerHalf),
    },
    PassInfo {
        name: "licm",
        description: "move loop-invariant ops that cannot fail out of loops",
        create: || Box::new(licm::Licm),
    },
    PassInfo {
        name: "vectorize",
        description: "turn innermost unit-step loops into 128-bit vector loops plus a scalar remainder",
        create: || {
            Box::new(vectorize::Vectorize {
                reassoc: false,
                width_bits: vectorize::DEFAULT_WIDTH,
            })
        },
    },
    PassInfo {
        name: "contract",
        description: "fuse float a * b + c into one multiply-add, rounded once (--fast-math=contract)",
        create: || Box::new(contract::Contract),
    },
    PassInfo {
        name: "schedule",
        description: "choose per stage: reduction order, cache blocks, and fusion into tiles of rows (for the host)",
        create: || Box::new(schedule::AutoSchedule::host()),
    },
    PassInfo {
        name: "quantize",
        description: "int8 fixed point for sums of products where a proven error bound meets each result's @tolerance (--quantize=int8)",
        create: || {
            Box::new(quantize::Quantize::new(crate::quant::plan::Request::new(
                crate::quant::plan::Mode::Int8,
            )))
        },
    },
    PassInfo {
        name: "lower-quant",
        description: "expand quant.quantize and quant.dequantize into the arith ops that compute the same bits",
        create: || Box::new(lower_quant::LowerQuant::default()),
    },
    PassInfo {
        name: "lower-stages",
        description: "lower pj kernels to loop nests over buffers (func, loop, mem dialects)",
        create: || Box::new(lower_stages::LowerStages::default()),
    },
];

/// The pipeline `pj opt` runs when no `--passes` are given.
pub const DEFAULT_PIPELINE: &str = "canonicalize,cse,dce";

/// What happened in one pass.
#[derive(Clone, Debug)]
pub struct PassRecord {
    /// The pass.
    pub name: &'static str,
    /// Whether it changed the IR.
    pub changed: bool,
    /// Wall time of the pass alone (verification excluded).
    pub elapsed: Duration,
    /// IR text after the pass, when requested.
    pub ir_after: Option<String>,
    /// What the pass reports ([`Pass::notes`]).
    pub notes: Vec<String>,
}

/// Runs passes in order.
pub struct PassManager {
    passes: Vec<Box<dyn Pass>>,
    /// Verify after every pass (on by default).
    pub verify_each: bool,
    /// Keep the IR text after every pass.
    pub print_after_all: bool,
    /// `fast_math`'s setting, kept for passes configured later.
    reassoc: bool,
    /// `vector_bits`'s setting.
    vector_bits: u32,
    /// `dot_products`'s setting.
    dot_products: crate::target::DotProducts,
    /// `for_profile`'s setting (the host's when unset).
    profile: Option<crate::target::profile::Profile>,
    /// `quantize`'s request, kept for the pass configured later.
    quantize: Option<crate::quant::plan::Request>,
    /// `native_f16`'s setting.
    native_f16: bool,
    /// `pricer`'s setting.
    pricer: Option<crate::quant::price::Pricer>,
}

impl PassManager {
    /// An empty pipeline.
    pub fn new() -> PassManager {
        PassManager {
            passes: Vec::new(),
            verify_each: true,
            print_after_all: false,
            reassoc: false,
            vector_bits: vectorize::DEFAULT_WIDTH as u32,
            dot_products: crate::target::DotProducts::NONE,
            profile: None,
            quantize: None,
            native_f16: false,
            pricer: None,
        }
    }

    /// Parses `a,b,c`. An empty string is the empty pipeline.
    pub fn parse(pipeline: &str) -> Result<PassManager, String> {
        let mut pm = PassManager::new();
        for name in pipeline.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match REGISTRY.iter().find(|p| p.name == name) {
                Some(info) => pm.passes.push((info.create)()),
                None => {
                    let names: Vec<&str> = REGISTRY.iter().map(|p| p.name).collect();
                    return Err(format!(
                        "unknown pass `{name}`; available passes: {}",
                        names.join(", ")
                    ));
                }
            }
        }
        Ok(pm)
    }

    /// The default pipeline.
    pub fn default_pipeline() -> PassManager {
        PassManager::parse(DEFAULT_PIPELINE).expect("the default pipeline names registered passes")
    }

    /// Appends a pass.
    pub fn with_pass(mut self, p: Box<dyn Pass>) -> PassManager {
        self.passes.push(p);
        self
    }

    /// Makes the target-dependent passes (`schedule`) decide for `profile`.
    pub fn for_profile(mut self, profile: &crate::target::profile::Profile) -> PassManager {
        self.profile = Some(profile.clone());
        self.configure_vectors();
        self
    }

    /// `--fast-math=reassoc` (`true`) or `--strict-fp` (`false`, the
    /// library's default): whether float reductions may be reassociated.
    pub fn fast_math(mut self, reassoc: bool) -> PassManager {
        self.reassoc = reassoc;
        self.configure_vectors();
        self
    }

    /// The width of the vectors code is generated with (the backend's and
    /// target's: 128 bits unless set), for `vectorize` and the register
    /// blocks of `lower-stages`.
    pub fn vector_bits(mut self, bits: u32) -> PassManager {
        self.vector_bits = bits;
        self.configure_vectors();
        self
    }

    /// The 8-bit dot products the backend turns `vector.dot4` into one
    /// instruction for (none unless set): `lower-stages` then computes
    /// `u8`/`i8` matrix products four steps of the reduction at a time.
    pub fn dot_products(mut self, dot: crate::target::DotProducts) -> PassManager {
        self.dot_products = dot;
        self.configure_vectors();
        self
    }

    /// Whether the backend converts binary16 itself (LLVM on F16C or
    /// aarch64): `lower-quant` and `lower-stages` then keep `f16`'s
    /// conversions as ops for it.
    pub fn native_f16(mut self, native: bool) -> PassManager {
        self.native_f16 = native;
        self.configure_vectors();
        self
    }

    /// How `--quantize=auto` prices a scheme's result: by lowering it as
    /// the kernel is compiled and asking the energy model
    /// (`codegen::Options::configure` sets it; without one, `auto`
    /// follows the `quantize` pass's rules).
    pub fn pricer(mut self, pricer: Option<crate::quant::price::Pricer>) -> PassManager {
        self.pricer = pricer;
        self.configure_vectors();
        self
    }

    fn configure_vectors(&mut self) {
        let (reassoc, bits, dot) = (self.reassoc, self.vector_bits, self.dot_products);
        let native_f16 = self.native_f16;
        for p in &mut self.passes {
            match p.name() {
                "vectorize" => {
                    *p = Box::new(vectorize::Vectorize {
                        reassoc,
                        width_bits: bits as usize,
                    })
                }
                "quantize" if self.quantize.is_some() => {
                    let mut q = quantize::Quantize::new(self.quantize.expect("checked"));
                    q.dot_products = dot;
                    q.vector_bits = bits;
                    q.pricer = self.pricer.clone();
                    *p = Box::new(q);
                }
                "lower-stages" => {
                    *p = Box::new(lower_stages::LowerStages {
                        vector_bits: bits,
                        dot_products: dot,
                        native_f16,
                    })
                }
                "lower-quant" => {
                    *p = Box::new(lower_quant::LowerQuant {
                        keep_f16: native_f16,
                    })
                }
                "schedule" => {
                    let profile = self
                        .profile
                        .get_or_insert_with(crate::target::profile::Profile::host);
                    let mut s = schedule::AutoSchedule::for_profile(profile.clone());
                    s.vector_bits = bits;
                    *p = Box::new(s);
                }
                _ => {}
            }
        }
    }

    /// `--fast-math=contract` on a target with FMA instructions: float
    /// multiply-adds fuse (the `contract` pass, right after `vectorize`,
    /// or last when the pipeline has none).
    pub fn contract(mut self, enabled: bool) -> PassManager {
        if enabled && !self.names().contains(&"contract") {
            let at = self
                .passes
                .iter()
                .rposition(|p| p.name() == "vectorize")
                .map_or(self.passes.len(), |i| i + 1);
            self.passes.insert(at, Box::new(contract::Contract));
        }
        self
    }

    /// `--quantize`: the `quantize` pass, then `lower-quant`, before the
    /// pipeline's first fusion or lowering (so they see the `pj` level).
    pub fn quantize(mut self, request: Option<crate::quant::plan::Request>) -> PassManager {
        if let Some(r) = request {
            let at = self
                .passes
                .iter()
                .position(|p| {
                    matches!(
                        p.name(),
                        "split-epilogue" | "inline-pointwise" | "lower-stages"
                    )
                })
                .unwrap_or(self.passes.len());
            self.passes.insert(
                at,
                Box::new(lower_quant::LowerQuant {
                    keep_f16: self.native_f16,
                }),
            );
            self.passes.insert(at, Box::new(quantize::Quantize::new(r)));
            self.quantize = Some(r);
            self.configure_vectors();
        }
        self
    }

    /// Names of the passes, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.passes.iter().map(|p| p.name()).collect()
    }

    /// Runs every pass in order.
    pub fn run(&mut self, m: &mut Module) -> Result<Vec<PassRecord>, PassError> {
        let mut records = Vec::new();
        for p in &mut self.passes {
            let start = Instant::now();
            let changed = p.run(m)?;
            let elapsed = start.elapsed();
            if self.verify_each {
                verify(m).map_err(|errors| PassError::Verify {
                    pass: p.name().to_string(),
                    errors,
                })?;
            }
            let ir_after = self
                .print_after_all
                .then(|| print_module(m, PrintOptions::default()));
            records.push(PassRecord {
                name: p.name(),
                changed,
                elapsed,
                ir_after,
                notes: p.notes(),
            });
        }
        Ok(records)
    }
}

impl Default for PassManager {
    fn default() -> Self {
        PassManager::new()
    }
}
