//! What protects kadro from a slow or dead Commerce platform: a bulkhead (at most
//! `KADRO_COMMERCE_MAX_IN_FLIGHT` calls at once) and a circuit breaker (after
//! `KADRO_COMMERCE_BREAKER_FAILURES` consecutive failures, calls fail at once until a trial call,
//! let through every `KADRO_COMMERCE_BREAKER_COOLDOWN_MS`, succeeds).
//!
//! Written by hand: the breaker crates on crates.io either bring their own runtime model or
//! count failures over windows; this is the classic three-state breaker in a few lines, and its
//! state is shown on `/metrics`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};

/// The settings of [`CommerceGuard`].
#[derive(Clone, Copy, Debug)]
pub struct GuardSettings {
    pub max_in_flight: usize,
    pub breaker_failures: u32,
    pub cooldown: Duration,
    /// How long a call may wait for a free slot before it fails.
    pub queue_wait: Duration,
}

#[derive(Debug)]
enum Breaker {
    Closed,
    /// Failing fast until the instant; then one trial call is let through.
    Open(Instant),
    /// A trial call is in flight; others fail fast.
    Trial,
}

/// Why a call was not made.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The breaker is open.
    Open,
    /// Every slot stayed busy while the call waited.
    Busy,
}

#[derive(Debug)]
pub struct CommerceGuard {
    settings: GuardSettings,
    slots: Semaphore,
    failures: AtomicU32,
    breaker: Mutex<Breaker>,
}

/// A call allowed through; report how it went with [`CommerceGuard::finish`].
pub struct Pass<'a> {
    _slot: SemaphorePermit<'a>,
}

impl CommerceGuard {
    pub fn new(settings: GuardSettings) -> Self {
        CommerceGuard {
            slots: Semaphore::new(settings.max_in_flight.max(1)),
            settings,
            failures: AtomicU32::new(0),
            breaker: Mutex::new(Breaker::Closed),
        }
    }

    /// Lets a call through, or refuses it at once (breaker open) or after waiting for a slot.
    pub async fn enter(&self) -> Result<Pass<'_>, Refused> {
        self.admit()?;
        let slot = tokio::time::timeout(self.settings.queue_wait, self.slots.acquire())
            .await
            .map_err(|_| Refused::Busy)?
            .map_err(|_| Refused::Busy)?;
        Ok(Pass { _slot: slot })
    }

    /// Records how a call ended: a success closes the breaker, a failure counts towards
    /// opening it.
    pub fn finish(&self, pass: Pass<'_>, succeeded: bool) {
        drop(pass);
        let mut breaker = self.breaker.lock().unwrap_or_else(|e| e.into_inner());
        if succeeded {
            self.failures.store(0, Ordering::Relaxed);
            if !matches!(*breaker, Breaker::Closed) {
                tracing::info!("Commerce circuit breaker closed: a call succeeded");
            }
            *breaker = Breaker::Closed;
            return;
        }
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        let trial_failed = matches!(*breaker, Breaker::Trial);
        if trial_failed || failures >= self.settings.breaker_failures {
            if matches!(*breaker, Breaker::Closed) {
                tracing::warn!(
                    failures,
                    "Commerce circuit breaker opened: Commerce-dependent writes fail fast"
                );
            }
            *breaker = Breaker::Open(Instant::now() + self.settings.cooldown);
        }
    }

    /// Whether the breaker lets a call through now (and, when it is time, makes it the trial).
    fn admit(&self) -> Result<(), Refused> {
        let mut breaker = self.breaker.lock().unwrap_or_else(|e| e.into_inner());
        match *breaker {
            Breaker::Closed => Ok(()),
            Breaker::Open(until) if Instant::now() >= until => {
                *breaker = Breaker::Trial;
                Ok(())
            }
            Breaker::Open(_) | Breaker::Trial => Err(Refused::Open),
        }
    }

    /// Whether calls currently fail fast.
    pub fn is_open(&self) -> bool {
        let breaker = self.breaker.lock().unwrap_or_else(|e| e.into_inner());
        !matches!(*breaker, Breaker::Closed)
    }

    /// Calls in flight now.
    pub fn in_flight(&self) -> usize {
        self.settings.max_in_flight.max(1) - self.slots.available_permits()
    }

    /// The guard's state in Prometheus' text format, for `/metrics`. Rendered from this
    /// process's own guard rather than the global recorder, whose gauges every app in a test
    /// process would share.
    pub fn render_metrics(&self) -> String {
        format!(
            "# HELP kadro_commerce_breaker_open Whether Commerce calls fail fast (1: the circuit \
             breaker is open or trying a call).\n\
             # TYPE kadro_commerce_breaker_open gauge\n\
             kadro_commerce_breaker_open {}\n\
             # HELP kadro_commerce_in_flight Commerce calls in flight.\n\
             # TYPE kadro_commerce_in_flight gauge\n\
             kadro_commerce_in_flight {}\n",
            u8::from(self.is_open()),
            self.in_flight()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(cooldown: Duration) -> CommerceGuard {
        CommerceGuard::new(GuardSettings {
            max_in_flight: 2,
            breaker_failures: 3,
            cooldown,
            queue_wait: Duration::from_millis(20),
        })
    }

    #[tokio::test]
    async fn opens_after_consecutive_failures_and_closes_after_a_successful_trial() {
        let g = guard(Duration::from_millis(30));
        for _ in 0..2 {
            let pass = g.enter().await.unwrap();
            g.finish(pass, false);
        }
        // A success in between resets the count.
        let pass = g.enter().await.unwrap();
        g.finish(pass, true);
        for _ in 0..3 {
            let pass = g.enter().await.unwrap();
            g.finish(pass, false);
        }
        assert!(g.is_open());
        assert_eq!(g.enter().await.err(), Some(Refused::Open));
        tokio::time::sleep(Duration::from_millis(40)).await;
        let trial = g.enter().await.unwrap();
        // Only one trial at a time.
        assert_eq!(g.enter().await.err(), Some(Refused::Open));
        g.finish(trial, false);
        assert_eq!(g.enter().await.err(), Some(Refused::Open));
        tokio::time::sleep(Duration::from_millis(40)).await;
        let trial = g.enter().await.unwrap();
        g.finish(trial, true);
        assert!(!g.is_open());
        assert!(g.enter().await.is_ok());
    }

    #[tokio::test]
    async fn at_most_max_in_flight_calls() {
        let g = guard(Duration::from_secs(1));
        let a = g.enter().await.unwrap();
        let b = g.enter().await.unwrap();
        assert_eq!(g.enter().await.err(), Some(Refused::Busy));
        g.finish(a, true);
        assert!(g.enter().await.is_ok());
        g.finish(b, true);
    }
}
