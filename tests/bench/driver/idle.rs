//! What an idle CPU does on this machine, and `--guest-halt-poll-ns`.
//!
//! On a KVM guest with the `haltpoll` cpuidle driver, an idle vCPU first polls for up to
//! `guest_halt_poll_ns` and then halts. A halted vCPU goes back to the host, and waking it
//! costs a VM exit and entry, often on a core whose caches the host gave to other work
//! meanwhile. Firecracker guests boot with `haltpoll.guest_halt_poll_ns=0`: every idle vCPU
//! halts at once. At c=1 every hop of a request (wrk → proxy → tool server → proxy → wrk) then
//! wakes a halted vCPU, and the p50 measures those wake-ups as much as the servers.

use std::path::Path;

use anyhow::{Context, bail};

/// The cpuidle driver in use.
const CPUIDLE_DRIVER: &str = "/sys/devices/system/cpu/cpuidle/current_driver";
/// How long an idle vCPU polls before halting, when the driver is `haltpoll`.
const HALT_POLL_NS: &str = "/sys/module/haltpoll/parameters/guest_halt_poll_ns";

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|v| v.trim().to_owned())
}

/// E.g. "cpuidle haltpoll, guest_halt_poll_ns 0"; "" when the kernel does not say.
pub fn describe() -> String {
    match (read(CPUIDLE_DRIVER), read(HALT_POLL_NS)) {
        (Some(driver), Some(ns)) => format!("cpuidle {driver}, guest_halt_poll_ns {ns}"),
        (Some(driver), None) => format!("cpuidle {driver}"),
        (None, Some(ns)) => format!("guest_halt_poll_ns {ns}"),
        (None, None) => String::new(),
    }
}

/// `guest_halt_poll_ns` set for the run; dropping it puts the old value back.
pub struct HaltPoll {
    old: String,
}

impl HaltPoll {
    /// Sets `guest_halt_poll_ns` to `ns`, or says why it cannot.
    pub fn set(ns: u64) -> anyhow::Result<Self> {
        let Some(old) = read(HALT_POLL_NS) else {
            bail!(
                "--guest-halt-poll-ns: {HALT_POLL_NS} does not exist; this machine is not a KVM \
                 guest with the haltpoll cpuidle driver, so there is nothing to set (leave the \
                 flag out)"
            );
        };
        write(ns.to_string().as_str()).with_context(|| {
            format!(
                "--guest-halt-poll-ns: cannot write {HALT_POLL_NS} (it needs root); it stays {old}"
            )
        })?;
        eprintln!(
            "[bench] guest_halt_poll_ns {ns} for this run (was {old}); if the run is interrupted, \
             put it back with: echo {old} > {HALT_POLL_NS}"
        );
        Ok(Self { old })
    }
}

fn write(value: &str) -> std::io::Result<()> {
    std::fs::write(Path::new(HALT_POLL_NS), value)
}

impl Drop for HaltPoll {
    fn drop(&mut self) {
        match write(&self.old) {
            Ok(()) => eprintln!("[bench] guest_halt_poll_ns back to {}", self.old),
            Err(error) => eprintln!(
                "[bench] could not put guest_halt_poll_ns back to {} ({error}): echo {} > \
                 {HALT_POLL_NS}",
                self.old, self.old
            ),
        }
    }
}
