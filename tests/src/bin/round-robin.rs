//! A round-robin HTTP load balancer for the multi-replica tests: every request (not every
//! connection) goes to the next backend, as a load balancer without session affinity does, and
//! responses stream through (SSE is never buffered). The `Host` header is passed on unchanged.
//! A backend that refuses the connection is skipped for that request, as a load balancer whose
//! health checks have not caught up yet retries another endpoint.
//!
//! `round-robin LISTEN_ADDR BACKEND_ADDR...`, e.g. `round-robin 127.0.0.1:4000 127.0.0.1:4001 127.0.0.1:4002`.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use pingora::prelude::*;
use pingora::proxy::{ProxyHttp, Session};
use pingora::server::configuration::ServerConf;

struct RoundRobin {
    backends: Vec<String>,
    next: AtomicUsize,
}

#[async_trait]
impl ProxyHttp for RoundRobin {
    type CTX = ();

    fn new_ctx(&self) {}

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        let n = self.next.fetch_add(1, Ordering::Relaxed) % self.backends.len();
        Ok(Box::new(HttpPeer::new(
            self.backends[n].as_str(),
            false,
            String::new(),
        )))
    }

    fn fail_to_connect(
        &self,
        _session: &mut Session,
        _peer: &HttpPeer,
        _ctx: &mut (),
        mut e: Box<Error>,
    ) -> Box<Error> {
        // Nothing was sent: the next backend may take the request.
        e.set_retry(true);
        e
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((listen, backends)) = args.split_first().filter(|(_, b)| !b.is_empty()) else {
        eprintln!("usage: round-robin LISTEN_ADDR BACKEND_ADDR...");
        std::process::exit(2);
    };
    let conf = ServerConf {
        threads: 1,
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let balancer = RoundRobin {
        backends: backends.to_vec(),
        next: AtomicUsize::new(0),
    };
    let mut service = pingora::proxy::http_proxy_service(&server.configuration, balancer);
    service.add_tcp(listen);
    server.add_service(service);
    server.run_forever();
}
