//! The per-address limit on login attempts (`KADRO_LOGIN_RATE_PER_MINUTE`), both login
//! endpoints together.
//!
//! A token bucket per client address: a full bucket holds a minute's attempts, and it refills
//! evenly over the minute. The buckets live in this process's memory: each kadro process
//! counts its own attempts, so N processes behind a balancer let an address make up to N times
//! the rate. The per-account lockout ([`super::lockout`]) is kept in the database and holds
//! across processes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::http::client::ClientAddr;
use crate::http::error::ApiError;
use crate::state::AppState;

/// Addresses tracked before full (idle) buckets are dropped.
const PRUNE_AT: usize = 10_000;
/// Addresses tracked at most; past it every bucket is forgotten.
const MAX_ADDRESSES: usize = 100_000;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug)]
pub struct LoginRate {
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl LoginRate {
    /// `per_minute` attempts an address may make a minute; 0 turns the limit off.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one attempt from `client`; a 429 that says when the next one is allowed when the
    /// address has used up its attempts. A request without a known address is not limited.
    pub fn check(&self, client: Option<IpAddr>) -> Result<(), ApiError> {
        let Some(client) = client else { return Ok(()) };
        if self.per_minute == 0 {
            return Ok(());
        }
        match self.take(bucket_of(client), Instant::now()) {
            None => Ok(()),
            Some(wait) => Err(ApiError::Throttled(
                wait.as_secs_f64().ceil().max(1.0) as u64
            )),
        }
    }

    /// Takes a token at `now`; how long until the next one when there is none.
    fn take(&self, client: IpAddr, now: Instant) -> Option<Duration> {
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let Ok(mut buckets) = self.buckets.lock() else {
            return None;
        };
        if buckets.len() >= PRUNE_AT && !buckets.contains_key(&client) {
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_second < capacity
            });
            if buckets.len() >= MAX_ADDRESSES {
                buckets.clear();
            }
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            None
        } else {
            Some(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }
}

/// The bucket an address draws on: IPv4 addresses one each, IPv6 addresses by /64 (one
/// subscriber's network; its owner can use any of its addresses).
fn bucket_of(client: IpAddr) -> IpAddr {
    match client.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & (u128::MAX << 64)).into()),
        v4 => v4,
    }
}

/// Counts a login attempt against its client address before anything else of the request is
/// read (a malformed body counts too); 429 when the address has no attempt left.
#[derive(Clone, Copy, Debug)]
pub struct LoginAttempt;

impl FromRequestParts<AppState> for LoginAttempt {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ClientAddr(client) = ClientAddr::from_request_parts(parts, state).await?;
        state.login_rate.check(client)?;
        Ok(LoginAttempt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minutes_attempts_then_one_per_share_of_the_minute() {
        let rate = LoginRate::new(3);
        let a: IpAddr = "198.51.100.1".parse().unwrap();
        let b: IpAddr = "198.51.100.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(rate.take(a, t0), None);
        }
        assert_eq!(rate.take(a, t0), Some(Duration::from_secs(20)));
        // Another address has its own bucket.
        assert_eq!(rate.take(b, t0), None);
        // A third of a minute later one attempt is back.
        assert_eq!(rate.take(a, t0 + Duration::from_secs(20)), None);
        assert!(rate.take(a, t0 + Duration::from_secs(21)).is_some());
    }

    #[test]
    fn an_ipv6_network_shares_one_bucket() {
        let rate = LoginRate::new(1);
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_net: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_net: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(rate.check(Some(one)).is_ok());
        assert!(rate.check(Some(same_net)).is_err());
        assert!(rate.check(Some(other_net)).is_ok());
    }

    #[test]
    fn zero_or_no_address_is_unlimited() {
        let off = LoginRate::new(0);
        let a: IpAddr = "198.51.100.1".parse().unwrap();
        for _ in 0..1000 {
            assert!(off.check(Some(a)).is_ok());
        }
        let on = LoginRate::new(1);
        assert!(on.check(None).is_ok() && on.check(None).is_ok());
        assert!(on.check(Some(a)).is_ok());
        assert!(matches!(on.check(Some(a)), Err(ApiError::Throttled(60))));
    }
}
