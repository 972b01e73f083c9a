//! Anonymous network namespaces for the testbed.
//!
//! A namespace here is an open file descriptor and nothing else: no name under /run/netns,
//! no process holding it. The kernel removes the namespace, and every veth and qdisc inside
//! it, when the last descriptor closes, so the testbed cannot outlive this process even when
//! it is killed with SIGKILL, and concurrent runs cannot collide on names.
//!
//! Code runs inside a namespace on a thread that called setns(2) (sockets belong to the
//! namespace of the thread that created them; /proc/sys/net and /proc/thread-self/net follow
//! the calling thread), and programs run inside it through `command`, which enters the
//! namespace between fork and exec and remounts /sys as `ip netns exec` does.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use anyhow::{Context, anyhow};

/// One network namespace, alive while this value is.
#[derive(Debug)]
pub struct Netns {
    fd: OwnedFd,
    /// What the testbed calls it in messages: "client", "server", "router".
    pub role: &'static str,
}

impl Netns {
    /// A fresh namespace: a short-lived thread unshares into it and hands back a descriptor.
    /// Errors: EPERM without CAP_SYS_ADMIN.
    pub fn new(role: &'static str) -> anyhow::Result<Netns> {
        let fd = std::thread::spawn(|| -> std::io::Result<OwnedFd> {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(std::io::Error::from)?;
            let file = std::fs::File::open("/proc/thread-self/ns/net")?;
            Ok(OwnedFd::from(file))
        })
        .join()
        .map_err(|_| anyhow!("the thread creating a network namespace panicked"))?
        .context("cannot create a network namespace (needs root: CAP_SYS_ADMIN)")?;
        Ok(Netns { fd, role })
    }

    /// The calling thread's own namespace (for `--serve`, which runs where it is started).
    pub fn current() -> anyhow::Result<Netns> {
        let file = std::fs::File::open("/proc/thread-self/ns/net")
            .context("open /proc/thread-self/ns/net")?;
        Ok(Netns {
            fd: OwnedFd::from(file),
            role: "current",
        })
    }

    /// A path other programs can open to reach this namespace (`ip link ... netns PATH`),
    /// valid while this process lives.
    pub fn path(&self) -> String {
        format!("/proc/{}/fd/{}", std::process::id(), self.fd.as_raw_fd())
    }

    /// Moves the calling thread into the namespace. Only for threads bench owns.
    pub fn enter(&self) -> anyhow::Result<()> {
        nix::sched::setns(&self.fd, nix::sched::CloneFlags::CLONE_NEWNET)
            .with_context(|| format!("cannot enter the {} namespace", self.role))
    }

    /// Runs `f` on a thread inside the namespace and returns its result.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> anyhow::Result<T> {
        std::thread::scope(|s| {
            s.spawn(|| -> anyhow::Result<T> {
                self.enter()?;
                Ok(f())
            })
            .join()
            .map_err(|_| anyhow!("a thread in the {} namespace panicked", self.role))?
        })
    }

    /// A command that runs inside the namespace with its own view of /sys (a private mount
    /// namespace with sysfs mounted afresh, as `ip netns exec` does). Nothing but syscalls
    /// runs between fork and exec: the strings are prepared here.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        let fd = self.fd.as_raw_fd();
        let root = CString::new("/").expect("static");
        let sys = CString::new("/sys").expect("static");
        let sysfs = CString::new("sysfs").expect("static");
        let none = CString::new("none").expect("static");
        // SAFETY: the closure only makes raw syscalls (async-signal-safe) on values prepared
        // before fork; it allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::unshare(libc::CLONE_NEWNS) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::mount(
                    none.as_ptr(),
                    root.as_ptr(),
                    std::ptr::null(),
                    libc::MS_SLAVE | libc::MS_REC,
                    std::ptr::null(),
                ) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                // /sys may be absent or not a mount point in a container; then the old view
                // stays, which only matters to programs that read /sys/class/net.
                libc::umount2(sys.as_ptr(), libc::MNT_DETACH);
                libc::mount(
                    sysfs.as_ptr(),
                    sys.as_ptr(),
                    sysfs.as_ptr(),
                    0,
                    std::ptr::null(),
                );
                Ok(())
            });
        }
        cmd
    }

    /// A second descriptor for the same namespace (for a runtime's worker threads).
    pub fn try_clone(&self) -> anyhow::Result<Netns> {
        let fd = self
            .fd
            .try_clone()
            .context("duplicate a namespace descriptor")?;
        Ok(Netns {
            fd,
            role: self.role,
        })
    }
}
