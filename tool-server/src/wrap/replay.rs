//! Resumable SSE: event ids, and the bounded log a dropped stream is replayed from.
//!
//! Every message the wrapper writes on one of a session's SSE streams gets an event id
//! `<tag>.<stream>.<seq>`: `tag` is random per session, so an id from another session is
//! never taken for one of this session; `stream` numbers the HTTP stream (a POST's or a GET's);
//! `seq` is one counter per session. Each message is kept in a log bounded in count and bytes
//! (the oldest go first), whether or not its stream was still open, so a stream that drops loses
//! nothing: the client GETs with `Last-Event-ID` and gets that stream's later events, never
//! another stream's (MCP 2025-11-25, "Resumability and Redelivery"). A resume that needs an
//! event the log no longer holds is refused, never answered with a gap.

use std::collections::{HashMap, VecDeque};

use serde_json::Value;

/// Longest `Last-Event-ID` read; anything longer is not one of ours.
const MAX_ID_LEN: usize = 64;

/// A message with the event id it is written under.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outgoing {
    pub(crate) id: String,
    pub(crate) message: Value,
}

/// A parsed event id of this session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EventId {
    pub(crate) stream: u64,
    pub(crate) seq: u64,
}

/// Why a `Last-Event-ID` cannot be resumed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResumeError {
    /// Not in the shape this server gives its event ids.
    Malformed,
    /// Well formed, but not an event of this session (another session's, or never given).
    Unknown,
    /// An event of this session whose later events were dropped from the bounded log.
    Expired,
}

#[derive(Debug, Default)]
struct StreamLog {
    /// The last seq given on this stream.
    last_seq: u64,
    /// The highest seq of this stream dropped from the log (0: none).
    dropped_through: u64,
    /// Events of this stream still in the log.
    kept: usize,
    /// No more events will come on this stream.
    done: bool,
}

struct Kept {
    stream: u64,
    seq: u64,
    message: Value,
    size: usize,
}

/// The event ids and replay log of one session.
pub(crate) struct ReplayLog {
    tag: String,
    next_stream: u64,
    next_seq: u64,
    events: VecDeque<Kept>,
    bytes: usize,
    streams: HashMap<u64, StreamLog>,
    max_events: usize,
    max_bytes: usize,
}

impl ReplayLog {
    /// A log keeping at most `max_events` messages and `max_bytes` of JSON.
    pub(crate) fn new(max_events: usize, max_bytes: usize) -> Self {
        Self {
            tag: format!("{:08x}", rand::random::<u32>()),
            next_stream: 1,
            next_seq: 1,
            events: VecDeque::new(),
            bytes: 0,
            streams: HashMap::new(),
            max_events: max_events.max(1),
            max_bytes,
        }
    }

    /// Numbers a new stream.
    pub(crate) fn open_stream(&mut self) -> u64 {
        let stream = self.next_stream;
        self.next_stream += 1;
        self.streams.insert(stream, StreamLog::default());
        stream
    }

    /// An event id on `stream` with no message: the priming event a client reconnects from.
    pub(crate) fn prime(&mut self, stream: u64) -> String {
        let seq = self.take_seq(stream);
        self.format(stream, seq)
    }

    /// Gives `message` its event id on `stream` and keeps it for replay.
    pub(crate) fn record(&mut self, stream: u64, message: Value) -> Outgoing {
        let seq = self.take_seq(stream);
        let size = serde_json::to_string(&message).map_or(0, |text| text.len());
        if let Some(log) = self.streams.get_mut(&stream) {
            if size > self.max_bytes {
                // Never kept: resuming from before it must fail, not skip it.
                log.dropped_through = seq;
            } else {
                log.kept += 1;
                self.bytes += size;
                self.events.push_back(Kept {
                    stream,
                    seq,
                    message: message.clone(),
                    size,
                });
                self.evict();
            }
        }
        Outgoing {
            id: self.format(stream, seq),
            message,
        }
    }

    /// No more events will come on `stream`; it is forgotten once its events are dropped.
    pub(crate) fn finish_stream(&mut self, stream: u64) {
        if let Some(log) = self.streams.get_mut(&stream) {
            log.done = true;
            if log.kept == 0 {
                self.streams.remove(&stream);
            }
        }
    }

