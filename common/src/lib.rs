//! What both okta-mcp binaries share.
//!
//! `identity` is the identity header contract between the proxy (which signs) and the tool
//! server (which verifies), in one place so the two sides cannot drift apart; `logging` sets
//! up the log output both binaries write; `metrics` is what their `/metrics` listeners answer;
//! `traces` exports OpenTelemetry traces and carries them from one binary to the other;
//! `okta_auth` is how both authenticate to the Okta Management API (API token or service app).

pub mod identity;
pub mod logging;
pub mod metrics;
pub mod okta_auth;
pub mod traces;
