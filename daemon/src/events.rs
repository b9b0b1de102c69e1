//! The numbered event log that clients long-poll with `events(since)`.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;
use hubdex_ipc::{Event, EventBatch, EventKind};
use tokio::sync::watch;

/// How many events are kept for clients that fall behind.
const CAPACITY: usize = 1024;

/// A bounded, sequence-numbered event buffer with a wake-up for waiting readers.
pub struct EventLog {
    buffer: Mutex<VecDeque<Event>>,
    latest: watch::Sender<u64>,
}

impl EventLog {
    /// An empty log; the first event gets sequence number 1.
    pub fn new() -> Self {
        Self {
            buffer: Mutex::new(VecDeque::with_capacity(CAPACITY)),
            latest: watch::Sender::new(0),
        }
    }

    /// Appends an event and wakes every waiting reader.
    pub fn push(&self, kind: EventKind) {
        let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let seq = buffer.back().map_or(1, |e| e.seq + 1);
        if buffer.len() == CAPACITY {
            buffer.pop_front();
        }
        buffer.push_back(Event {
            seq,
            at: Utc::now(),
            kind,
        });
        drop(buffer);
        self.latest.send_replace(seq);
    }

    /// Events with `seq >= since`, waiting up to `wait` for one when there are none yet.
    pub async fn since(&self, since: u64, wait: Duration) -> EventBatch {
        let mut rx = self.latest.subscribe();
        if *rx.borrow_and_update() < since.max(1) {
            let _ = tokio::time::timeout(wait, rx.wait_for(|latest| *latest >= since.max(1))).await;
        }
        self.collect(since)
    }

    fn collect(&self, since: u64) -> EventBatch {
        let buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
        let first = buffer.front().map_or(1, |e| e.seq);
        let events: Vec<Event> = buffer.iter().filter(|e| e.seq >= since).cloned().collect();
        let next = buffer
            .back()
            .map_or(since.max(1), |e| (e.seq + 1).max(since));
        EventBatch {
            missed: since > 0 && since < first,
            events,
            next,
        }
    }
}

impl Default for EventLog {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn readers_get_what_they_missed_in_order() {
        let log = EventLog::new();
        log.push(EventKind::SyncStarted);
        log.push(EventKind::Online);
        let batch = log.since(0, Duration::ZERO).await;
        assert_eq!(batch.events.len(), 2);
        assert_eq!(batch.events[0].seq, 1);
        assert_eq!(batch.next, 3);
        let empty = log.since(batch.next, Duration::from_millis(10)).await;
        assert!(empty.events.is_empty());
        assert_eq!(empty.next, 3);
    }

    #[tokio::test]
    async fn a_waiting_reader_wakes_on_push() {
        let log = std::sync::Arc::new(EventLog::new());
        let reader = {
            let log = log.clone();
            tokio::spawn(async move { log.since(1, Duration::from_secs(30)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        log.push(EventKind::SyncStarted);
        let batch = reader.await.unwrap();
        assert_eq!(batch.events.len(), 1);
    }

    #[tokio::test]
    async fn overflow_is_reported_as_missed() {
        let log = EventLog::new();
        for _ in 0..CAPACITY + 5 {
            log.push(EventKind::Online);
        }
        let batch = log.since(1, Duration::ZERO).await;
        assert!(batch.missed);
        assert_eq!(batch.events.len(), CAPACITY);
    }
}
