//! Scenario 1 at c=1 with one client taking turns: a kept-alive connection to each of 1a–1d,
//! and requests sent to them in turn, `turn` at a time, for the whole round (`--turns-of N`).
//! The first `warm` requests of every turn are sent and checked but not timed
//! (`--turn-warm-up K`): an error among them counts like any other.
//!
//! This is what the p50 target at c=1 is judged on. wrk measures each of 1a–1d in runs of
//! their own, a new process and connection each, and at c=1 the p50 of one such 1 s run moves
//! by a third from one run to the next, for bare pingora as much as for the proxies. Turns
//! of a few thousand requests keep every target in the steady state of a single client (the
//! uncounted start of each turn shows how little of it is warm-up) while the four still take
//! turns a fraction of a second apart. Short turns (tens of requests) make the four share the
//! CPU caches instead, which changes what is measured (README, Performance).
//!
//! The client is one thread doing a blocking write of the whole request and reading until the
//! whole answer is in: the same requests as wrk's (`mcp.lua`). Signed requests (1a, 1c) are
//! signed just before they are sent, outside the timed part.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

use crate::mcp::{Credential, PROTOCOL_VERSION, identity_headers};

/// How long one answer may take before the round fails.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// Where one of 1a–1d sends, and how its requests prove who calls.
#[derive(Clone)]
pub struct Target {
    pub scenario: &'static str,
    pub url: String,
    pub credential: Credential,
    /// `Mcp-Session-Id` of an initialized client, "" when the server gave none.
    pub session: String,
    /// The `tools/call` params, as JSON text.
    pub params: &'static str,
}

/// One target's latencies in one round.
#[derive(Debug, Clone, Serialize)]
pub struct Latencies {
    pub scenario: String,
    pub requests: usize,
    pub errors: u64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    /// p50 of the uncounted first requests of each turn (0 when none).
    pub warm_p50_us: f64,
    /// The first answer that was not a 200 with a JSON-RPC result, if any.
    pub first_bad: Option<String>,
}

/// One round: every target's latencies over the same stretch of time.
#[derive(Debug, Clone, Serialize)]
pub struct Round {
    pub round: usize,
    /// Requests each target got per turn.
    pub turn: usize,
    /// Of those, how many at the start of each turn were not timed.
    pub warm: usize,
    pub seconds: f64,
    pub targets: Vec<Latencies>,
}

impl Round {
    /// The latencies of `scenario` in this round.
    pub fn of(&self, scenario: &str) -> Option<&Latencies> {
        self.targets.iter().find(|t| t.scenario == scenario)
    }

    /// How much longer `scenario`'s p50 was than bare pingora's (1c), in percent; `None` when
    /// either is missing (or bare pingora's is 0). With `clean`, also when either had errors.
    pub fn p50_over_bare(&self, scenario: &str, clean: bool) -> Option<f64> {
        let (p, b) = (self.of(scenario)?, self.of("1c")?);
        if b.p50_us <= 0.0 || (clean && (p.errors > 0 || b.errors > 0)) {
            return None;
        }
        Some(100.0 * (p.p50_us / b.p50_us - 1.0))
    }
}

/// A kept-alive connection to one target, with what it has measured this round.
struct Connection<'a> {
    target: &'a Target,
    /// Where it connects, and the `Host` header ("host:port").
    addr: String,
    path: String,
    stream: TcpStream,
    buf: Vec<u8>,
    next_id: u64,
    samples: Vec<u32>,
    /// Latencies of the uncounted start of each turn.
    warm_samples: Vec<u32>,
    errors: u64,
    first_bad: Option<String>,
}

impl<'a> Connection<'a> {
    fn open(target: &'a Target) -> anyhow::Result<Self> {
        let (addr, path) = address(&target.url)?;
        let stream = connect(&addr)?;
        Ok(Self {
            target,
            addr,
            path,
            stream,
            buf: Vec::with_capacity(16 * 1024),
            next_id: 1,
            samples: Vec::new(),
            warm_samples: Vec::new(),
            errors: 0,
            first_bad: None,
        })
    }

    /// The request wrk would send (`mcp.lua`), with a fresh identity when signed.
    fn request(&mut self) -> Vec<u8> {
        let id = self.next_id;
        self.next_id += 1;
        request(self.target, &self.addr, &self.path, id)
    }

