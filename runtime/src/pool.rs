//! The worker threads parallel loops run on: a fixed set of threads that
//! join the calling thread on one job at a time (fork-join, like OpenMP's
//! and Halide's runtimes), never a thread per call.
//!
//! Why not rayon's pool: a thread outside a rayon pool that installs work
//! blocks while the pool's workers run it, and the workers wake one
//! another as they split the work — after the pool was idle for a while
//! (a kernel called now and then from a pipeline or a notebook), the last
//! worker to wake found little left and a 2-thread call ran at about one
//! thread's speed. Here the caller works from the first instant, every
//! worker is woken at once, and chunks are claimed one by one from a
//! shared counter, so a worker that wakes late only does less.
//!
//! Between jobs, workers spin before they sleep, for as long as the calls
//! have been coming ([`spin_limit`]): a kernel called every 50 ms — from a
//! pipeline, a notebook cell in a loop, a benchmark — finds its workers
//! awake, which matters because waking a sleeping core can take
//! milliseconds (a VM's idle virtual CPU, a scheduler that packs the woken
//! thread onto the caller's core until it rebalances). Spinning costs
//! energy and gains time: it stops after [`SPIN`] when calls are rare (or
//! at once with `PJ_SPIN_MS=0`), never lasts past `PJ_SPIN_MS` (default
//! [`DEFAULT_SPIN_CAP`]), so a pool nobody calls sleeps, and ends as soon
//! as another thread needs the core (another pool's job: each shared
//! library built by `pj build` links its own runtime).

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The shortest a worker looks for the next job before it sleeps: calls
/// made back to back find it awake.
pub const SPIN: Duration = Duration::from_micros(200);

/// A gap this long between two looks at the clock while spinning means
/// the core went to another thread: the worker stops spinning.
const PREEMPTED: Duration = Duration::from_micros(500);

/// The longest a worker spins waiting for the next call, unless
/// `PJ_SPIN_MS` says otherwise: Intel's OpenMP runtime spins as long by
/// default (`KMP_BLOCKTIME`); it bridges a kernel called every 50 ms
/// alternately with another (each called every ~120 ms).
pub const DEFAULT_SPIN_CAP: Duration = Duration::from_millis(200);

