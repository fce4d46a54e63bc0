//! The memory budget of the row groups in progress, and the threads that write: the
//! budget is per writing thread, and threads are grouped into lanes that share row groups
//! when clustering.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::ThreadId;

/// Memory held by row groups in progress, over all threads and partitions, against a
/// budget per writing thread. Its one lock (the writers) is taken alone.
pub(super) struct Budget {
    per_writer: u64,
    mem: AtomicU64,
    /// Threads that have written, numbered in the order they first did.
    writers: Mutex<HashMap<ThreadId, usize>>,
}

impl Budget {
    pub(super) fn new(per_writer: usize) -> Budget {
        Budget { per_writer: per_writer as u64, mem: AtomicU64::new(0), writers: Mutex::new(HashMap::new()) }
    }

    /// Brings one row group's figure up to date: it held `*held` bytes, now `now`.
    pub(super) fn account(&self, held: &mut usize, now: usize) {
        if now >= *held {
            self.mem.fetch_add((now - *held) as u64, Ordering::Relaxed);
        } else {
            self.mem.fetch_sub((*held - now) as u64, Ordering::Relaxed);
        }
        *held = now;
    }

    /// A row group holding `held` bytes was written out (or dropped).
    pub(super) fn release(&self, held: usize) {
        self.mem.fetch_sub(held as u64, Ordering::Relaxed);
    }

    /// Memory held now is over the budget of the threads that have written.
    pub(super) fn over(&self) -> bool {
        self.mem.load(Ordering::Relaxed) > self.per_writer * self.writer_count()
    }

    /// Memory held now is down to half the budget (relieving memory stops there).
    pub(super) fn relieved(&self) -> bool {
        self.mem.load(Ordering::Relaxed) <= self.per_writer * self.writer_count() / 2
    }

    /// Threads that have written so far (at least one).
    pub(super) fn writer_count(&self) -> u64 {
        self.writers.lock().expect("writers lock").len().max(1) as u64
    }

    /// The lane of the calling thread (counted as a writer from now on): row groups are
    /// shared by `per_lane` threads, so a partition has about as many row groups in
    /// progress as there are threads (or ranges); with one per lane each thread has its
    /// own (threads writing one partition never wait); with more the threads of a lane
    /// take turns per range, rarely waiting.
    pub(super) fn lane(&self, per_lane: usize) -> usize {
        let mut writers = self.writers.lock().expect("writers lock");
        let n = writers.len();
        *writers.entry(std::thread::current().id()).or_insert(n) / per_lane.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Row groups' figures go up and down; the budget grows with the threads that write.
    #[test]
    fn memory_is_counted_against_a_budget_per_writing_thread() {
        let b = Budget::new(100);
        let (mut one, mut two) = (0, 0);
        b.account(&mut one, 80);
        assert!(!b.over() && !b.relieved());
        b.account(&mut two, 40);
        assert!(b.over(), "120 of 100 with one writer");
        b.account(&mut two, 10);
        assert_eq!((one, two, b.over()), (80, 10, false));
        // A second thread writing doubles the budget.
        std::thread::scope(|s| {
            s.spawn(|| b.lane(1));
        });
        b.lane(1);
        assert_eq!(b.writer_count(), 2);
        b.account(&mut one, 150);
        assert!(!b.over(), "160 of 200");
        b.release(one);
        assert!(b.relieved(), "10 of 200");
    }

    /// Threads are numbered once each, in the order they first write; lanes group them.
    #[test]
    fn threads_are_grouped_into_lanes_in_the_order_they_first_write() {
        let b = Budget::new(1);
        assert_eq!(b.lane(2), 0);
        let lanes: Vec<usize> = (0..4).map(|_| std::thread::scope(|s| s.spawn(|| b.lane(2)).join().unwrap())).collect();
        assert_eq!(lanes, [0, 1, 1, 2], "threads 1 to 4 after this one");
        assert_eq!(b.lane(2), 0, "the same thread keeps its number");
        assert_eq!(b.writer_count(), 5);
    }
}