    /// Sends one request and reads its whole answer; records the time between (`Count`), or
    /// as warm-up (`Warm`), or nothing; an error is recorded either way, but not `Nothing`.
    fn exchange(&mut self, record: Record) -> anyhow::Result<()> {
        let request = self.request();
        let started = Instant::now();
        let answer = send(&mut self.stream, &request, &mut self.buf);
        let took = started.elapsed();
        let bad = match answer {
            Ok((status, body)) => bad_answer(status, body.of(&self.buf)),
            Err(error) => {
                // The connection is unusable now: a new one for the next request.
                self.stream = connect(&self.addr)?;
                Some(format!("{error:#}"))
            }
        };
        let took = u32::try_from(took.as_nanos()).unwrap_or(u32::MAX);
        match (record, bad) {
            (Record::Nothing, _) => {}
            (Record::Warm, None) => self.warm_samples.push(took),
            (Record::Count, None) => self.samples.push(took),
            // A wrong answer is an error wherever in a turn it comes.
            (Record::Warm | Record::Count, Some(bad)) => {
                self.errors += 1;
                self.first_bad.get_or_insert(bad);
            }
        }
        Ok(())
    }

    /// What this connection measured since the last call.
    fn take(&mut self) -> Latencies {
        let samples = sorted(std::mem::take(&mut self.samples));
        let warm = sorted(std::mem::take(&mut self.warm_samples));
        Latencies {
            scenario: self.target.scenario.to_owned(),
            requests: samples.len() + self.errors as usize,
            errors: std::mem::take(&mut self.errors),
            p50_us: quantile_us(&samples, 0.5),
            p90_us: quantile_us(&samples, 0.9),
            p99_us: quantile_us(&samples, 0.99),
            warm_p50_us: quantile_us(&warm, 0.5),
            first_bad: self.first_bad.take(),
        }
    }
}

/// The request wrk would send (`mcp.lua`) to `target` at `host` (`Host` header) and `path`,
/// with JSON-RPC id `id`, and a fresh identity when signed.
pub fn request(target: &Target, host: &str, path: &str, id: u64) -> Vec<u8> {
    let body = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"tools/call\",\"params\":{}}}",
        target.params
    );
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nMcp-Protocol-Version: {PROTOCOL_VERSION}\r\n"
    );
    if !target.session.is_empty() {
        head.push_str(&format!("Mcp-Session-Id: {}\r\n", target.session));
    }
    match &target.credential {
        Credential::Bearer(token) => head.push_str(&format!("Authorization: Bearer {token}\r\n")),
        Credential::Signed(key, who) => {
            let now = chrono::Utc::now().timestamp();
            for (name, value) in identity_headers(key, who, path, &target.session, now) {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
        }
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut request = head.into_bytes();
    request.extend_from_slice(body.as_bytes());
    request
}

/// What is wrong with an answer, if anything: it must be a 200 with a JSON-RPC result without
/// a tool error, as wrk's script checks.
pub fn bad_answer(status: u16, body: &[u8]) -> Option<String> {
    let ok = status == 200 && contains(body, b"\"result\"") && !contains(body, b"\"isError\":true");
    (!ok).then(|| format!("{status} {}", String::from_utf8_lossy(body)))
}

/// What `exchange` keeps of an answer.
#[derive(Clone, Copy)]
enum Record {
    Nothing,
    Warm,
    Count,
}

fn sorted(mut samples: Vec<u32>) -> Vec<u32> {
    samples.sort_unstable();
    samples
}

/// The `q` quantile of sorted nanoseconds, in µs; 0 when there are none.
fn quantile_us(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * q) as usize).min(sorted.len() - 1);
    f64::from(sorted[i]) / 1e3
}

/// Where `url` is ("host:port", also its `Host` header) and its path.
pub fn address(url: &str) -> anyhow::Result<(String, String)> {
    let url = url::Url::parse(url)?;
    let host = url.host_str().context("a target URL without a host")?;
    let port = url.port_or_known_default().unwrap_or(80);
    Ok((format!("{host}:{port}"), url.path().to_owned()))
}

