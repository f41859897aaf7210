//! Scenario 1 at c=16 and c=64 with the targets taking turns under load: `c` kept-alive
//! connections to each of 1a–1d, and all `c` sending to one target until it has answered
//! `turn` requests, then to the next (`--load-turns-of N`). The requests/s target is judged
//! on these rounds.
//!
//! wrk measures each target in slices of 1 s, a new process with new connections each, four
//! slices apart in time. On this shared 2-core guest one target's rate moves by half from
//! one slice to the next (7.6k to 21k requests/s for bare pingora within one round), so
//! five slices a round leave a proxy's rate against bare pingora's 8–15% off either way:
//! 1b and 1d, the same proxy code, differed by up to 15% in a round. Turns of about a
//! twentieth of a second (1000 answers), on connections that stay open, give each target
//! about a hundred turns a round spread over the same stretch of time, each close to the
//! others'. A second bare pingora takes turns too, as the control: against the first it
//! read 93–106% round by round with turns of 5000 answers, 97–103% with turns of 1000.
//!
//! A turn's rate is taken in its steady middle: from the answer that completes its first
//! tenth to the one that completes its last tenth, so neither the `c` connections starting
//! together nor the last of them finishing alone is counted; the answers outside still are
//! checked, and an error there counts. Every request of a pass (each target's turn, in
//! order) is written, and the signed ones signed, before the pass starts, so the client does
//! the same little work for every target while they are timed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::alternate::{ANSWER_TIMEOUT, Target, address, bad_answer, request, whole_answer};
use crate::stack::cpu_seconds;

/// One target's rate in one round.
#[derive(Debug, Clone, Serialize)]
pub struct Rate {
    pub scenario: String,
    /// Answers in the timed middles of its turns, and how long those took in all.
    pub timed_requests: u64,
    pub timed_s: f64,
    /// Every request sent, timed or not, and how many of them went wrong.
    pub requests: u64,
    pub errors: u64,
    pub turns: usize,
    /// The first answer that was not a 200 with a JSON-RPC result, if any.
    pub first_bad: Option<String>,
    /// CPU seconds of each process serving this target over its whole turns (`/proc`, so in
    /// ticks of 10 ms), for `requests` answers.
    pub cpu_s: BTreeMap<String, f64>,
}

impl Rate {
    /// CPU µs per answer of `process` over the whole turns, if it was measured.
    pub fn cpu_us_per_request(&self, process: &str) -> Option<f64> {
        let cpu = self.cpu_s.get(process)?;
        (self.requests > 0 && cpu.is_finite()).then(|| cpu * 1e6 / self.requests as f64)
    }

    /// Requests/s in the timed middles of its turns (0 when nothing was timed).
    pub fn per_s(&self) -> f64 {
        if self.timed_s > 0.0 {
            self.timed_requests as f64 / self.timed_s
        } else {
            0.0
        }
    }
}

/// One round at one concurrency: every target's rate over the same stretch of time.
#[derive(Debug, Clone, Serialize)]
pub struct Round {
    pub round: usize,
    pub concurrency: usize,
    /// Answers per turn, and how many at each end of it are not timed.
    pub turn: usize,
    pub warm: usize,
    pub seconds: f64,
    pub targets: Vec<Rate>,
}

impl Round {
    /// The rate of `scenario` in this round.
    pub fn of(&self, scenario: &str) -> Option<&Rate> {
        self.targets.iter().find(|t| t.scenario == scenario)
    }

    /// `scenario`'s requests/s as a share of bare pingora's (1c): 0.97 is 97%; `None` when
    /// either is missing or had errors, or bare pingora's is 0.
    pub fn share_of_bare(&self, scenario: &str) -> Option<f64> {
        let (p, b) = (self.of(scenario)?, self.of("1c")?);
        if b.per_s() <= 0.0 || p.errors > 0 || b.errors > 0 {
            return None;
        }
        Some(p.per_s() / b.per_s())
    }
}

/// Where one target is, and the requests of its next turn.
struct Place<'a> {
    target: &'a Target,
    /// The processes serving it (name, pid), whose CPU is counted.
    processes: &'a [(String, u32)],
    /// "host:port", where it connects and its `Host` header.
    addr: String,
    path: String,
    next_id: u64,
}

impl Place<'_> {
    /// `n` requests, each with its own id and, when signed, a fresh identity.
    fn requests(&mut self, n: usize) -> Arc<Vec<Vec<u8>>> {
        let first = self.next_id;
        self.next_id += n as u64;
        Arc::new(
            (first..first + n as u64)
                .map(|id| request(self.target, &self.addr, &self.path, id))
                .collect(),
        )
    }
}

