//! The write stage's hand-off: full batches go from the workers that parse to the
//! partitioned Parquet sink ([`crate::sink::PartitionedSink`]). A worker encodes its own
//! batches while every worker is parsing; once some have run out of files, batches are
//! queued for them to encode, so that one large input still keeps every core busy.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use arrow_array::RecordBatch;

use crate::error::Result;

/// Encodes one batch of one partition (the sink's `write`).
pub(super) type Encode<'e> = dyn Fn(&str, &RecordBatch) -> Result<()> + Sync + 'e;

/// Batches waiting to be encoded by workers that have no file left to parse.
///
/// Lock order: the queue's mutex is the only lock here, and it is never held while a
/// batch is encoded (encoding takes the sink's locks).
pub(super) struct Handoff {
    queue: Mutex<VecDeque<(String, RecordBatch)>>,
    ready: Condvar,
    /// Workers in the pool (at most two batches per worker wait in the queue).
    workers: usize,
    /// Workers still parsing files.
    producers: AtomicUsize,
}

impl Handoff {
    /// A hand-off between `workers` workers, all parsing at first.
    pub(super) fn new(workers: usize) -> Handoff {
        Handoff {
            queue: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
            workers,
            producers: AtomicUsize::new(workers),
        }
    }

    /// Hands a full batch to be encoded: queued when a worker has run out of files and
    /// waits for batches to encode (at most two per thread wait), else encoded here and
    /// now. (Queued while every worker is parsing, a batch would wait until the end.)
    pub(super) fn submit(&self, partition: String, batch: RecordBatch, encode: &Encode<'_>) -> Result<()> {
        if self.producers.load(Ordering::SeqCst) < self.workers {
            let mut q = self.queue.lock().expect("queue lock");
            if q.len() < 2 * self.workers {
                q.push_back((partition, batch));
                drop(q);
                self.ready.notify_one();
                return Ok(());
            }
        }
        encode(&partition, &batch)
    }

    /// The calling worker has no file left to parse.
    pub(super) fn producer_done(&self) {
        self.producers.fetch_sub(1, Ordering::SeqCst);
        self.ready.notify_all();
    }

    /// Encodes queued batches until no worker is parsing and the queue is empty. Once
    /// `stop` is set (the run failed), queued batches are dropped, not encoded.
    pub(super) fn encode_queued(&self, stop: &AtomicBool, encode: &Encode<'_>) -> Result<()> {
        loop {
            let next = {
                let mut q = self.queue.lock().expect("queue lock");
                loop {
                    if let Some(item) = q.pop_front() {
                        break Some(item);
                    }
                    if self.producers.load(Ordering::SeqCst) == 0 {
                        break None;
                    }
                    q = self.ready.wait_timeout(q, Duration::from_millis(20)).expect("queue lock").0;
                }
            };
            let Some((partition, batch)) = next else { return Ok(()) };
            if !stop.load(Ordering::Relaxed) {
                encode(&partition, &batch)?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int32Array};

    fn batch(v: i32) -> RecordBatch {
        RecordBatch::try_from_iter([("x", Arc::new(Int32Array::from(vec![v])) as ArrayRef)]).unwrap()
    }

    fn value(b: &RecordBatch) -> i32 {
        b.column(0).as_any().downcast_ref::<Int32Array>().unwrap().value(0)
    }

    /// While every worker parses, batches are encoded by the worker that made them; once
    /// one has run out of files, the others' batches go to it; every batch is encoded once.
    #[test]
    fn every_batch_is_encoded_once_by_whoever_is_free() {
        let h = Handoff::new(2);
        let encoded: Mutex<Vec<(String, i32, std::thread::ThreadId)>> = Mutex::new(Vec::new());
        let encode = |p: &str, b: &RecordBatch| -> Result<()> {
            encoded.lock().unwrap().push((p.to_string(), value(b), std::thread::current().id()));
            Ok(())
        };
        let stop = AtomicBool::new(false);
        let me = std::thread::current().id();
        h.submit("date=2023-08-01".into(), batch(0), &encode).unwrap();
        assert_eq!(encoded.lock().unwrap()[0].2, me, "encoded at once while both parse");
        std::thread::scope(|s| {
            let helper = s.spawn(|| {
                h.producer_done();
                h.encode_queued(&stop, &encode).unwrap();
                std::thread::current().id()
            });
            while h.producers.load(Ordering::SeqCst) == 2 {
                std::thread::yield_now();
            }
            for i in 1..=100 {
                h.submit(format!("date=2023-08-{:02}", i % 28 + 1), batch(i), &encode).unwrap();
            }
            // This worker is done too: the free one encodes what is queued, then ends.
            h.producer_done();
            let helper = helper.join().unwrap();
            let done = encoded.lock().unwrap();
            let mut values: Vec<i32> = done.iter().map(|(_, v, _)| *v).collect();
            values.sort();
            assert_eq!(values, (0..=100).collect::<Vec<_>>());
            // The first batch after the helper stopped parsing was queued, and only it takes from the queue.
            assert!(done.iter().any(|(_, v, t)| *v == 1 && *t == helper), "the free worker encoded the queued ones");
            assert!(done.iter().all(|(p, v, _)| *v == 0 || *p == format!("date=2023-08-{:02}", v % 28 + 1)));
        });
    }

    /// A stopped run drops what is queued; an encoding error ends the encoder with it.
    #[test]
    fn a_stopped_run_drops_queued_batches_and_errors_pass_through() {
        let h = Handoff::new(2);
        let count = AtomicUsize::new(0);
        let encode = |_: &str, _: &RecordBatch| -> Result<()> {
            count.fetch_add(1, Ordering::SeqCst);
            Ok(())
        };
        h.producer_done();
        for i in 0..3 {
            h.submit("p".into(), batch(i), &encode).unwrap();
        }
        h.producer_done();
        h.encode_queued(&AtomicBool::new(true), &encode).unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 0);

        let h = Handoff::new(1);
        let failing = |_: &str, _: &RecordBatch| -> Result<()> { Err(crate::Error::Failed("disk full".into())) };
        let err = h.submit("p".into(), batch(1), &failing).unwrap_err();
        assert!(err.to_string().contains("disk full"));
    }
}
