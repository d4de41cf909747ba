//! LOGIN-DELAY (RFC 2449 §6.5): when each user last logged in.
//!
//! A server that announces `LOGIN-DELAY n` with n above 0 refuses an
//! authentication within n seconds of the same user's last successful one
//! (the `+OK` to PASS, APOP or AUTH), with the `[LOGIN-DELAY]` response code
//! (§8.1.1). Like the lock table, the record belongs to one server instance.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct LoginTimes {
    last: Mutex<HashMap<String, Instant>>,
}

impl LoginTimes {
    /// Whether `user` logged in successfully less than `delay` ago (never
    /// when `delay` is zero).
    pub fn too_soon(&self, user: &str, delay: Duration) -> bool {
        if delay.is_zero() {
            return false;
        }
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        last.get(user).is_some_and(|t| t.elapsed() < delay)
    }

    /// Notes a successful login of `user`. Nothing is kept when `delay` is
    /// zero, and entries older than `delay` are dropped, so the table holds
    /// at most the users who logged in within the last `delay`.
    pub fn record(&self, user: &str, delay: Duration) {
        if delay.is_zero() {
            return;
        }
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        last.retain(|_, t| t.elapsed() < delay);
        last.insert(user.to_string(), Instant::now());
    }
}
