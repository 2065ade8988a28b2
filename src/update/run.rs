//! Periodic checks: [`Updater::run`] (blocking) and [`Updater::spawn`] (a thread).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{MAX_DURATION, Outcome, Updater};

/// The shortest interval and backoff delay of a [`Schedule`]: one second. Shorter ones are
/// raised to it, so that a zero interval cannot make a loop of requests.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// `d` within `MIN_INTERVAL..=MAX_DURATION`.
fn clamp(d: Duration) -> Duration {
    d.clamp(MIN_INTERVAL, MAX_DURATION)
}

/// When to check: an interval with random jitter, exponential backoff after failures, and
/// when to call the list stale. Every delay lies between [`MIN_INTERVAL`] (one second) and
/// [`MAX_DURATION`](super::MAX_DURATION) (one year): others are clamped to these bounds.
///
/// ```
/// use std::time::Duration;
/// use c2trie::update::Schedule;
///
/// let s = Schedule::every(Duration::from_secs(3600))
///     .jitter(0.1)
///     .backoff(Duration::from_secs(30), Duration::from_secs(4 * 3600))
///     .stale_after(3);
/// assert_eq!(s.interval(), Duration::from_secs(3600));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    interval: Duration,
    jitter: f64,
    retry_min: Duration,
    retry_max: Duration,
    stale_after: u32,
}

impl Schedule {
    /// Checks every `interval`, ±10 %; after a failure, retries after
    /// `min(interval, 30 s)`, doubling with each further failure up to four intervals; stale
    /// after three intervals without a successful check.
    pub fn every(interval: Duration) -> Schedule {
        let interval = clamp(interval);
        Schedule {
            interval,
            jitter: 0.1,
            retry_min: interval.min(Duration::from_secs(30)),
            retry_max: clamp(interval.saturating_mul(4)),
            stale_after: 3,
        }
    }

    /// The random spread of every delay, as a fraction of it (0.1: ±10 %); clamped to
    /// `0.0..=0.5`. Spreads a fleet's requests over time instead of in one burst.
    #[must_use]
    pub fn jitter(mut self, fraction: f64) -> Schedule {
        self.jitter = if fraction.is_nan() {
            0.0
        } else {
            fraction.clamp(0.0, 0.5)
        };
        self
    }

    /// After the first failure retry after `min`, then twice as long after each further
    /// failure, up to `max` (both clamped to `MIN_INTERVAL..=MAX_DURATION`).
    #[must_use]
    pub fn backoff(mut self, min: Duration, max: Duration) -> Schedule {
        self.retry_min = clamp(min);
        self.retry_max = clamp(max).max(self.retry_min);
        self
    }

    /// Signal staleness ([`Event::Stale`], [`Runner::is_stale`]) after `intervals`
    /// intervals without a successful check (at least 1).
    #[must_use]
    pub fn stale_after(mut self, intervals: u32) -> Schedule {
        self.stale_after = intervals.max(1);
        self
    }

    /// The interval between successful checks.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The delay before the next check after `failures` consecutive failures (0: after a
    /// success), before jitter.
    pub fn delay(&self, failures: u32) -> Duration {
        if failures == 0 {
            return self.interval;
        }
        let factor = 1u32.checked_shl(failures - 1).unwrap_or(u32::MAX);
        self.retry_min.saturating_mul(factor).min(self.retry_max)
    }

    /// How long without a successful check makes the list stale.
    pub fn stale_threshold(&self) -> Duration {
        self.interval.saturating_mul(self.stale_after)
    }

    fn jittered(&self, d: Duration) -> Duration {
        if self.jitter == 0.0 {
            return d;
        }
        let mut b = [0u8; 8];
        // Without randomness, no jitter: the schedule still holds.
        if getrandom::fill(&mut b).is_err() {
            return d;
        }
        // A uniform value in [-1, 1).
        let unit = (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
        Duration::try_from_secs_f64(d.as_secs_f64() * (1.0 + self.jitter * unit)).unwrap_or(d)
    }
}

/// What the periodic runner reports.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A check ended with `outcome`; the next one is in `next`.
    Checked {
        /// What the check did.
        outcome: &'a Outcome,
        /// The delay before the next check (jitter and backoff applied).
        next: Duration,
        /// Consecutive failed checks, this one included (0 after a success).
        failures: u32,
    },
    /// No check has succeeded for the schedule's stale threshold: list delivery has
    /// stopped. Reported once, when it happens; a later successful check clears it.
    Stale {
        /// Time since the last successful check (or since the start, if none).
        since_success: Duration,
    },
}

/// Stops a running [`Updater::run`] loop, also from another thread; cloning shares it.
#[derive(Debug, Clone, Default)]
pub struct StopHandle(Arc<(Mutex<bool>, Condvar)>);

impl StopHandle {
    /// A handle not yet stopped.
    pub fn new() -> StopHandle {
        StopHandle::default()
    }

    /// Stops the loop: a wait in progress ends at once; a check in progress finishes first.
    pub fn stop(&self) {
        let (lock, cvar) = &*self.0;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cvar.notify_all();
    }

