//! The parallel-for that generated code calls for `loop.parallel`: the
//! iteration range is cut into chunks that the calling thread and the
//! workers of a [`Pool`] claim one at a time, never a thread per call.
//! Small ranges and single-thread pools run inline, with no overhead
//! beyond the call. The compiler sizes the grain (the fewest iterations
//! worth a chunk) from the work an iteration does, reductions included.

use crate::pool::Pool;
use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// A chunk of a parallel loop: `body(ctx, lo, hi)` runs iterations
/// `lo..hi` and returns a status.
pub type ChunkFn = extern "C" fn(*const u8, i64, i64) -> i32;

/// Chunks per thread: enough that a thread that starts late, or chunks of
/// uneven work, leave the others little to wait for; few enough that
/// claiming them costs nothing.
const CHUNKS_PER_THREAD: i64 = 8;

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
/// this thread and the pool's workers. Returns 0, or the status of a
/// failing chunk (the first to fail), whose message is then this thread's
/// last error. After a chunk fails, chunks not yet started are skipped.
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
    if crate::interrupt::requested() {
        return crate::interrupt::fail();
    }
    // one chunk's work runs here, without asking for the pool (a tiny
    // kernel called from Python in a loop pays for nothing else)
    if n <= grain {
        return run_inline(lo, hi, grain, body, ctx);
    }
    // a loop nested in a chunk runs inline: its threads are busy already
    let pool = if crate::pool::inside_a_job() {
        None
    } else {
        current_pool()
    };
    let threads = pool.as_ref().map_or(1, |p| p.threads()) as i64;
    if threads <= 1 || n <= grain {
        return run_inline(lo, hi, grain, body, ctx);
    }
    let chunks = (n / grain).clamp(1, CHUNKS_PER_THREAD * threads);
    let size = n / chunks + i64::from(n % chunks != 0);
    let ctx = Ctx(ctx);
    let next = AtomicI64::new(0);
    let status = AtomicI32::new(0);
    let message: Mutex<Option<String>> = Mutex::new(None);
    let fail = |st: i32| {
        if status
            .compare_exchange(0, st, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            // the message was recorded on this thread; carry it to the caller
            *message.lock().unwrap_or_else(|e| e.into_inner()) = crate::error::last_error();
        }
    };
    let claim_chunks = || {
        loop {
            let c = next.fetch_add(1, Ordering::Relaxed);
            if c >= chunks || status.load(Ordering::Relaxed) != 0 {
                return;
            }
            if crate::interrupt::requested() {
                fail(crate::interrupt::fail());
                return;
            }
            let a = lo + c * size;
            let b = a.saturating_add(size).min(hi);
            if a < b {
                let st = body(ctx.get(), a, b);
                if st != 0 {
                    fail(st);
                }
            }
        }
    };
    let helpers = usize::try_from((chunks - 1).min(threads - 1)).unwrap_or(0);
    let shared = pool.as_ref().is_some_and(|p| p.run(helpers, &claim_chunks));
    if !shared {
        // another caller has the pool: this one runs alone
        claim_chunks();
    }
    let st = status.load(Ordering::SeqCst);
    if st != 0 {
        let msg = message.into_inner().unwrap_or_else(|e| e.into_inner());
        crate::error::set_error(msg.as_deref().unwrap_or("a parallel chunk failed"));
    }
    st
}

/// The threads a parallel loop started here would share: 1 inside a
/// parallel loop's chunk (nested loops run inline), else the size of the
/// pool this thread uses. Generated code sizes work by it — a matmul packs
/// its shared operand once per panel of rows, and makes one panel per
/// thread — never its results, which do not depend on how iterations are
/// split.
#[unsafe(no_mangle)]
pub extern "C" fn pj_rt_threads() -> i64 {
    if crate::pool::inside_a_job() {
        return 1;
    }
    // read in place, not cloned: generated code asks on every call
    let local = POOL.with(|p| p.borrow().as_ref().map(|p| p.threads()));
    let threads = local.or_else(|| {
        let process = PROCESS_POOL.read().unwrap_or_else(|e| e.into_inner());
        process.as_ref().map(|p| p.threads())
    });
    match threads {
        Some(n) => n as i64,
        // no pool yet: the one the first parallel loop will make
        None => process_pool().map_or(1, |p| p.threads() as i64),
    }
}

