//! Request limits: the body size cap (enforced by axum's `DefaultBodyLimit`,
//! reported by the extractors) and a per-client token-bucket rate limit.
//!
//! A client is its bearer token (by hash prefix) when it sends one, else its
//! address; buckets refill continuously at `rate` per second up to `burst`.
//! Buckets idle for a minute are swept so the map stays bounded by the
//! number of active clients.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static BODY_LIMIT: AtomicUsize = AtomicUsize::new(1 << 20);

pub fn set_body_limit(n: usize) {
    BODY_LIMIT.store(n, Ordering::Relaxed);
}

pub fn body_limit() -> usize {
    BODY_LIMIT.load(Ordering::Relaxed)
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets per client key.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<(HashMap<String, Bucket>, Instant)>,
}

impl RateLimiter {
    pub fn new(rate_per_sec: u32, burst: u32) -> Self {
        Self {
            rate: f64::from(rate_per_sec),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new((HashMap::new(), Instant::now())),
        }
    }

    /// `Ok` to go ahead, or `Err(seconds to wait)`.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut g = match self.buckets.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let (map, swept) = &mut *g;
        if now.duration_since(*swept) > Duration::from_secs(60) {
            map.retain(|_, b| now.duration_since(b.at) < Duration::from_secs(60));
            *swept = now;
        }
        let b = map.entry(key.to_string()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let elapsed = now.duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_past_its_burst_is_refused_and_others_are_not() {
        let l = RateLimiter::new(1, 3);
        for _ in 0..3 {
            assert!(l.check("a").is_ok());
        }
        assert!(l.check("a").is_err());
        assert!(l.check("b").is_ok());
        assert!(RateLimiter::new(0, 0).check("a").is_ok(), "0 turns it off");
    }
}
