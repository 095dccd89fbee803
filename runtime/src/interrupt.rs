//! Stopping a running kernel: a request (from a Ctrl-C handler, or any
//! thread) that parallel loops honour between chunks, failing with
//! `status::INTERRUPTED`. A kernel whose work is not in parallel loops
//! (or that is in one chunk) runs to the end; [`take`] afterwards tells
//! the caller a request came and was not honoured.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks running kernels to stop at their next chunk boundary. A single
/// atomic store: safe in a signal handler.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Withdraws any request (before a call that should run).
pub fn clear() {
    REQUESTED.store(false, Ordering::SeqCst);
}

/// Whether a request is pending, withdrawing it.
pub fn take() -> bool {
    REQUESTED.swap(false, Ordering::SeqCst)
}

/// Whether a request is pending.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// Records the message of an interrupted call and returns its status.
pub(crate) fn fail() -> i32 {
    crate::error::set_error(
        "interrupted (Ctrl-C): the kernel stopped between parallel chunks; its results are incomplete",
    );
    crate::abi::status::INTERRUPTED
}

#[cfg(test)]
pub(crate) mod tests {
    /// Tests that set the process-wide request run one at a time.
    pub static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
}