/// Runs `lo..hi` on this thread, in grain-sized chunks so that a stop
/// request can end it between them.
fn run_inline(lo: i64, hi: i64, grain: i64, body: ChunkFn, ctx: *const u8) -> i32 {
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
    0
}

thread_local! {
    /// The pool parallel loops started on this thread use ([`with_pool`]).
    static POOL: std::cell::RefCell<Option<Arc<Pool>>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `f` with the parallel loops it starts on this thread using `pool`
/// (`None`: the process's pool) — how one process runs kernels with a
/// thread count it changes at will (`pj repl`'s `:threads`).
pub fn with_pool<R>(pool: Option<Arc<Pool>>, f: impl FnOnce() -> R) -> R {
    let old = POOL.with(|p| std::mem::replace(&mut *p.borrow_mut(), pool));
    let r = f();
    POOL.with(|p| *p.borrow_mut() = old);
    r
}

/// The most threads a pool may have: more is a mistake (each thread
/// reserves a stack), not a request to honour.
pub const MAX_THREADS: usize = 1024;

/// A pool of `threads` threads (the caller included), or why not.
pub fn pool(threads: usize) -> Result<Arc<Pool>, String> {
    if !(1..=MAX_THREADS).contains(&threads) {
        return Err(format!(
            "{threads} threads: a pool has 1 to {MAX_THREADS} threads"
        ));
    }
    Pool::new(threads).map(Arc::new)
}

/// The process's pool: sized by [`set_threads`], else by `PJ_THREADS`
/// (read once), else one thread per core this process may use.
static PROCESS_POOL: RwLock<Option<Arc<Pool>>> = RwLock::new(None);

fn process_pool() -> Option<Arc<Pool>> {
    if let Some(p) = PROCESS_POOL
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
    {
        return Some(p);
    }
    let mut slot = PROCESS_POOL.write().unwrap_or_else(|e| e.into_inner());
    if slot.is_none() {
        // `PJ_THREADS=n`; a value that is not a thread count is ignored
        // (the default serves), never an abort
        let from_env = std::env::var("PJ_THREADS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .and_then(|n| pool(n).ok());
        *slot = from_env.or_else(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            pool(cores.min(MAX_THREADS)).ok()
        });
    }
    slot.clone()
}

fn current_pool() -> Option<Arc<Pool>> {
    POOL.with(|p| p.borrow().clone()).or_else(process_pool)
}

/// Sizes the pool parallel loops of this process use (threads that set
/// their own with [`with_pool`] keep theirs): 1 to [`MAX_THREADS`]
/// threads, or an error saying why not. Loops already running finish on
/// the pool they started on.
pub fn set_threads(n: usize) -> Result<(), String> {
    let p = pool(n)?;
    *PROCESS_POOL.write().unwrap_or_else(|e| e.into_inner()) = Some(p);
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

/// The number of threads parallel loops started on this thread use.
pub fn threads() -> usize {
    current_pool().map_or(1, |p| p.threads())
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
            let pool = pool(threads).unwrap();
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

    /// Records `pj_rt_threads()` as seen from inside a chunk.
    extern "C" fn threads_inside(ctx: *const u8, _: i64, _: i64) -> i32 {
        // SAFETY: the test passes a pointer to an AtomicI64.
        let seen = unsafe { &*(ctx as *const AtomicI64) };
        seen.fetch_max(pj_rt_threads(), Ordering::SeqCst);
        0
    }

    #[test]
    fn the_thread_count_is_the_pools_outside_a_loop_and_one_inside() {
        for threads in [1, 3] {
            let seen = AtomicI64::new(0);
            with_pool(Some(pool(threads).unwrap()), || {
                assert_eq!(pj_rt_threads(), threads as i64);
                let ctx = &seen as *const AtomicI64 as *const u8;
                assert_eq!(pj_rt_parallel_for(0, 64, 1, threads_inside, ctx), 0);
            });
            assert_eq!(seen.load(Ordering::SeqCst), 1, "{threads} threads");
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
