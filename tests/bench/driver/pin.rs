//! Where the c=1 comparison with turns runs: its client on the first CPU the driver may use,
//! every server on the others, for as long as the rounds last (`alternate.rs`).
//!
//! At c=1 every hop of a request wakes an idle vCPU, and whether the next process runs on the
//! vCPU that woke it or on the other one is the scheduler's choice of the moment. The two
//! cost very differently on a guest whose idle vCPUs halt, and the choice sticks for a while,
//! so one target could spend a round on the cheap path and another on the dear one. With the
//! client on one CPU and the servers on the others every target's requests take the same path
//! (client → servers and back across, proxy → tool server on the servers' side).

use std::io;

/// A thread's CPUs before `pin` changed them.
struct Saved {
    tid: libc::pid_t,
    cpus: libc::cpu_set_t,
}

/// The placement in force; `restore` (or drop) puts every thread back.
pub struct Pinned {
    saved: Vec<Saved>,
    /// Each server process and the CPUs its main thread had: where a thread it started while
    /// pinned (which inherited the pinned set) goes back to.
    servers: Vec<(u32, libc::cpu_set_t)>,
}

fn cpus_of(tid: libc::pid_t) -> io::Result<libc::cpu_set_t> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the size passed is the set's.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(set)
    }
}

fn set_cpus(tid: libc::pid_t, set: &libc::cpu_set_t) -> io::Result<()> {
    // SAFETY: `set` is a valid cpu_set_t of the size passed.
    if unsafe { libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn set_of(cpus: &[usize]) -> libc::cpu_set_t {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET stays within it for
    // cpu < CPU_SETSIZE, which `cpus` (read from such a set) are.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for cpu in cpus {
            libc::CPU_SET(*cpu, &mut set);
        }
        set
    }
}

/// The CPUs in `set`, in order.
fn list_of(set: &libc::cpu_set_t) -> Vec<usize> {
    // SAFETY: reading a valid set, below its size.
    (0..libc::CPU_SETSIZE as usize)
        .filter(|c| unsafe { libc::CPU_ISSET(*c, set) })
        .collect()
}

/// The threads of process `pid`.
fn threads_of(pid: u32) -> io::Result<Vec<libc::pid_t>> {
    std::fs::read_dir(format!("/proc/{pid}/task"))?
        .map(|entry| {
            entry?
                .file_name()
                .to_string_lossy()
                .parse()
                .map_err(|_| io::Error::other("a task that is not a number"))
        })
        .collect()
}

impl Pinned {
    /// Puts the calling thread on the first CPU it may use and every thread of `servers` on
    /// the others; `None` when it may use only one. On an error nothing stays changed.
    pub fn client_apart_from(servers: &[u32]) -> anyhow::Result<Option<Self>> {
        let allowed = list_of(&cpus_of(0)?);
        let Some((client, rest)) = allowed.split_first().filter(|(_, rest)| !rest.is_empty())
        else {
            return Ok(None);
        };
        let mut pinned = Self {
            saved: Vec::new(),
            servers: Vec::new(),
        };
        for pid in servers {
            let main = libc::pid_t::try_from(*pid).map_err(io::Error::other)?;
            pinned.servers.push((*pid, cpus_of(main)?));
        }
        let mut pin = |tid: libc::pid_t, set: &libc::cpu_set_t| -> io::Result<()> {
            let before = cpus_of(tid)?;
            set_cpus(tid, set)?;
            pinned.saved.push(Saved { tid, cpus: before });
            Ok(())
        };
        let rest = set_of(rest);
        for pid in servers {
            for tid in threads_of(*pid)? {
                // A thread that ended since the listing is no longer there to place.
                match pin(tid, &rest) {
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                    other => other?,
                }
            }
        }
        // 0: the calling thread.
        pin(0, &set_of(&[*client]))?;
        Ok(Some(pinned))
    }

    /// Puts every thread back where it was.
    pub fn restore(mut self) -> anyhow::Result<()> {
        self.put_back()
    }

    fn put_back(&mut self) -> anyhow::Result<()> {
        let mut first_error = None;
        let mut put = |tid: libc::pid_t, cpus: &libc::cpu_set_t| match set_cpus(tid, cpus) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        };
        // Threads started while pinned first: they go where their process's main thread was.
        for (pid, cpus) in std::mem::take(&mut self.servers) {
            for tid in threads_of(pid).unwrap_or_default() {
                if !self.saved.iter().any(|s| s.tid == tid) {
                    put(tid, &cpus);
                }
            }
        }
        for s in self.saved.drain(..).rev() {
            put(s.tid, &s.cpus);
        }
        match first_error {
            Some(e) => Err(anyhow::Error::new(e).context("putting threads back on their CPUs")),
            None => Ok(()),
        }
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        let _ = self.put_back();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu_list(tid: libc::pid_t) -> Vec<usize> {
        list_of(&cpus_of(tid).unwrap())
    }

    #[test]
    fn the_client_and_the_servers_are_kept_apart_then_put_back() {
        let allowed = cpu_list(0);
        let n = allowed.len();
        let mut server = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = server.id() as libc::pid_t;
        let (client_before, server_before) = (cpu_list(0), cpu_list(pid));
        let pinned = Pinned::client_apart_from(&[server.id()]).unwrap();
        if n < 2 {
            assert!(pinned.is_none());
        } else {
            assert_eq!(cpu_list(0), allowed[..1]);
            assert_eq!(cpu_list(pid), allowed[1..]);
            pinned.unwrap().restore().unwrap();
        }
        assert_eq!(cpu_list(0), client_before);
        assert_eq!(cpu_list(pid), server_before);
        // A process that is gone is an error that says so, and changes nothing.
        server.kill().unwrap();
        server.wait().unwrap();
        if n >= 2 {
            let error = Pinned::client_apart_from(&[server.id()]).err().unwrap();
            assert!(
                format!("{error:#}").contains("No such process"),
                "{error:#}"
            );
            assert_eq!(cpu_list(0), client_before);
        }
    }
}
