//! A resource each process opens for itself. A child made by `fork()` inherits its parent's
//! descriptors, and some describe the parent: a userfaultfd acts on the address space of the
//! process that opened it, and `/proc/self/pagemap` is the opener's. So the child opens its own
//! (and closes the inherited one when it replaces it).

use std::sync::{Arc, Mutex, PoisonError};

pub(crate) struct PerProcess<T> {
    /// The process that opened it, and what it opened (`None`: it could not).
    opened: Mutex<Option<(u32, Option<Arc<T>>)>>,
}

impl<T> PerProcess<T> {
    pub const fn new() -> Self {
        Self {
            opened: Mutex::new(None),
        }
    }

    /// This process's resource, made by `open` on its first use in this process; `None` if
    /// `open` could not make it (not tried again in this process).
    pub fn get(&self, open: impl FnOnce() -> Option<T>) -> Option<Arc<T>> {
        let pid = std::process::id();
        let mut opened = self.opened.lock().unwrap_or_else(PoisonError::into_inner);
        match &*opened {
            Some((owner, found)) if *owner == pid => found.clone(),
            _ => {
                let found = open().map(Arc::new);
                *opened = Some((pid, found.clone()));
                found
            }
        }
    }
}
