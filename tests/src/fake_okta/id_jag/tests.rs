//! Cross App Access through the real router (no sockets).
