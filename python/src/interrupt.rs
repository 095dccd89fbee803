//! Ctrl-C during a kernel call. The call runs with the GIL released, so
//! Python's SIGINT handler only notes the signal; the kernel would run to
//! its end. A handler installed in front of Python's (once, when the
//! module is imported) also asks the runtime to stop running kernels at
//! their next parallel chunk (`pj_runtime::interrupt`), then calls
//! Python's, which raises `KeyboardInterrupt` when the call returns.
//!
//! Only while a call is in flight ([`InFlight`]): at any other time the
//! signal is Python's alone. A program that later installs its own SIGINT
//! handler (`signal.signal`) replaces this one, and kernels then run to
//! their end before Python sees the signal.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Calls running in this process.
static CALLS: AtomicUsize = AtomicUsize::new(0);

/// Marks a call in flight for as long as it lives.
pub struct InFlight;

impl InFlight {
    /// A call starts.
    pub fn start() -> InFlight {
        CALLS.fetch_add(1, Ordering::SeqCst);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // a request that came as the last call ended must not stop the
        // next one (read first: clearing is a full fence, on every call)
        if CALLS.fetch_sub(1, Ordering::SeqCst) == 1 && pj_runtime::interrupt::requested() {
            pj_runtime::interrupt::clear();
        }
    }
}

#[cfg(unix)]
mod imp {
    use super::CALLS;
    use std::sync::OnceLock;
    use std::sync::atomic::Ordering;

    /// The handler that was installed before ours (Python's).
    static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();

    extern "C" fn on_sigint(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        // async-signal-safe: atomic loads and stores, then the previous
        // handler, as the kernel would have called it
        if CALLS.load(Ordering::SeqCst) > 0 {
            pj_runtime::interrupt::request();
        }
        let Some(prev) = PREVIOUS.get() else { return };
        let h = prev.sa_sigaction;
        if h == libc::SIG_DFL || h == libc::SIG_IGN {
            return;
        }
        // SAFETY: `h` is the address of a handler the process installed,
        // of the kind its flags say.
        unsafe {
            if prev.sa_flags & libc::SA_SIGINFO != 0 {
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    std::mem::transmute(h);
                f(sig, info, ctx);
            } else {
                let f: extern "C" fn(libc::c_int) = std::mem::transmute(h);
                f(sig);
            }
        }
    }

    pub fn install() {
        // SAFETY: plain sigaction calls on zeroed structs; ours is
        // installed only once, after the previous one is recorded.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGINT, std::ptr::null(), &mut old) != 0 {
                return;
            }
            // Python's default when it owns the signal; a process that
            // ignores SIGINT (a background job) keeps ignoring it
            if old.sa_sigaction == libc::SIG_IGN || PREVIOUS.set(old).is_err() {
                return;
            }
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = on_sigint as *const () as usize;
            new.sa_flags =
                libc::SA_SIGINFO | (old.sa_flags & (libc::SA_RESTART | libc::SA_ONSTACK));
            new.sa_mask = old.sa_mask;
            libc::sigaction(libc::SIGINT, &new, std::ptr::null_mut());
        }
    }
}

#[cfg(not(unix))]
mod imp {
    pub fn install() {}
}

/// Puts the handler in front of the current SIGINT handler (once).
pub fn install() {
    imp::install();
}
