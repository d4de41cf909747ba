//! Per-server table of locked maildrops.
//!
//! RFC 1939 §4 requires exclusive access to a maildrop for the length of a
//! session. The table lives in each `RunningServer` (not in a global) so that
//! many servers can run side by side in one process, and the lock is held by
//! a guard whose `Drop` releases it, so no early return, error or panic in a
//! session can leak it.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct LockTable {
    held: Arc<Mutex<HashSet<String>>>,
}

/// Holds one maildrop lock; dropping it releases the lock.
pub struct LockGuard {
    table: LockTable,
    user: String,
}

impl LockTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// None when another session already holds the maildrop.
    pub fn try_lock(&self, user: &str) -> Option<LockGuard> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if !held.insert(user.to_string()) {
            return None;
        }
        Some(LockGuard {
            table: self.clone(),
            user: user.to_string(),
        })
    }

    pub fn is_locked(&self, user: &str) -> bool {
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(user)
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // A poisoned mutex must not keep the maildrop locked forever.
        let mut held = self.table.held.lock().unwrap_or_else(|p| p.into_inner());
        held.remove(&self.user);
    }
}