/// `PJ_SPIN_MS`, read once: the longest spin between calls.
fn spin_cap() -> Duration {
    static CAP: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *CAP.get_or_init(|| {
        std::env::var("PJ_SPIN_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(DEFAULT_SPIN_CAP, |ms| Duration::from_millis(ms.min(10_000)))
    })
}

/// How long a worker spins after a job, given the time between the starts
/// of the last two jobs: twice that, so the next call of a steady rhythm
/// finds it spinning, when `cap` allows bridging it at all; otherwise (a
/// first call, calls rarer than `cap`) just [`SPIN`]. With `cap` zero,
/// never.
pub fn spin_limit(interval: Option<Duration>, cap: Duration) -> Duration {
    if cap.is_zero() {
        return Duration::ZERO;
    }
    match interval {
        Some(i) if i <= cap => (i * 2).clamp(SPIN, cap),
        _ => SPIN.min(cap),
    }
}

/// A work function every participating thread calls once; it claims its
/// share of the work itself. Stored with its lifetime erased: [`Pool::run`]
/// does not return before every worker that started it has returned.
#[derive(Clone, Copy)]
struct JobRef(*const (dyn Fn() + Sync + 'static));

// SAFETY: the function is `Sync`, and `Pool::run` keeps it alive while
// workers hold the pointer.
unsafe impl Send for JobRef {}

struct Slot {
    /// The job on offer; `None` when there is none or it was withdrawn.
    job: Option<JobRef>,
    /// How many more workers may still join it.
    places: usize,
    /// Workers inside the job's function.
    inside: usize,
    /// Bumped for every job, so a worker takes each job at most once.
    epoch: u64,
    shutdown: bool,
}

struct Shared {
    slot: Mutex<Slot>,
    /// Workers wait here for a job.
    work: Condvar,
    /// The caller waits here for the workers to leave its job.
    left: Condvar,
    /// A copy of `Slot::epoch` that spinning workers read without the lock.
    epoch: AtomicU64,
    /// A copy of `Slot::shutdown`, likewise.
    shutdown: AtomicBool,
    /// How long workers spin after the current job ([`spin_limit`]), in
    /// nanoseconds; set by the caller that publishes it.
    spin_ns: AtomicU64,
    /// When the last job was published, for the interval between calls.
    last_start: Mutex<Option<Instant>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        // nothing panics while holding the lock; a poisoned one is fine
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }
}

thread_local! {
    /// Set on a pool's workers, and on a caller while its job runs: a
    /// parallel loop nested in a chunk runs inline.
    static INSIDE_A_JOB: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread is running a chunk of a parallel loop.
pub fn inside_a_job() -> bool {
    INSIDE_A_JOB.with(|c| c.get())
}

/// A pool of `threads - 1` workers; the thread that calls [`Pool::run`] is
/// the last.
pub struct Pool {
    shared: Arc<Shared>,
    threads: usize,
}

impl Pool {
    /// Starts `threads - 1` workers (none for 1 thread).
    pub fn new(threads: usize) -> Result<Pool, String> {
        let shared = Arc::new(Shared {
            slot: Mutex::new(Slot {
                job: None,
                places: 0,
                inside: 0,
                epoch: 0,
                shutdown: false,
            }),
            work: Condvar::new(),
            left: Condvar::new(),
            epoch: AtomicU64::new(0),
            shutdown: AtomicBool::new(false),
            spin_ns: AtomicU64::new(SPIN.as_nanos() as u64),
            last_start: Mutex::new(None),
        });
        let pool = Pool {
            shared,
            threads: threads.max(1),
        };
        for i in 1..pool.threads {
            let shared = Arc::clone(&pool.shared);
            std::thread::Builder::new()
                .name(format!("pj-worker-{i}"))
                .spawn(move || worker(&shared))
                // dropping `pool` stops the workers already started
                .map_err(|e| format!("cannot start {threads} threads: {e}"))?;
        }
        Ok(pool)
    }

    /// Threads a job runs on, the caller included.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `job` on this thread and on up to `helpers` workers, each
    /// calling it once, and returns when all calls have returned. Returns
    /// `false` without running anything when the pool is busy with another
    /// caller's job (the caller then runs it alone).
    pub fn run(&self, helpers: usize, job: &(dyn Fn() + Sync)) -> bool {
        let helpers = helpers.min(self.threads - 1);
        if helpers == 0 {
            return false;
        }
        // SAFETY: only the lifetime is erased; the pointer is withdrawn and
        // every worker has left the function before this returns.
        let erased = JobRef(unsafe {
            std::mem::transmute::<*const (dyn Fn() + Sync + '_), *const (dyn Fn() + Sync + 'static)>(
                job,
            )
        });
        {
            let mut slot = self.shared.lock();
            if slot.job.is_some() || slot.inside > 0 {
                return false;
            }
            let now = Instant::now();
            let mut last = self
                .shared
                .last_start
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let interval = last.map(|t| now.duration_since(t));
            *last = Some(now);
            let spin = spin_limit(interval, spin_cap());
            self.shared
                .spin_ns
                .store(spin.as_nanos() as u64, Ordering::Relaxed);
            slot.job = Some(erased);
            slot.places = helpers;
            slot.epoch += 1;
            self.shared.epoch.store(slot.epoch, Ordering::Release);
        }
        // sleeping workers; spinning ones see the epoch
        self.shared.work.notify_all();
        let was_inside = INSIDE_A_JOB.with(|c| c.replace(true));
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(job));
        INSIDE_A_JOB.with(|c| c.set(was_inside));
        let mut slot = self.shared.lock();
        slot.job = None;
        while slot.inside > 0 {
            slot = self
                .shared
                .left
                .wait(slot)
                .unwrap_or_else(|e| e.into_inner());
        }
        drop(slot);
        if let Err(p) = outcome {
            std::panic::resume_unwind(p);
        }
        true
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Release);
        self.shared.lock().shutdown = true;
        self.shared.work.notify_all();
    }
}

fn worker(shared: &Shared) {
    INSIDE_A_JOB.with(|c| c.set(true));
    let mut seen = 0;
    loop {
        // look for the next job for a while before sleeping
        let start = Instant::now();
        let limit = Duration::from_nanos(shared.spin_ns.load(Ordering::Relaxed));
        let mut spins = 0u32;
        let mut checked = start;
        while shared.epoch.load(Ordering::Acquire) == seen
            && !shared.shutdown.load(Ordering::Acquire)
        {
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(256) {
                let now = Instant::now();
                // past the limit, or the core was taken from this worker
                // for a while (another thread has work here): sleep
                if now.duration_since(start) > limit || now.duration_since(checked) > PREEMPTED {
                    break;
                }
                checked = now;
                std::thread::yield_now();
            }
        }
        let mut slot = shared.lock();
        while slot.epoch == seen && !slot.shutdown {
            slot = shared.work.wait(slot).unwrap_or_else(|e| e.into_inner());
        }
        if slot.shutdown {
            return;
        }
        seen = slot.epoch;
        let Some(job) = slot.job.filter(|_| slot.places > 0) else {
            continue;
        };
        slot.places -= 1;
        slot.inside += 1;
        drop(slot);
        // SAFETY: `Pool::run` keeps the function alive until `inside` is 0.
        let f = unsafe { &*job.0 };
        // a panic (a runtime bug) must not leave the caller waiting
        let _ = std::panic::catch_unwind(AssertUnwindSafe(f));
        let mut slot = shared.lock();
        slot.inside -= 1;
        if slot.inside == 0 {
            shared.left.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn workers_spin_through_a_steady_rhythm_of_calls_and_no_longer() {
        let cap = DEFAULT_SPIN_CAP;
        let ms = Duration::from_millis;
        // the first call: no rhythm yet
        assert_eq!(spin_limit(None, cap), SPIN);
        // every 50 ms: twice that, within the cap
        assert_eq!(spin_limit(Some(ms(50)), cap), ms(100));
        assert_eq!(spin_limit(Some(ms(150)), cap), cap);
        // back to back: at least the short spin
        assert_eq!(spin_limit(Some(Duration::from_micros(10)), cap), SPIN);
        // rarer than the cap: spinning would not bridge it
        assert_eq!(spin_limit(Some(ms(500)), cap), SPIN);
        // PJ_SPIN_MS=0: never
        assert_eq!(spin_limit(Some(ms(1)), Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn every_helper_and_the_caller_run_the_job_once() {
        let pool = Pool::new(4).unwrap();
        for helpers in [0, 1, 3, 10] {
            let calls = AtomicUsize::new(0);
            let ran = pool.run(helpers, &|| {
                calls.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(2));
            });
            assert_eq!(ran, helpers > 0, "{helpers} helpers");
            let got = calls.load(Ordering::SeqCst);
            // the caller always; helpers as they arrive, at most as asked
            if ran {
                assert!((1..=1 + helpers.min(3)).contains(&got), "{helpers}: {got}");
            }
        }
    }

    #[test]
    fn work_claimed_from_a_counter_is_shared_with_woken_workers() {
        let pool = Pool::new(2).unwrap();
        // after the workers went to sleep, a job still reaches them
        std::thread::sleep(SPIN * 5);
        let next = AtomicUsize::new(0);
        let by = Mutex::new(std::collections::HashSet::new());
        assert!(pool.run(1, &|| {
            while next.fetch_add(1, Ordering::SeqCst) < 200 {
                by.lock().unwrap().insert(std::thread::current().id());
                std::thread::sleep(Duration::from_micros(200));
            }
        }));
        assert!(next.load(Ordering::SeqCst) >= 200);
        assert_eq!(by.lock().unwrap().len(), 2, "both threads took chunks");
    }

    #[test]
    fn a_second_caller_finds_the_pool_busy() {
        let pool = Arc::new(Pool::new(2).unwrap());
        let inner = Arc::clone(&pool);
        let busy = AtomicBool::new(false);
        assert!(pool.run(1, &|| {
            if std::thread::current().name() == Some("pj-worker-1") {
                return;
            }
            // the caller, while its job is on offer
            busy.store(!inner.run(1, &|| {}), Ordering::SeqCst);
        }));
        assert!(busy.load(Ordering::SeqCst));
    }
}
