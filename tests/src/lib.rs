//! Shared helpers for end-to-end tests.

pub mod contract;
pub mod fake_okta;
pub mod harness;
pub mod oauth_flow;
