//! The resume point of a pass whose objects finish out of order.
//!
//! Keys are registered in listing order; work on them finishes in any order. The resume point
//! (`start_after`) only moves over a contiguous run of finished keys, so resuming from it never
//! skips a key whose work was still under way. Runs of finished keys behind unfinished ones are
//! kept as their last key only, so the tracker holds at most about twice the number of unfinished
//! keys, however many keys need no work.

use std::collections::VecDeque;

#[derive(Debug)]
struct Slot {
    id: u64,
    key: String,
    done: bool,
}

/// Tracks which keys of a pass are finished.
#[derive(Debug, Default)]
pub struct Tracker {
    slots: VecDeque<Slot>,
    next_id: u64,
    done_through: Option<String>,
}

impl Tracker {
    /// A tracker whose keys up to and including `start_after` are already finished.
    pub fn new(start_after: Option<String>) -> Self {
        Tracker {
            done_through: start_after,
            ..Tracker::default()
        }
    }

    /// Registers the next key (in listing order) whose work has started; returns its ticket.
    pub fn begin(&mut self, key: &str) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.slots.push_back(Slot {
            id,
            key: key.to_string(),
            done: false,
        });
        id
    }

    /// Registers the next key (in listing order) as finished already: it needed no work.
    pub fn skip(&mut self, key: &str) {
        match self.slots.back_mut() {
            None => self.done_through = Some(key.to_string()),
            Some(last) if last.done => key.clone_into(&mut last.key),
            Some(_) => {
                let id = self.next_id;
                self.next_id += 1;
                self.slots.push_back(Slot {
                    id,
                    key: key.to_string(),
                    done: true,
                });
            }
        }
    }

    /// Marks the key of ticket `id` finished.
    pub fn finish(&mut self, id: u64) {
        let Ok(i) = self.slots.binary_search_by_key(&id, |s| s.id) else {
            return;
        };
        self.slots[i].done = true;
        if self.slots.get(i + 1).is_some_and(|s| s.done) {
            self.slots.remove(i);
        }
        if i > 0 && self.slots[i - 1].done {
            self.slots.remove(i - 1);
        }
        while self.slots.front().is_some_and(|s| s.done) {
            self.done_through = self.slots.pop_front().map(|s| s.key);
        }
    }

    /// The last key such that it and every key before it are finished.
    pub fn position(&self) -> Option<&str> {
        self.done_through.as_deref()
    }

    /// Keys held (unfinished ones and the ends of finished runs behind them).
    #[cfg(test)]
    pub fn held(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_position_only_moves_over_a_contiguous_finished_prefix() {
        let mut t = Tracker::new(Some("0".into()));
        let a = t.begin("a");
        let b = t.begin("b");
        t.skip("c");
        let d = t.begin("d");
        assert_eq!(t.position(), Some("0"));
        t.finish(b);
        assert_eq!(t.position(), Some("0"), "a is still under way");
        t.finish(d);
        assert_eq!(t.position(), Some("0"));
        t.finish(a);
        assert_eq!(t.position(), Some("d"));
        assert_eq!(t.held(), 0);
    }

    #[test]
    fn skipped_keys_with_nothing_under_way_move_the_position_at_once() {
        let mut t = Tracker::new(None);
        assert_eq!(t.position(), None);
        t.skip("a");
        t.skip("b");
        assert_eq!(t.position(), Some("b"));
        let c = t.begin("c");
        t.skip("d");
        assert_eq!(t.position(), Some("b"));
        t.finish(c);
        assert_eq!(t.position(), Some("d"));
    }

    #[test]
    fn finished_runs_behind_a_slow_key_are_kept_as_one_key() {
        let mut t = Tracker::new(None);
        let slow = t.begin("000");
        for i in 1..10_000 {
            let key = format!("{i:05}");
            if i % 3 == 0 {
                let id = t.begin(&key);
                t.finish(id);
            } else {
                t.skip(&key);
            }
        }
        assert!(t.held() <= 2, "held {}", t.held());
        assert_eq!(t.position(), None);
        t.finish(slow);
        assert_eq!(t.position(), Some("09999"));
    }

    #[test]
    fn out_of_order_completions_with_many_in_flight() {
        let mut t = Tracker::new(None);
        let ids: Vec<u64> = (0..64).map(|i| t.begin(&format!("{i:03}"))).collect();
        for id in ids[1..].iter().rev() {
            t.finish(*id);
        }
        assert_eq!(t.position(), None);
        assert!(t.held() <= 2);
        t.finish(ids[0]);
        assert_eq!(t.position(), Some("063"));
        t.finish(12345); // unknown tickets are ignored
        assert_eq!(t.position(), Some("063"));
    }
}