    /// Reads a `Last-Event-ID` of this session.
    pub(crate) fn parse(&self, text: &str) -> Result<EventId, ResumeError> {
        if text.len() > MAX_ID_LEN {
            return Err(ResumeError::Malformed);
        }
        let mut parts = text.split('.');
        let (Some(tag), Some(stream), Some(seq), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ResumeError::Malformed);
        };
        let number = |part: &str| {
            if part.is_empty() || part.len() > 20 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            part.parse::<u64>().ok()
        };
        let (Some(stream), Some(seq)) = (number(stream), number(seq)) else {
            return Err(ResumeError::Malformed);
        };
        if tag.len() != 8 || !tag.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ResumeError::Malformed);
        }
        if tag != self.tag || stream == 0 || stream >= self.next_stream || seq >= self.next_seq {
            return Err(ResumeError::Unknown);
        }
        Ok(EventId { stream, seq })
    }

    /// The events of `from.stream` after `from`, and whether that stream is over.
    pub(crate) fn replay(&self, from: EventId) -> Result<(Vec<Outgoing>, bool), ResumeError> {
        let Some(log) = self.streams.get(&from.stream) else {
            return Err(ResumeError::Expired);
        };
        if from.seq > log.last_seq {
            return Err(ResumeError::Unknown);
        }
        if from.seq < log.dropped_through {
            return Err(ResumeError::Expired);
        }
        let events = self
            .events
            .iter()
            .filter(|e| e.stream == from.stream && e.seq > from.seq)
            .map(|e| Outgoing {
                id: self.format(e.stream, e.seq),
                message: e.message.clone(),
            })
            .collect();
        Ok((events, log.done))
    }

    /// Drops every kept message (the session ended).
    pub(crate) fn clear(&mut self) {
        self.events.clear();
        self.bytes = 0;
        self.streams.clear();
    }

    /// Whether `stream` was given by this log and is not over.
    pub(crate) fn is_live(&self, stream: u64) -> bool {
        self.streams.get(&stream).is_some_and(|log| !log.done)
    }

    fn take_seq(&mut self, stream: u64) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(log) = self.streams.get_mut(&stream) {
            log.last_seq = seq;
        }
        seq
    }

    fn format(&self, stream: u64, seq: u64) -> String {
        format!("{}.{stream}.{seq}", self.tag)
    }

    fn evict(&mut self) {
        while self.events.len() > self.max_events || self.bytes > self.max_bytes {
            let Some(old) = self.events.pop_front() else {
                break;
            };
            self.bytes -= old.size;
            if let Some(log) = self.streams.get_mut(&old.stream) {
                log.kept -= 1;
                log.dropped_through = log.dropped_through.max(old.seq);
                if log.done && log.kept == 0 {
                    self.streams.remove(&old.stream);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn note(n: u64) -> Value {
        json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {"n": n}})
    }

    fn ns(events: &[Outgoing]) -> Vec<u64> {
        events
            .iter()
            .filter_map(|e| e.message["params"]["n"].as_u64())
            .collect()
    }

    #[test]
    fn replays_only_later_events_of_the_same_stream() {
        let mut log = ReplayLog::new(100, 1 << 20);
        let a = log.open_stream();
        let b = log.open_stream();
        let primed = log.prime(a);
        let first = log.record(a, note(1));
        log.record(b, note(100));
        log.record(a, note(2));
        log.record(b, note(101));
        log.record(a, note(3));

        let from = log.parse(&primed).unwrap();
        let (events, done) = log.replay(from).unwrap();
        assert_eq!(ns(&events), [1, 2, 3]);
        assert!(!done);
        let (events, _) = log.replay(log.parse(&first.id).unwrap()).unwrap();
        assert_eq!(ns(&events), [2, 3], "after the id, never another stream's");
        // Replayed events keep their ids, so a second drop resumes from them too.
        assert_eq!(log.parse(&events[0].id).unwrap().stream, a);
        log.finish_stream(a);
        assert!(log.replay(from).unwrap().1, "a finished stream says so");
    }

    #[test]
    fn malformed_foreign_and_unknown_ids_are_refused() {
        let mut log = ReplayLog::new(100, 1 << 20);
        let s = log.open_stream();
        let id = log.record(s, note(1)).id;
        let tag = &id[..8];
        for bad in [
            "",
            "garbage",
            "-1",
            &format!("{tag}.1"),
            &format!("{tag}.1.-1"),
            &format!("{tag}.+1.1"),
            &format!("{tag}.1.1.1"),
            &format!("{tag}.1.99999999999999999999999"),
            &"9".repeat(10_000),
            "zzzzzzzz.1.1",
        ] {
            assert_eq!(log.parse(bad), Err(ResumeError::Malformed), "{bad:?}");
        }
        let other = ReplayLog::new(100, 1 << 20);
        let foreign = format!("{}.1.1", other.tag);
        let foreign = if foreign == id {
            "00000000.1.1".to_owned()
        } else {
            foreign
        };
        assert_eq!(log.parse(&foreign), Err(ResumeError::Unknown));
        assert_eq!(log.parse(&format!("{tag}.7.1")), Err(ResumeError::Unknown));
        assert_eq!(log.parse(&format!("{tag}.1.9")), Err(ResumeError::Unknown));
        assert_eq!(log.parse(&format!("{tag}.0.1")), Err(ResumeError::Unknown));
    }

    #[test]
    fn the_log_is_bounded_and_a_resume_past_it_is_refused() {
        let mut log = ReplayLog::new(3, 1 << 20);
        let s = log.open_stream();
        let ids: Vec<String> = (1..=5).map(|n| log.record(s, note(n)).id).collect();
        assert_eq!(log.events.len(), 3);
        // Events 1 and 2 are gone: resuming after 1 would skip 2.
        let after_first = log.parse(&ids[0]).unwrap();
        assert_eq!(log.replay(after_first), Err(ResumeError::Expired));
        let (events, _) = log.replay(log.parse(&ids[1]).unwrap()).unwrap();
        assert_eq!(ns(&events), [3, 4, 5]);

        // The byte bound holds too; a message over it is never kept.
        let mut log = ReplayLog::new(100, 200);
        let s = log.open_stream();
        let primed = log.prime(s);
        let big = json!({"pad": "x".repeat(300)});
        let id = log.record(s, big).id;
        assert!(log.bytes <= 200);
        assert_eq!(
            log.replay(log.parse(&primed).unwrap()),
            Err(ResumeError::Expired)
        );
        assert!(log.replay(log.parse(&id).unwrap()).is_ok());

        // A finished stream whose events are all dropped is forgotten.
        let mut log = ReplayLog::new(1, 1 << 20);
        let a = log.open_stream();
        let old = log.record(a, note(1)).id;
        log.finish_stream(a);
        let b = log.open_stream();
        log.record(b, note(2));
        assert!(!log.streams.contains_key(&a));
        assert_eq!(
            log.replay(log.parse(&old).unwrap()),
            Err(ResumeError::Expired)
        );
    }
}
