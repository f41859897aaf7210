//! okta-mcp-tool-server: the Okta admin tools behind a role allowlist.
//!
//! The binary wires these modules together: `identity` checks the proxy's signed headers,
//! `policy` decides which tools a role may see and call, `okta` is the one Okta Management API
//! client, `tools` holds the tools themselves, `confirm` the one-time tokens that confirm a
//! write tool when the client cannot ask a person, `server` is the MCP handler that applies the
//! policy, and `http` serves it as MCP streamable HTTP. `wrap` fronts any stdio MCP server
//! with the same identity check and policy instead of the Okta tools.

pub mod config;
pub mod confirm;
pub mod http;
pub use okta_mcp_common::identity;
pub mod listener;
pub mod metrics;
pub mod okta;
pub mod policy;
pub mod server;
pub mod tools;
pub mod traces;
pub mod wrap;
