//! Dependencies that log through `log` (pingora does, several times per request) must stop
//! at the `log` macros' own level check, not build a record for `tracing` to refuse.

/// One process per test file: `init` installs the global logger.
#[test]
fn dependencies_debug_lines_stop_at_the_log_macros_level_check() {
    // SAFETY: set before any thread of this test process reads it.
    unsafe { std::env::set_var("LOG_LEVEL", "debug") };
    let _guard = okta_mcp_common::logging::init();
    // Our own crates log through `tracing`, so `log`'s level only ever gates dependencies,
    // which `DependencyCap` never lets below info, whatever LOG_LEVEL says.
    assert_eq!(log::max_level(), log::LevelFilter::Info);
    let info = log::Metadata::builder()
        .level(log::Level::Info)
        .target("pingora_core::server")
        .build();
    assert!(
        log::logger().enabled(&info),
        "pingora's info lines still reach the log"
    );
}
