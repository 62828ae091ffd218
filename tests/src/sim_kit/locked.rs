//! The in-memory world of a simulator behind one lock, shared by its handlers: cheap to clone,
//! and a panic in one handler (a poisoned lock) does not stop the others.

use std::sync::{Arc, Mutex};

/// A world `S` behind one lock.
pub struct Locked<S>(Arc<Mutex<S>>);

impl<S> Clone for Locked<S> {
    fn clone(&self) -> Self {
        Locked(Arc::clone(&self.0))
    }
}

impl<S: Default> Default for Locked<S> {
    fn default() -> Self {
        Locked::new(S::default())
    }
}

impl<S> Locked<S> {
    /// `state` behind a new lock.
    pub fn new(state: S) -> Self {
        Locked(Arc::new(Mutex::new(state)))
    }

    /// Runs `f` with the world locked.
    pub fn with<R>(&self, f: impl FnOnce(&mut S) -> R) -> R {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }
}

impl<S: Default> Locked<S> {
    /// Puts back an empty world.
    pub fn reset(&self) {
        self.with(|s| *s = S::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_world_until_it_is_reset() {
        let world: Locked<Vec<u8>> = Locked::default();
        let other = world.clone();
        other.with(|v| v.push(1));
        assert_eq!(world.with(|v| v.clone()), [1]);
        world.reset();
        assert!(other.with(|v| v.is_empty()));
    }
}
