//! What both okta-mcp binaries share.
//!
//! `identity` is the identity header contract between the proxy (which signs) and the tool
//! server (which verifies), in one place so the two sides cannot drift apart; `logging` sets
//! up the log output both binaries write.

pub mod identity;
pub mod logging;