async fn connect(addr: &str) -> anyhow::Result<TcpStream> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Writes `request` and reads the whole answer into `buf`; what is wrong with it, if anything.
async fn exchange(
    stream: &mut TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> anyhow::Result<Option<String>> {
    stream.write_all(request).await?;
    buf.clear();
    loop {
        if stream.read_buf(buf).await? == 0 {
            bail!("the server closed the connection");
        }
        if let Some((status, body)) = whole_answer(buf)? {
            return Ok(bad_answer(status, body.of(buf)));
        }
    }
}

/// What one turn measured.
struct Turn {
    /// The timed middle, if the turn had one.
    timed: Option<(u64, Duration)>,
    errors: u64,
    first_bad: Option<String>,
}

/// When the answers that open and close a turn's timed middle came, from its start.
#[derive(Default)]
struct Marks {
    open: std::sync::OnceLock<Duration>,
    close: std::sync::OnceLock<Duration>,
}

/// One turn: the `streams` (one per connection, all to `place`) send `requests` until all
/// are answered. Gives the streams back.
async fn turn(
    streams: Vec<TcpStream>,
    addr: &str,
    requests: Arc<Vec<Vec<u8>>>,
    warm: usize,
) -> anyhow::Result<(Vec<TcpStream>, Turn)> {
    let n = requests.len();
    let next = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let marks = Arc::new(Marks::default());
    let started = Instant::now();
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|mut stream| {
            let (requests, next, answered, marks) = (
                requests.clone(),
                next.clone(),
                answered.clone(),
                marks.clone(),
            );
            let addr = addr.to_owned();
            tokio::spawn(async move {
                let mut buf = Vec::with_capacity(16 * 1024);
                let (mut errors, mut first_bad) = (0u64, None);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let answer = tokio::time::timeout(
                        ANSWER_TIMEOUT,
                        exchange(&mut stream, &requests[i], &mut buf),
                    )
                    .await
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("no answer in {ANSWER_TIMEOUT:?}")));
                    let bad = match answer {
                        Ok(bad) => bad,
                        Err(error) => {
                            // The connection is unusable now: a new one for the next request.
                            stream = connect(&addr).await?;
                            Some(format!("{error:#}"))
                        }
                    };
                    if let Some(bad) = bad {
                        errors += 1;
                        first_bad.get_or_insert(bad);
                    }
                    let done = answered.fetch_add(1, Ordering::Relaxed) + 1;
                    if done == warm {
                        let _ = marks.open.set(started.elapsed());
                    }
                    if done == n - warm {
                        let _ = marks.close.set(started.elapsed());
                    }
                }
                anyhow::Ok((stream, errors, first_bad))
            })
        })
        .collect();
    let mut streams = Vec::with_capacity(tasks.len());
    let (mut errors, mut first_bad) = (0, None);
    for task in tasks {
        let (stream, e, bad) = task.await??;
        streams.push(stream);
        errors += e;
        if first_bad.is_none() {
            first_bad = bad;
        }
    }
    let timed = match (marks.open.get(), marks.close.get()) {
        (Some(open), Some(close)) if close > open => Some(((n - 2 * warm) as u64, *close - *open)),
        _ => None,
    };
    Ok((
        streams,
        Turn {
            timed,
            errors,
            first_bad,
        },
    ))
}