fn connect(addr: &str) -> anyhow::Result<TcpStream> {
    let stream = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    Ok(stream)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Writes `request` and reads the answer into `buf`: its status and where its body is.
/// Answers with `Content-Length` or chunked; anything else is an error.
fn send(stream: &mut TcpStream, request: &[u8], buf: &mut Vec<u8>) -> anyhow::Result<(u16, Body)> {
    stream.write_all(request)?;
    buf.clear();
    loop {
        fill(stream, buf)?;
        if let Some(answer) = whole_answer(buf)? {
            return Ok(answer);
        }
    }
}

/// Where the body of a whole answer is.
pub enum Body {
    /// In the buffer, in place.
    At(std::ops::Range<usize>),
    /// Chunked: its chunks' data gathered.
    Gathered(Vec<u8>),
}

impl Body {
    /// The body's bytes, from the buffer the answer was read into.
    pub fn of<'a>(&'a self, buf: &'a [u8]) -> &'a [u8] {
        match self {
            Body::At(range) => &buf[range.clone()],
            Body::Gathered(data) => data,
        }
    }
}

/// The status and body of the answer at the start of `buf`, or `None` while it is not all
/// there yet. Answers with `Content-Length` or chunked; anything else is an error.
pub fn whole_answer(buf: &[u8]) -> anyhow::Result<Option<(u16, Body)>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(head) = response.parse(buf)? else {
        return Ok(None);
    };
    let status = response.code.unwrap_or(0);
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_ascii_lowercase())
    };
    match (header("content-length"), header("transfer-encoding")) {
        (_, Some(te)) if te == "chunked" => {}
        (Some(len), _) => {
            let len = len.parse::<usize>().context("a bad Content-Length")?;
            return Ok((buf.len() >= head + len).then(|| (status, Body::At(head..head + len))));
        }
        _ => bail!("an answer with neither Content-Length nor chunked encoding"),
    }
    // Chunked: whole once the last chunk is in.
    let mut at = head;
    let mut body = Vec::new();
    loop {
        let Some(i) = buf[at..].windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let line_end = at + i;
        let size_text = String::from_utf8_lossy(&buf[at..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .context("a bad chunk size")?;
        let data = line_end + 2;
        if buf.len() < data + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&buf[data..data + size]);
        at = data + size + 2;
        if size == 0 {
            return Ok(Some((status, Body::Gathered(body))));
        }
    }
}

