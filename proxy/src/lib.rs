//! okta-mcp-proxy: the edge MCP clients talk to.
//!
//! `edge` is the pingora `ProxyHttp` implementation and only dispatches: OAuth endpoints and
//! pages go to `oauth`, `/mcp` is authenticated by `oauth` (our tokens or the session cookie)
//! and forwarded by `forward` with the identity headers `identity` signs. `okta_login` logs
//! users in at Okta, `roles` maps their groups to one role, `tokens` and `session_cookie` mint
//! and check what we hand out, `store` keeps the authorization server's state, and
//! `revocations` answers "is this revoked?" from memory, kept current through the store;
//! `replicas` routes an MCP session's requests to the replica that owns it; `hooks` takes
//! Okta Event Hooks and cuts users off the moment Okta deactivates or regroups them.

pub mod config;
pub mod deadlines;
pub mod edge;
pub mod forward;
pub mod hooks;
pub mod identity;
pub mod metrics;
pub mod oauth;
pub mod okta_directory;
pub mod okta_login;
pub mod replicas;
pub mod request_body;
pub mod revocations;
pub mod roles;
pub mod session_cookie;
pub mod store;
pub mod tokens;
pub mod traces;
pub mod web;
