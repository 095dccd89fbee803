//! Background tiering: a kernel whose call ran long is recompiled with
//! LLVM's optimizing tier on a worker thread, while the session goes on
//! with the code it has (Cranelift's, or LLVM's quick tier); calls after
//! the compile finishes run the new code. The session never waits for
//! LLVM, whose compile takes 0.1–1 s where Cranelift's takes milliseconds
//! (docs/performance.md).
//!
//! Only in interactive sessions by default: a script's results must not
//! depend on how fast a background thread was (under `reassoc`, LLVM's
//! wider vectors sum in another order). `:tiering on` turns it on in a
//! script, `:tiering wait` waits for the compiles under way.

use pj_compiler::codegen::driver::{self, Options, Stage};
use pj_compiler::codegen::{JitModule, Tier};
use pj_compiler::ir::Module;
use std::collections::HashMap;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A call that ran longer than this is worth the optimizing tier (the
/// quick tier's code can be 3× slower, docs/performance.md).
pub const DEFAULT_AFTER: Duration = Duration::from_millis(50);

/// A compile finished on the worker thread.
pub struct Finished {
    /// The unit key ([`super::session`]'s cache key) it was started for.
    pub key: u64,
    /// The kernel whose call started it (for the note).
    pub kernel: String,
    /// How long it took.
    pub took: Duration,
    /// The `pj` IR it compiled (what the interpreter and `:ir` read).
    pub module: Module,
    /// The code, or why LLVM refused.
    pub code: Result<JitModule, String>,
}

struct Running {
    kernel: String,
    started: Instant,
    handle: JoinHandle<(Module, Result<JitModule, String>)>,
}

/// When a session recompiles a kernel, and its background compiles.
pub struct Tiering {
    /// A call at the quick tier longer than this recompiles its kernel at
    /// the optimizing tier (and starts LLVM's background compile).
    pub after: Duration,
    /// Whether long calls start LLVM compiles in the background.
    pub background: bool,
    running: HashMap<u64, Running>,
}

impl Tiering {
    /// After [`DEFAULT_AFTER`]; background compiles on or off.
    pub fn new(background: bool) -> Tiering {
        Tiering {
            after: DEFAULT_AFTER,
            background,
            running: HashMap::new(),
        }
    }

    /// Whether LLVM is built in (without it there is nothing to tier up to
    /// in the background: Cranelift's optimizing tier compiles in the
    /// foreground in milliseconds).
    pub fn available() -> bool {
        pj_compiler::codegen::Backend::Llvm.is_built()
    }

    /// Whether a call that took `took` should start a compile of `key`.
    pub fn wants(&self, key: u64, took: Duration) -> bool {
        Self::available() && self.background && took > self.after && !self.is_running(key)
    }

    /// Whether a compile of `key` is under way.
    pub fn is_running(&self, key: u64) -> bool {
        self.running.contains_key(&key)
    }

    /// How many compiles are under way.
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// Starts compiling `module` (the `pj` IR after the default pipeline)
    /// with LLVM's optimizing tier and `options`' other settings, on a
    /// worker thread at a lower priority than the session's.
    pub fn start(&mut self, key: u64, kernel: &str, module: Module, options: Options) {
        let options = Options {
            backend: pj_compiler::codegen::Backend::Llvm,
            tier: Tier::Optimizing,
            ..options
        };
        let spawned = std::thread::Builder::new()
            .name(format!("pj-llvm-{kernel}"))
            .spawn(move || {
                lower_priority();
                let code = driver::lower(&module, &options, Stage::Optimized)
                    .and_then(|(lowered, _)| driver::jit(&lowered, &options))
                    .map_err(|e| e.to_string());
                (module, code)
            });
        // no thread (the system's limit): the session goes on with the code it has
        if let Ok(handle) = spawned {
            self.running.insert(
                key,
                Running {
                    kernel: kernel.to_string(),
                    started: Instant::now(),
                    handle,
                },
            );
        }
    }

    /// The compiles that have finished, without waiting.
    pub fn poll(&mut self) -> Vec<Finished> {
        let done: Vec<u64> = self
            .running
            .iter()
            .filter(|(_, r)| r.handle.is_finished())
            .map(|(&k, _)| k)
            .collect();
        done.into_iter().map(|k| self.join(k)).collect()
    }

    /// Every compile under way, waiting for each.
    pub fn wait(&mut self) -> Vec<Finished> {
        let keys: Vec<u64> = self.running.keys().copied().collect();
        keys.into_iter().map(|k| self.join(k)).collect()
    }

    fn join(&mut self, key: u64) -> Finished {
        let r = self.running.remove(&key).expect("a running compile");
        let took = r.started.elapsed();
        let (module, code) = match r.handle.join() {
            Ok(done) => done,
            Err(_) => (
                Module::default(),
                Err("the compile thread panicked".to_string()),
            ),
        };
        Finished {
            key,
            kernel: r.kernel,
            took,
            module,
            code,
        }
    }
}

impl Drop for Tiering {
    /// Waits for the compiles under way: a thread inside LLVM must not
    /// outlive the session into the process's exit, where LLVM's static
    /// objects are destroyed under it. (At most one compile's time, and
    /// only when one is running as the session ends.)
    fn drop(&mut self) {
        for (_, r) in self.running.drain() {
            let _ = r.handle.join();
        }
    }
}

/// The compile thread yields to the session's own work (the kernel calls
/// on the other cores): `nice` 10 for this thread alone, where the OS has
/// per-thread priorities.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on this thread's own id.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}
