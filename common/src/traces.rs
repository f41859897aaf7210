//! OpenTelemetry traces over OTLP/HTTP, on when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//!
//! One trace follows a request from the proxy through the tool server to each Okta call: the
//! proxy starts a span per forwarded `/mcp` request and sends its W3C `traceparent` with the
//! identity headers; the tool server continues it and makes a span per tool call and per Okta
//! request. Only spans of target [`TARGET`] are exported, and the log output never shows them,
//! so turning traces on changes no log line. Attributes carry bounded, non-personal values only
//! (method, status, the tool name, the Okta path template); never a subject, email, token,
//! cookie or raw path.
//!
//! Off (the default), nothing is built and [`enabled`] is one relaxed atomic load, so the
//! request paths skip making spans at all.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The target of the spans that are exported (and that logs never show).
pub const TARGET: &str = "okta_mcp_trace";

/// The W3C trace context header.
pub const TRACEPARENT: &str = "traceparent";
/// Its companion: vendor-specific trace state.
pub const TRACESTATE: &str = "tracestate";

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether traces are exported (request paths make spans only then).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Builds the OTLP exporter for `service` when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (the
/// standard `OTEL_EXPORTER_OTLP_*` and `OTEL_BSP_*` variables apply). `Err` says why the
/// exporter cannot be built.
pub fn provider(service: &'static str) -> Result<Option<SdkTracerProvider>, String> {
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").unwrap_or_default();
    let traces_endpoint = std::env::var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").unwrap_or_default();
    if endpoint.trim().is_empty() && traces_endpoint.trim().is_empty() {
        return Ok(None);
    }
    use opentelemetry_otlp::WithExportConfig as _;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(protocol())
        .build()
        .map_err(|error| format!("OTEL_EXPORTER_OTLP_ENDPOINT: {error}"))?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service)
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    ENABLED.store(true, Ordering::Relaxed);
    Ok(Some(provider))
}

/// `OTEL_EXPORTER_OTLP_PROTOCOL`: `http/json`, else `http/protobuf` (the default; gRPC is not
/// built in).
fn protocol() -> opentelemetry_otlp::Protocol {
    match std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL").as_deref() {
        Ok("http/json") => opentelemetry_otlp::Protocol::HttpJson,
        _ => opentelemetry_otlp::Protocol::HttpBinary,
    }
}

/// The tracing layer that exports [`TARGET`] spans through `provider`.
pub fn layer<S>(
    provider: &SdkTracerProvider,
    service: &'static str,
) -> impl tracing_subscriber::Layer<S> + use<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use tracing_subscriber::Layer as _;
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(service))
        .with_tracked_inactivity(false)
        .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
            meta.target() == TARGET
        }))
}

/// The `traceparent` (and `tracestate`, if any) that continue `span` in another process.
pub fn outgoing(span: &tracing::Span) -> Vec<(&'static str, String)> {
    let mut fields = std::collections::HashMap::new();
    TraceContextPropagator::new().inject_context(&span.context(), &mut fields);
    let mut headers = Vec::with_capacity(2);
    for name in [TRACEPARENT, TRACESTATE] {
        if let Some(value) = fields.remove(name).filter(|v| !v.is_empty()) {
            headers.push((name, value));
        }
    }
    headers
}

/// Makes `span` continue the trace that `headers`' `traceparent` names (nothing when there is
/// none, or it is not a valid one).
pub fn continue_from(span: &tracing::Span, headers: &http::HeaderMap) {
    struct Headers<'a>(&'a http::HeaderMap);
    impl Extractor for Headers<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(http::HeaderName::as_str).collect()
        }
    }
    if !headers.contains_key(TRACEPARENT) {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    let _ = span.set_parent(parent);
}
