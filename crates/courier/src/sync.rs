//! Locking that survives a panicking holder: courier's shared tables stay usable (a
//! panicking procedure answers SYSTEM_ERR and the server goes on), so a poisoned mutex
//! is taken as it is.

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, poisoned or not.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