/// `rounds` rounds of `length` each at `concurrency`, after `warmup`: in each, the targets
/// take turns of `turn` answers with `concurrency` connections each, each pass starting with
/// the next target; the first and last `warm` answers of every turn are not timed (their
/// errors count). `processes` names the processes serving each target (name, pid), whose CPU
/// over the turns is counted.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    targets: &[Target],
    processes: &[Vec<(String, u32)>],
    concurrency: usize,
    rounds: usize,
    length: Duration,
    warmup: Duration,
    turn_of: usize,
    warm: usize,
) -> anyhow::Result<Vec<Round>> {
    // A timed middle of at least one answer.
    let turn_of = turn_of.max(concurrency).max(3);
    let warm = warm.clamp(1, (turn_of - 1) / 2);
    let mut places = Vec::with_capacity(targets.len());
    for (k, target) in targets.iter().enumerate() {
        let (addr, path) = address(&target.url)?;
        places.push(Place {
            target,
            processes: processes.get(k).map_or(&[], Vec::as_slice),
            addr,
            path,
            next_id: 1,
        });
    }
    // `concurrency` connections to each target, kept open throughout.
    let mut streams: Vec<Vec<TcpStream>> = Vec::with_capacity(places.len());
    for place in &places {
        let mut to_place = Vec::with_capacity(concurrency);
        for _ in 0..concurrency {
            to_place.push(connect(&place.addr).await?);
        }
        streams.push(to_place);
    }
    let n = places.len();
    // Which target goes first in the next pass.
    let mut first = 0;
    let mut measured = Vec::with_capacity(rounds);
    for round in 0..=rounds {
        let length = if round == 0 { warmup } else { length };
        let mut rates: Vec<Rate> = places
            .iter()
            .map(|p| Rate {
                scenario: p.target.scenario.to_owned(),
                timed_requests: 0,
                timed_s: 0.0,
                requests: 0,
                errors: 0,
                turns: 0,
                first_bad: None,
                cpu_s: p
                    .processes
                    .iter()
                    .map(|(name, _)| (name.clone(), 0.0))
                    .collect(),
            })
            .collect();
        let started = Instant::now();
        while started.elapsed() < length {
            let order: Vec<usize> = (0..n).map(|i| (first + i) % n).collect();
            // The whole pass's requests first, so the turns follow one another directly.
            let requests: Vec<_> = order.iter().map(|&k| places[k].requests(turn_of)).collect();
            for (&k, requests) in order.iter().zip(requests) {
                let to_place = std::mem::take(&mut streams[k]);
                let cpu = |place: &Place<'_>| -> Vec<f64> {
                    place
                        .processes
                        .iter()
                        .map(|(_, pid)| cpu_seconds(*pid))
                        .collect()
                };
                let cpu_before = cpu(&places[k]);
                let (back, measured) = turn(to_place, &places[k].addr, requests, warm).await?;
                let cpu_after = cpu(&places[k]);
                streams[k] = back;
                let rate = &mut rates[k];
                for (((name, _), before), after) in
                    places[k].processes.iter().zip(cpu_before).zip(cpu_after)
                {
                    *rate.cpu_s.entry(name.clone()).or_default() += after - before;
                }
                rate.turns += 1;
                rate.requests += turn_of as u64;
                rate.errors += measured.errors;
                if rate.first_bad.is_none() {
                    rate.first_bad = measured.first_bad;
                }
                if let Some((answers, took)) = measured.timed {
                    rate.timed_requests += answers;
                    rate.timed_s += took.as_secs_f64();
                }
            }
            first += 1;
        }
        if round == 0 {
            continue;
        }
        let round = Round {
            round,
            concurrency,
            turn: turn_of,
            warm,
            seconds: started.elapsed().as_secs_f64(),
            targets: rates,
        };
        let line: Vec<String> = round
            .targets
            .iter()
            .map(|t| {
                format!(
                    "{} {:.0}/s ({} requests, {} errors)",
                    t.scenario,
                    t.per_s(),
                    t.requests,
                    t.errors
                )
            })
            .collect();
        eprintln!(
            "[bench]   c={concurrency} taking turns, round {}: {}",
            round.round,
            line.join(", ")
        );
        measured.push(round);
    }
    Ok(measured)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alternate::tests::{results_server, target};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_answer_of_a_turn_is_checked_and_only_its_middle_is_timed() {
        // Requests 3 and 600 of the first target go wrong: 3 among the first tenth of the
        // answers (not timed), 600 in the timed middle. Both are errors, and the round is not
        // held against bare pingora.
        let bad = results_server(&[3, 600], Duration::ZERO);
        let good = results_server(&[], Duration::ZERO);
        let targets = [target("1b", &bad), target("1c", &good)];
        // No warm-up, and a round so short that it is one pass: one turn of each.
        let rounds = run(
            &targets,
            &[],
            4,
            1,
            Duration::from_millis(1),
            Duration::ZERO,
            1000,
            100,
        )
        .await
        .unwrap();
        assert_eq!(rounds.len(), 1);
        let round = &rounds[0];
        assert_eq!((round.concurrency, round.turn, round.warm), (4, 1000, 100));
        let (b, c) = (round.of("1b").unwrap(), round.of("1c").unwrap());
        assert_eq!((b.turns, b.requests, b.errors), (1, 1000, 2), "{b:?}");
        assert!(b.first_bad.as_deref().unwrap().contains("bad"), "{b:?}");
        assert_eq!((c.turns, c.requests, c.errors), (1, 1000, 0), "{c:?}");
        // The middle 800 answers are timed, for both.
        assert_eq!((b.timed_requests, c.timed_requests), (800, 800));
        assert!(b.timed_s > 0.0 && c.per_s() > 0.0);
        assert_eq!(round.share_of_bare("1b"), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_target_that_answers_slower_serves_fewer_requests_per_second() {
        // Two connections to a server that waits 2 ms before each answer can get at most
        // 1,000 answers/s; the same without the wait gets many more.
        let slow = results_server(&[], Duration::from_millis(2));
        let fast = results_server(&[], Duration::ZERO);
        let targets = [target("1b", &slow), target("1c", &fast)];
        let rounds = run(
            &targets,
            &[],
            2,
            3,
            Duration::from_millis(1),
            Duration::ZERO,
            200,
            20,
        )
        .await
        .unwrap();
        assert_eq!(rounds.len(), 3);
        for round in &rounds {
            let (slow, fast) = (
                round.of("1b").unwrap().per_s(),
                round.of("1c").unwrap().per_s(),
            );
            assert!(slow > 0.0 && slow <= 1_000.0, "{round:?}");
            assert!(fast > 3.0 * slow, "{round:?}");
            assert!(round.share_of_bare("1b").unwrap() < 1.0 / 3.0);
        }
    }
}
