//! What both binaries share for `/metrics`: the checks of the metrics listener's address and the
//! answer it gives.
//!
//! Metrics sit on a listener of their own, off by default, never the public one: they name
//! tools, roles and Okta endpoints, which the callers of `/mcp` have no business reading, and a
//! scrape must not compete with clients for the public listener. Each binary keeps its metrics
//! in one registry of pre-registered handles (plain atomics on the request path) and serves it
//! with its own HTTP stack; this module decides what that listener answers.

use std::net::SocketAddr;

pub use prometheus;
use prometheus::{Encoder, Registry, TextEncoder};

/// The one path the metrics listener serves.
pub const PATH: &str = "/metrics";

/// Latency buckets, in seconds, for requests and calls (1 ms to 30 s).
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Refuses a metrics address that is one of the public listeners (or shares a port with one
/// on the wildcard address), and a non-loopback one unless the operator opted in.
pub fn check_listen(
    metrics: SocketAddr,
    public: &[SocketAddr],
    allow_non_loopback: bool,
) -> Result<(), String> {
    for public in public {
        let same_ip = metrics.ip() == public.ip()
            || metrics.ip().is_unspecified()
            || public.ip().is_unspecified();
        if same_ip && metrics.port() == public.port() {
            return Err(format!(
                "refusing --metrics-listen {metrics}: it is the public listener {public}; \
                 metrics go on a port of their own that clients cannot reach"
            ));
        }
    }
    if metrics.ip().is_loopback() || allow_non_loopback {
        Ok(())
    } else {
        Err(format!(
            "refusing --metrics-listen {metrics}: it is not a loopback address. Use 127.0.0.1, \
             or pass --metrics-allow-non-loopback when only the scraper can reach it (a network \
             policy)"
        ))
    }
}

/// One answer of the metrics listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposition {
    pub status: u16,
    pub content_type: &'static str,
    /// The `Allow` header of a 405.
    pub allow: Option<&'static str>,
    pub body: Vec<u8>,
}

/// The answer to `method path` on the metrics listener: `GET /metrics` (or `HEAD`) is the
/// Prometheus text format of `registry`; any other path 404, any other method 405.
pub fn answer(registry: &Registry, method: &str, path: &str) -> Exposition {
    let plain = |status, allow, text: &str| Exposition {
        status,
        content_type: "text/plain; charset=utf-8",
        allow,
        body: text.as_bytes().to_vec(),
    };
    if path != PATH {
        return plain(
            404,
            None,
            "not found: this listener serves only GET /metrics\n",
        );
    }
    if method != "GET" && method != "HEAD" {
        return plain(
            405,
            Some("GET, HEAD"),
            "method not allowed: /metrics answers GET only\n",
        );
    }
    let encoder = TextEncoder::new();
    let mut body = Vec::with_capacity(16 * 1024);
    if let Err(error) = encoder.encode(&registry.gather(), &mut body) {
        tracing::warn!(%error, "cannot encode the metrics");
        return plain(500, None, "cannot encode the metrics\n");
    }
    Exposition {
        status: 200,
        content_type: "text/plain; version=0.0.4; charset=utf-8",
        allow: None,
        body,
    }
}

/// `value` when it is one of `known`, else `"other"`: a label value from a bounded set.
pub fn bounded<'a>(value: &str, known: &[&'a str]) -> &'a str {
    known
        .iter()
        .find(|k| **k == value)
        .copied()
        .unwrap_or(OTHER)
}

/// The label value of anything outside a label's known set.
pub const OTHER: &str = "other";

/// The class of an HTTP status, as a label value: `"2xx"` … `"5xx"`, `"none"` when no response
/// was sent.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "none",
    }
}

/// Every value [`status_class`] returns, for pre-registering handles.
pub const STATUS_CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "none"];

/// The index of `status`'s class in [`STATUS_CLASSES`].
pub fn status_class_index(status: u16) -> usize {
    match status {
        100..=599 => usize::from(status / 100) - 1,
        _ => 5,
    }
}

/// A metric family's name and label names.
pub type Family = (String, Vec<String>);

/// What `registry` serves (each family's name and label names) next to what `exported` lists
/// (the list `deploy/monitoring/check_monitoring.py` checks the alerts and panels against),
/// both sorted: a unit test of each binary asserts they are equal. Every family needs one sample.
pub fn served_and_exported(
    registry: &Registry,
    exported: &[(&str, &[&str])],
) -> (Vec<Family>, Vec<Family>) {
    let served = registry
        .gather()
        .iter()
        .map(|family| {
            let labels = family
                .get_metric()
                .first()
                .map(|metric| {
                    metric
                        .get_label()
                        .iter()
                        .map(|l| l.name().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            (family.name().to_owned(), labels)
        })
        .collect();
    let mut listed: Vec<Family> = exported
        .iter()
        .map(|(name, labels)| {
            let mut labels: Vec<String> = labels.iter().map(|l| (*l).to_owned()).collect();
            labels.sort();
            ((*name).to_owned(), labels)
        })
        .collect();
    listed.sort();
    (served, listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_public_listener_is_refused() {
        let public = [addr("127.0.0.1:3001")];
        assert!(check_listen(addr("127.0.0.1:3001"), &public, false).is_err());
        assert!(check_listen(addr("0.0.0.0:3001"), &public, true).is_err());
        assert!(check_listen(addr("127.0.0.1:9464"), &public, false).is_ok());
    }

    #[test]
    fn non_loopback_needs_the_flag() {
        assert!(check_listen(addr("0.0.0.0:9464"), &[], false).is_err());
        assert!(check_listen(addr("0.0.0.0:9464"), &[], true).is_ok());
    }

    #[test]
    fn only_get_metrics_is_served() {
        let registry = Registry::new();
        assert_eq!(answer(&registry, "GET", "/metrics").status, 200);
        assert_eq!(answer(&registry, "GET", "/").status, 404);
        let post = answer(&registry, "POST", "/metrics");
        assert_eq!((post.status, post.allow), (405, Some("GET, HEAD")));
    }

    #[test]
    fn status_classes_line_up() {
        for status in [0, 101, 200, 302, 404, 503, 700] {
            assert_eq!(
                STATUS_CLASSES[status_class_index(status)],
                status_class(status)
            );
        }
        assert_eq!(bounded("x", &["a", "b"]), OTHER);
        assert_eq!(bounded("b", &["a", "b"]), "b");
    }
}
