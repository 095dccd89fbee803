//! The parallel-for that generated code calls for `loop.parallel`: the
//! iteration range is cut into chunks run on a fixed pool of worker threads
//! (rayon's global pool: `RAYON_NUM_THREADS` sets its size), never a thread
//! per call. Small ranges and single-thread pools run inline, with no
//! overhead beyond the call.

use rayon::prelude::*;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};

/// A chunk of a parallel loop: `body(ctx, lo, hi)` runs iterations
/// `lo..hi` and returns a status.
pub type ChunkFn = extern "C" fn(*const u8, i64, i64) -> i32;

/// The context pointer, shared read-only by every chunk.
#[derive(Clone, Copy)]
struct Ctx(*const u8);
// SAFETY: generated code only reads the context, which outlives the call.
unsafe impl Send for Ctx {}
unsafe impl Sync for Ctx {}

impl Ctx {
    /// The pointer (a method, so closures capture the `Sync` wrapper, not the raw field).
    fn get(&self) -> *const u8 {
        self.0
    }
}

/// Runs `body` over `lo..hi` in chunks of at least `grain` iterations on
/// the worker pool. Returns 0, or the status of a failing chunk (the first
/// to fail), whose message is then this thread's last error. After a chunk
/// fails, chunks not yet started are skipped.
#[unsafe(no_mangle)]
pub extern "C" fn pj_rt_parallel_for(
    lo: i64,
    hi: i64,
    grain: i64,
    body: ChunkFn,
    ctx: *const u8,
) -> i32 {
    let n = hi.saturating_sub(lo);
    if n <= 0 {
        return 0;
    }
    let grain = grain.max(1);
    let pool = if rayon::current_thread_index().is_some() {
        // nested in a chunk: the pool this worker belongs to
        None
    } else {
        POOL.with(|p| p.borrow().clone()).or_else(process_pool)
    };
    let threads =
        pool.as_ref()
            .map_or_else(rayon::current_num_threads, |p| p.current_num_threads()) as i64;
    if crate::interrupt::requested() {
        return crate::interrupt::fail();
    }
    if threads <= 1 || n <= grain {
        // inline, in grain-sized chunks so that a request can stop it
        let mut a = lo;
        while a < hi {
            let b = a.saturating_add(grain).min(hi);
            let st = body(ctx, a, b);
            if st != 0 {
                return st;
            }
            a = b;
            if a < hi && crate::interrupt::requested() {
                return crate::interrupt::fail();
            }
        }
        return 0;
    }
    // a few chunks per thread balance uneven work; each at least `grain`
    let chunks = (n / grain).clamp(1, 4 * threads);
    let size = (n + chunks - 1) / chunks;
    let ctx = Ctx(ctx);
    let status = AtomicI32::new(0);
    let message: Mutex<Option<String>> = Mutex::new(None);
    let run_chunks = || {
        (0..chunks).into_par_iter().for_each(|c| {
            if status.load(Ordering::Relaxed) != 0 {
                return;
            }
            if crate::interrupt::requested() {
                if status
                    .compare_exchange(
                        0,
                        crate::abi::status::INTERRUPTED,
                        Ordering::SeqCst,
                        Ordering::SeqCst,
                    )
                    .is_ok()
                {
                    crate::interrupt::fail();
                    *message.lock().unwrap_or_else(|e| e.into_inner()) = crate::error::last_error();
                }
                return;
            }
            let a = lo + c * size;
            let b = (a + size).min(hi);
            if a >= b {
                return;
            }
            let st = body(ctx.get(), a, b);
            if st != 0
                && status
                    .compare_exchange(0, st, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            {
                // the message was recorded on this worker; carry it to the caller
                *message.lock().unwrap_or_else(|e| e.into_inner()) = crate::error::last_error();
            }
        })
    };
    match &pool {
        Some(p) => p.install(run_chunks),
        None => run_chunks(),
    }
    let st = status.load(Ordering::SeqCst);
    if st != 0 {
        let msg = message.into_inner().unwrap_or_else(|e| e.into_inner());
        crate::error::set_error(msg.as_deref().unwrap_or("a parallel chunk failed"));
    }
    st
}

thread_local! {
    /// The pool parallel loops started on this thread use ([`with_pool`]).
    static POOL: std::cell::RefCell<Option<std::sync::Arc<rayon::ThreadPool>>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `f` with the parallel loops it starts on this thread using `pool`
/// (`None`: the global pool) — how one process runs kernels with a thread
/// count it changes at will (`pj repl`'s `:threads`).
pub fn with_pool<R>(pool: Option<std::sync::Arc<rayon::ThreadPool>>, f: impl FnOnce() -> R) -> R {
    let old = POOL.with(|p| std::mem::replace(&mut *p.borrow_mut(), pool));
    let r = f();
    POOL.with(|p| *p.borrow_mut() = old);
    r
}

/// The most worker threads a pool may have: more is a mistake (each
/// thread reserves a stack), not a request to honour.
pub const MAX_THREADS: usize = 1024;

/// The process's pool, once sized by [`set_threads`] or `PJ_THREADS`;
/// `None` until then (rayon's global pool serves).
static PROCESS_POOL: std::sync::RwLock<Option<std::sync::Arc<rayon::ThreadPool>>> =
    std::sync::RwLock::new(None);

fn process_pool() -> Option<std::sync::Arc<rayon::ThreadPool>> {
    static FROM_ENV: std::sync::Once = std::sync::Once::new();
    FROM_ENV.call_once(|| {
        // `PJ_THREADS=n`, read once; a value that is not a thread count
        // is ignored (the default pool serves), never an abort
        if let Some(n) = std::env::var("PJ_THREADS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
        {
            let _ = set_threads(n);
        }
    });
    PROCESS_POOL
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

/// Sizes the pool parallel loops of this process use (threads that set
/// their own with [`with_pool`] keep theirs): 1 to [`MAX_THREADS`]
/// threads, or an error saying why not. Loops already running finish on
/// the pool they started on.
pub fn set_threads(n: usize) -> Result<(), String> {
    if !(1..=MAX_THREADS).contains(&n) {
        return Err(format!(
            "{n} threads: a pool has 1 to {MAX_THREADS} threads"
        ));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .map_err(|e| format!("cannot start {n} threads: {e}"))?;
    *PROCESS_POOL.write().unwrap_or_else(|e| e.into_inner()) = Some(std::sync::Arc::new(pool));
    Ok(())
}

/// `int32_t pj_set_threads(int32_t n)`: [`set_threads`] for C callers;
/// returns `PJ_OK`, or `PJ_BAD_ARGUMENT` with the reason in
/// `pj_last_error()`.
#[unsafe(no_mangle)]
pub extern "C" fn pj_set_threads(n: i32) -> i32 {
    let n = usize::try_from(n).unwrap_or(0);
    match set_threads(n) {
        Ok(()) => crate::abi::status::OK,
        Err(why) => {
            crate::error::set_error(&why);
            crate::abi::status::BAD_ARGUMENT
        }
    }
}

/// The number of worker threads parallel loops started on this thread use.
pub fn threads() -> usize {
    POOL.with(|p| p.borrow().clone())
        .or_else(process_pool)
        .map_or_else(rayon::current_num_threads, |p| p.current_num_threads())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicI64;

    extern "C" fn add_range(ctx: *const u8, lo: i64, hi: i64) -> i32 {
        // SAFETY: the test passes a pointer to an AtomicI64.
        let total = unsafe { &*(ctx as *const AtomicI64) };
        for i in lo..hi {
            total.fetch_add(i, Ordering::Relaxed);
        }
        0
    }

    extern "C" fn fail_at_500(_: *const u8, lo: i64, hi: i64) -> i32 {
        if (lo..hi).contains(&500) {
            let m = b"chunk {0} failed";
            return unsafe { crate::error::pj_rt_fail(4, m.as_ptr(), m.len(), lo, 0) };
        }
        0
    }

    /// Counts iterations and asks to stop once past 1000.
    extern "C" fn stop_after_1000(ctx: *const u8, lo: i64, hi: i64) -> i32 {
        // SAFETY: the test passes a pointer to an AtomicI64.
        let done = unsafe { &*(ctx as *const AtomicI64) };
        if done.fetch_add(hi - lo, Ordering::SeqCst) + (hi - lo) > 1000 {
            crate::interrupt::request();
        }
        0
    }

    #[test]
    fn a_stop_request_ends_the_loop_between_chunks() {
        let _serial = crate::interrupt::tests::LOCK
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // one thread (inline, in grain-sized chunks) and a pool of two
        for threads in [1, 2] {
            let pool = std::sync::Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap(),
            );
            crate::interrupt::clear();
            let done = AtomicI64::new(0);
            let st = with_pool(Some(pool), || {
                pj_rt_parallel_for(
                    0,
                    1_000_000,
                    100,
                    stop_after_1000,
                    &done as *const AtomicI64 as *const u8,
                )
            });
            assert_eq!(st, crate::abi::status::INTERRUPTED, "{threads} threads");
            assert!(crate::error::last_error().unwrap().contains("interrupted"));
            assert!(
                done.load(Ordering::SeqCst) < 1_000_000,
                "{threads} threads: stopped early"
            );
            assert!(crate::interrupt::take(), "the request stays until taken");
        }
    }

    #[test]
    fn every_iteration_runs_once() {
        let _serial = crate::interrupt::tests::LOCK
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for (lo, hi, grain) in [(0, 1000, 1), (-5, 7, 3), (3, 3, 1), (0, 100_000, 64)] {
            let total = AtomicI64::new(0);
            let st = pj_rt_parallel_for(
                lo,
                hi,
                grain,
                add_range,
                &total as *const AtomicI64 as *const u8,
            );
            assert_eq!(st, 0);
            assert_eq!(
                total.load(Ordering::Relaxed),
                (lo..hi).sum::<i64>(),
                "{lo}..{hi}"
            );
        }
    }

    #[test]
    fn a_failing_chunk_reports_its_status_and_message_to_the_caller() {
        let _serial = crate::interrupt::tests::LOCK
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let st = pj_rt_parallel_for(0, 1000, 1, fail_at_500, std::ptr::null());
        assert_eq!(st, 4);
        let msg = crate::error::last_error().unwrap();
        assert!(
            msg.starts_with("chunk ") && msg.ends_with(" failed"),
            "{msg}"
        );
    }

    #[test]
    fn thread_counts_out_of_range_are_refused_not_aborted() {
        for n in [0, -3, 5000, i32::MAX] {
            assert_eq!(pj_set_threads(n), crate::abi::status::BAD_ARGUMENT, "{n}");
            let msg = crate::error::last_error().unwrap();
            assert!(msg.contains("a pool has 1 to 1024 threads"), "{msg}");
        }
    }
}