/// Reads what the stream has into `buf`; an error at the end of the stream.
fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<()> {
    let mut chunk = [0u8; 16 * 1024];
    let n = stream.read(&mut chunk)?;
    if n == 0 {
        bail!("the server closed the connection");
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}

/// `rounds` rounds of `length` each, after `warmup`: in each, the targets take turns of
/// `turn` requests, each pass starting with the next target; the first `warm` requests of
/// every turn are not timed (their errors count).
pub fn run(
    targets: &[Target],
    rounds: usize,
    length: Duration,
    warmup: Duration,
    turn: usize,
    warm: usize,
) -> anyhow::Result<Vec<Round>> {
    let turn = turn.max(1);
    let warm = warm.min(turn - 1);
    let mut connections = targets
        .iter()
        .map(Connection::open)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let n = connections.len();
    // Which target goes first in the next pass.
    let mut first = 0;
    let mut go = |connections: &mut [Connection<'_>], length: Duration, record: bool| {
        let started = Instant::now();
        while started.elapsed() < length {
            for i in 0..n {
                let connection = &mut connections[(first + i) % n];
                for at in 0..turn {
                    connection.exchange(match (record, at < warm) {
                        (false, _) => Record::Nothing,
                        (true, true) => Record::Warm,
                        (true, false) => Record::Count,
                    })?;
                }
            }
            first += 1;
        }
        anyhow::Ok(started.elapsed())
    };
    go(&mut connections, warmup, false)?;
    let mut measured = Vec::with_capacity(rounds);
    for round in 1..=rounds {
        let took = go(&mut connections, length, true)?;
        let round = Round {
            round,
            turn,
            warm,
            seconds: took.as_secs_f64(),
            targets: connections.iter_mut().map(Connection::take).collect(),
        };
        let line: Vec<String> = round
            .targets
            .iter()
            .map(|t| {
                format!(
                    "{} p50 {:.0} µs (start of turns {:.0}; {} requests, {} errors)",
                    t.scenario, t.p50_us, t.warm_p50_us, t.requests, t.errors
                )
            })
            .collect();
        eprintln!(
            "[bench]   c=1 alternating round {}: {}",
            round.round,
            line.join(", ")
        );
        measured.push(round);
    }
    Ok(measured)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::Value;
    use std::net::TcpListener;

    /// Sends a request to a server that answers `answer` (in pieces, to make the reader wait
    /// for more) and closes; what `send` made of it.
    fn answered(answer: Vec<&'static [u8]>) -> anyhow::Result<(u16, String)> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().expect("a connection");
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request);
            for piece in answer {
                let _ = socket.write_all(piece);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let mut stream = connect(&format!("127.0.0.1:{port}"))?;
        let mut buf = Vec::new();
        let result = send(&mut stream, b"POST /mcp HTTP/1.1\r\n\r\n", &mut buf);
        drop(stream);
        server.join().expect("the server thread");
        let (status, body) = result?;
        Ok((status, String::from_utf8_lossy(body.of(&buf)).into_owned()))
    }

    /// Serves JSON-RPC results on kept-alive connections, each `delay` after its request;
    /// answers "bad" to a request whose id is in `bad_ids`.
    pub(crate) fn results_server(bad_ids: &'static [u64], delay: Duration) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for socket in listener.incoming() {
                let Ok(mut socket) = socket else { return };
                let _ = socket.set_nodelay(true);
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                            match socket.read(&mut chunk) {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                            continue;
                        };
                        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                        let length: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length: "))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        while buf.len() < end + 4 + length {
                            match socket.read(&mut chunk) {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let body: Value =
                            serde_json::from_slice(&buf[end + 4..end + 4 + length]).unwrap();
                        buf.drain(..end + 4 + length);
                        let answer = if bad_ids.contains(&body["id"].as_u64().unwrap()) {
                            "bad".to_owned()
                        } else {
                            format!("{{\"result\":{{\"id\":{}}}}}", body["id"])
                        };
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{answer}",
                            answer.len()
                        );
                        if !delay.is_zero() {
                            std::thread::sleep(delay);
                        }
                        let _ = socket.write_all(answer.as_bytes());
                    }
                });
            }
        });
        url
    }

    pub(crate) fn target(scenario: &'static str, url: &str) -> Target {
        Target {
            scenario,
            url: url.to_owned(),
            credential: Credential::Bearer("token".into()),
            session: String::new(),
            params: "{}",
        }
    }

    #[test]
    fn the_start_of_every_turn_is_timed_apart_and_its_errors_still_count() {
        // Requests 2 and 14 of the first target go wrong: 2 is in the warm-up of its first
        // turn, 14 the first counted one of its second. Both are errors.
        let bad = results_server(&[2, 14], Duration::ZERO);
        let good = results_server(&[], Duration::ZERO);
        let targets = [target("1b", &bad), target("1c", &good)];
        let rounds = run(
            &targets,
            2,
            Duration::from_millis(50),
            Duration::ZERO,
            10,
            3,
        )
        .unwrap();
        assert_eq!(rounds.len(), 2);
        for round in &rounds {
            assert_eq!((round.turn, round.warm), (10, 3));
            for t in round.targets.iter().filter(|t| t.errors == 0) {
                // Whole turns only, 7 of every 10 requests counted.
                assert_eq!(t.requests % 7, 0, "{t:?}");
                assert!(t.requests >= 7, "{t:?}");
                assert!(t.p50_us > 0.0 && t.warm_p50_us > 0.0, "{t:?}");
            }
        }
        let first = rounds[0].of("1b").unwrap();
        assert_eq!(first.errors, 2, "{first:?}");
        // Its counted requests: whole turns of 7 less request 14, plus the two errors.
        assert_eq!(first.requests % 7, 1, "{first:?}");
        assert!(
            first.first_bad.as_deref().unwrap().contains("bad"),
            "{first:?}"
        );
        assert_eq!(rounds[1].of("1b").unwrap().errors, 0);
        assert_eq!(rounds[0].of("1c").unwrap().errors, 0);
        // A warm-up as long as the turn still counts one request of each.
        let rounds = run(
            &targets[1..],
            1,
            Duration::from_millis(20),
            Duration::ZERO,
            4,
            9,
        )
        .unwrap();
        assert_eq!(rounds[0].warm, 3);
        assert!(rounds[0].targets[0].requests >= 1, "{rounds:?}");
    }

    #[test]
    fn an_answer_is_read_whole_by_content_length_or_chunks() {
        let (status, body) = answered(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n",
            b"\r\n{\"result\"",
            b":1}",
        ])
        .unwrap();
        assert_eq!((status, body.as_str()), (200, "{\"result\":1}"));
        let (status, body) = answered(vec![
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"5\r\n{\"res\r\n",
            b"7;ext=1\r\nult\":1}\r\n0\r\n\r\n",
        ])
        .unwrap();
        assert_eq!((status, body.as_str()), (200, "{\"result\":1}"));
    }

    #[test]
    fn a_bad_or_cut_answer_is_an_error_not_a_sample() {
        let cases: [(&'static [u8], &str); 6] = [
            (
                b"HTTP/1.1 200 OK\r\n\r\nno length",
                "neither Content-Length nor chunked",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n",
                "a bad Content-Length",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort",
                "closed the connection",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                "a bad chunk size",
            ),
            (b"\x00\x01 not http\r\n\r\n", "invalid"),
            (b"", "closed the connection"),
        ];
        for (answer, why) in cases {
            let error = answered(vec![answer]).expect_err(why);
            assert!(format!("{error:#}").contains(why), "{why}: got {error:#}");
        }
    }
}