    /// Whether [`StopHandle::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        *self.0.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits `d` or until stopped; true when stopped.
    fn wait(&self, d: Duration) -> bool {
        let (lock, cvar) = &*self.0;
        let now = Instant::now();
        // A point in time too far to represent is waited for a year at a time.
        let end = now
            .checked_add(d)
            .or_else(|| now.checked_add(MAX_DURATION))
            .unwrap_or(now);
        let mut stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
        while !*stopped {
            let Some(left) = end
                .checked_duration_since(Instant::now())
                .filter(|l| !l.is_zero())
            else {
                return false;
            };
            stopped = cvar
                .wait_timeout(stopped, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

/// A periodic updater on its own thread ([`Updater::spawn`]).
#[derive(Debug)]
pub struct Runner {
    stop: StopHandle,
    stale: Arc<AtomicBool>,
    thread: Option<JoinHandle<Updater>>,
}

impl Runner {
    /// Whether the list is stale: no check has succeeded for the schedule's threshold.
    pub fn is_stale(&self) -> bool {
        self.stale.load(Ordering::Acquire)
    }

    /// A handle that stops the thread.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Stops the thread (after the check in progress, if any) and returns the updater.
    /// `None` if the thread panicked (in the event callback).
    pub fn stop(mut self) -> Option<Updater> {
        self.stop.stop();
        self.thread.take()?.join().ok()
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Updater {
    /// Checks at once, then on `schedule` until `stop` is stopped, reporting each check and
    /// staleness to `on_event`. Blocks the calling thread.
    pub fn run(
        &mut self,
        schedule: &Schedule,
        stop: &StopHandle,
        mut on_event: impl FnMut(Event<'_>),
    ) {
        let start = Instant::now();
        let mut last_success: Option<Instant> = None;
        let mut failures = 0u32;
        let mut stale = false;
        while !stop.is_stopped() {
            let outcome = self.check_once();
            if outcome.is_success() {
                failures = 0;
                last_success = Some(Instant::now());
                stale = false;
            } else {
                failures = failures.saturating_add(1);
            }
            let next = schedule.jittered(schedule.delay(failures));
            on_event(Event::Checked {
                outcome: &outcome,
                next,
                failures,
            });
            let since = last_success.unwrap_or(start).elapsed();
            if !stale && failures > 0 && since >= schedule.stale_threshold() {
                stale = true;
                on_event(Event::Stale {
                    since_success: since,
                });
            }
            if stop.wait(next) {
                break;
            }
        }
    }

    /// [`Updater::run`] on a new thread. The returned [`Runner`] stops it (also when
    /// dropped) and tells whether the list is stale.
    ///
    /// # Errors
    ///
    /// When the thread cannot be spawned.
    pub fn spawn(
        mut self,
        schedule: Schedule,
        mut on_event: impl FnMut(Event<'_>) + Send + 'static,
    ) -> std::io::Result<Runner> {
        let stop = StopHandle::new();
        let stale = Arc::new(AtomicBool::new(false));
        let (s, f) = (stop.clone(), Arc::clone(&stale));
        let thread = std::thread::Builder::new()
            .name("c2trie-update".into())
            .spawn(move || {
                self.run(&schedule, &s, |e| {
                    match &e {
                        Event::Stale { .. } => f.store(true, Ordering::Release),
                        Event::Checked { outcome, .. } if outcome.is_success() => {
                            f.store(false, Ordering::Release);
                        }
                        _ => {}
                    }
                    on_event(e);
                });
                self
            })?;
        Ok(Runner {
            stop,
            stale,
            thread: Some(thread),
        })
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let s = Schedule::every(Duration::from_secs(3600))
            .backoff(Duration::from_secs(30), Duration::from_secs(600));
        assert_eq!(s.delay(0), Duration::from_secs(3600));
        let secs: Vec<u64> = (0..8).map(|f| s.delay(f).as_secs()).collect();
        assert_eq!(secs, [3600, 30, 60, 120, 240, 480, 600, 600]);
        assert_eq!(s.delay(u32::MAX), Duration::from_secs(600));
    }

    #[test]
    fn jitter_stays_within_its_bounds() {
        let s = Schedule::every(Duration::from_secs(100)).jitter(0.1);
        let ds: Vec<Duration> = (0..200)
            .map(|_| s.jittered(Duration::from_secs(100)))
            .collect();
        assert!(ds.iter().all(|d| (90.0..=110.0).contains(&d.as_secs_f64())));
        // Not all the same: the spread is real.
        assert!(ds.iter().any(|d| *d != ds[0]));
        assert_eq!(
            Schedule::every(Duration::from_secs(5))
                .jitter(0.0)
                .jittered(Duration::from_secs(5)),
            Duration::from_secs(5)
        );
    }

    /// Zero delays are raised to the minimum, huge ones are clamped without a panic.
    #[test]
    fn delays_are_bounded() {
        let s = Schedule::every(Duration::ZERO).backoff(Duration::ZERO, Duration::ZERO);
        assert_eq!(s.interval(), MIN_INTERVAL);
        assert!((0..40).all(|f| s.delay(f) >= MIN_INTERVAL));
        let s = Schedule::every(Duration::MAX)
            .jitter(0.5)
            .backoff(Duration::MAX, Duration::MAX);
        assert_eq!(s.interval(), MAX_DURATION);
        for f in 0..40 {
            let d = s.jittered(s.delay(f));
            assert!(d <= MAX_DURATION.mul_f64(1.5), "{d:?}");
        }
        assert!(s.stale_threshold() >= MAX_DURATION);
        // A wait that cannot be added to now neither panics nor ends early when stopped.
        let stop = StopHandle::new();
        stop.stop();
        assert!(stop.wait(Duration::MAX));
    }

    #[test]
    fn stop_ends_a_wait_at_once() {
        let stop = StopHandle::new();
        let s2 = stop.clone();
        let t = std::thread::spawn(move || {
            let t0 = Instant::now();
            assert!(s2.wait(Duration::from_secs(30)));
            t0.elapsed()
        });
        std::thread::sleep(Duration::from_millis(50));
        stop.stop();
        let waited = t.join().expect("no panic");
        assert!(waited < Duration::from_secs(10), "{waited:?}");
        assert!(!StopHandle::new().wait(Duration::from_millis(1)));
    }
}
