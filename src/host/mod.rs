//! The one seam between hostperf and the machine.
//!
//! Every read and write of /proc, /sys, rlimits and netlink goes through [`Host`]. A host has
//! a root directory: `/` on a live machine, or a fixture tree of captured files. The same
//! code therefore runs on a live host, inside a network namespace, and against a capture.
//! Netlink, which has no files, reaches the kernel only for a live host; below a fixture root
//! that describes its NICs in `ROOT/netlink.yaml` a scripted double answers instead
//! ([`NetlinkBackend`]), and any other root refuses it. Faults can be injected explicitly
//! (never by `cfg!(test)`), so the rollback paths are tested with the real code.

mod fault;
pub mod fixture_netlink;
pub mod netlink;
pub mod rlimit;
pub mod sysctl;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

pub use fault::FaultPlan;
pub use fixture_netlink::FixtureNetlink;

/// Where hostperf reads and writes the machine.
#[derive(Clone, Debug)]
pub struct Host {
    root: PathBuf,
    faults: Option<Arc<FaultPlan>>,
    net: Arc<NetState>,
}

/// Which netlink answers the netlink-level operations (ethtool get/set, qdisc
/// get/replace/delete) of a Host: chosen when the Host is built, never by `cfg!(test)`.
#[derive(Debug)]
pub enum NetlinkBackend {
    /// The kernel of this process's network namespace (the root is `/`).
    Live,
    /// The scripted double of a fixture root ([`FixtureNetlink`], `ROOT/netlink.yaml`).
    Fixture(FixtureNetlink),
    /// A root without a device description: refused, with the reason.
    Refused(String),
    /// A description that cannot be read: refused, naming the file and the fault.
    Invalid(String),
}

/// The netlink backend and what one run has already learned from it.
#[derive(Debug, Default)]
struct NetState {
    /// Set when the Host is built with an explicit backend, else chosen on first use.
    backend: OnceLock<NetlinkBackend>,
    cache: Mutex<NetCache>,
}

/// Per-run memory of the network devices, so that a section over hundreds of interfaces
/// lists /sys/class/net and dumps the qdiscs once instead of once per interface. Whoever
/// changes a qdisc drops `qdiscs`.
#[derive(Debug, Default)]
pub struct NetCache {
    /// The names under /sys/class/net.
    pub interfaces: Option<Arc<Vec<String>>>,
    /// Every qdisc of the namespace from one RTM_GETQDISC dump, by interface index.
    pub qdiscs: Option<Arc<std::collections::HashMap<i32, Vec<netlink::TcQdisc>>>>,
    /// The numbered lines of /proc/interrupts.
    pub interrupts: Option<Arc<Vec<InterruptLine>>>,
    /// Interface indexes looked up so far, by name.
    pub ifindex: std::collections::HashMap<String, i32>,
}

/// One numbered /proc/interrupts line: IRQ, chip, action names.
pub type InterruptLine = (u32, String, Vec<String>);

/// An I/O failure, always with the path it concerns.
#[derive(Debug, thiserror::Error)]
#[error("{op} {path}: {source}")]
pub struct HostError {
    pub op: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

impl HostError {
    pub fn new(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        HostError {
            op,
            path: path.into(),
            source,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.source.kind() == io::ErrorKind::NotFound
    }

    pub fn errno(&self) -> Option<i32> {
        self.source.raw_os_error()
    }
}

impl Host {
    /// The machine this process runs on.
    pub fn live() -> Self {
        Host::with_root("/")
    }

    /// A host whose /proc and /sys live below `root` (a fixture tree or a capture). Its
    /// netlink is the kernel's when the root is `/`, else the double described by
    /// `ROOT/netlink.yaml` when there is one, else refused (read on first use).
    pub fn with_root(root: impl Into<PathBuf>) -> Self {
        Host {
            root: root.into(),
            faults: None,
            net: Arc::default(),
        }
    }

    /// Overrides the netlink backend the root would choose (e.g. a double for a tree that
    /// keeps its description elsewhere, or a refusal).
    pub fn with_netlink(mut self, backend: NetlinkBackend) -> Self {
        let state = NetState::default();
        let _ = state.backend.set(backend);
        self.net = Arc::new(state);
        self
    }

    /// Makes chosen operations fail, to exercise error and rollback paths.
    pub fn with_faults(mut self, faults: FaultPlan) -> Self {
        self.faults = Some(Arc::new(faults));
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// True when the root is `/`: only then do syscalls (prlimit, netlink) concern the same
    /// machine as the files.
    pub fn is_live(&self) -> bool {
        self.root == Path::new("/")
    }

    /// The real path of `abs` (an absolute path on the target host, such as `/proc/meminfo`).
    pub fn path(&self, abs: impl AsRef<Path>) -> PathBuf {
        let abs = abs.as_ref();
        let rel = abs.strip_prefix("/").unwrap_or(abs);
        self.root.join(rel)
    }

    pub fn read(&self, abs: impl AsRef<Path>) -> Result<Vec<u8>, HostError> {
        let abs = abs.as_ref();
        self.injected("read", abs)?;
        fs::read(self.path(abs)).map_err(|e| HostError::new("read", abs, e))
    }

    pub fn read_string(&self, abs: impl AsRef<Path>) -> Result<String, HostError> {
        let bytes = self.read(abs)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Reads a file that may legitimately be absent (older kernels, containers): `Ok(None)`.
    pub fn read_optional(&self, abs: impl AsRef<Path>) -> Result<Option<Vec<u8>>, HostError> {
        match self.read(abs) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn exists(&self, abs: impl AsRef<Path>) -> bool {
        self.path(abs).exists()
    }

    /// Writes `bytes` with one `write()` call, as /proc and /sys expect, and fails when the
    /// kernel took fewer bytes than offered (it silently accepts a prefix of some values).
    pub fn write_all_once(&self, abs: impl AsRef<Path>, bytes: &[u8]) -> Result<(), HostError> {
        use std::io::Write;
        let abs = abs.as_ref();
        self.injected("write", abs)?;
        let path = self.path(abs);
        let mut file = fs::OpenOptions::new()
            .write(true)
            .truncate(!self.is_live())
            .open(&path)
            .map_err(|e| HostError::new("open", abs, e))?;
        let taken = file
            .write(bytes)
            .map_err(|e| HostError::new("write", abs, e))?;
        if taken != bytes.len() {
            let msg = format!("the kernel took {taken} of {} bytes", bytes.len());
            return Err(HostError::new(
                "write",
                abs,
                io::Error::new(io::ErrorKind::InvalidInput, msg),
            ));
        }
        Ok(())
    }

    /// Replaces a regular file durably: write a temp file beside it, fsync, rename, fsync the
    /// directory. Creates missing parent directories.
    pub fn write_file_atomic(&self, abs: impl AsRef<Path>, bytes: &[u8]) -> Result<(), HostError> {
        let abs = abs.as_ref();
        self.injected("write", abs)?;
        write_durably(&self.path(abs), bytes).map_err(|e| HostError::new("write", abs, e))
    }

    /// Removes a regular file; an absent one is fine.
    pub fn remove_file(&self, abs: impl AsRef<Path>) -> Result<(), HostError> {
        let abs = abs.as_ref();
        self.injected("remove", abs)?;
        match fs::remove_file(self.path(abs)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(HostError::new("remove", abs, e)),
            _ => Ok(()),
        }
    }

    /// Names in a directory, sorted; an absent directory is empty.
    pub fn list_dir(&self, abs: impl AsRef<Path>) -> Result<Vec<String>, HostError> {
        let abs = abs.as_ref();
        let entries = match fs::read_dir(self.path(abs)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(HostError::new("list", abs, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| HostError::new("list", abs, e))?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    /// The pids in /proc, ascending.
    pub fn pids(&self) -> Result<Vec<u32>, HostError> {
        let mut pids: Vec<u32> = self
            .list_dir("/proc")?
            .iter()
            .filter_map(|n| n.parse().ok())
            .collect();
        pids.sort_unstable();
        Ok(pids)
    }

    /// A process's name (/proc/PID/comm); `None` once it has exited or when unreadable.
    pub fn comm(&self, pid: u32) -> Option<String> {
        self.read_string(format!("/proc/{pid}/comm"))
            .ok()
            .map(|c| c.trim_end().to_string())
    }

    pub fn read_link(&self, abs: impl AsRef<Path>) -> Result<PathBuf, HostError> {
        let abs = abs.as_ref();
        fs::read_link(self.path(abs)).map_err(|e| HostError::new("readlink", abs, e))
    }

    fn injected(&self, op: &'static str, abs: &Path) -> Result<(), HostError> {
        match &self.faults {
            Some(faults) => match faults.take(op, abs) {
                Some(errno) => Err(HostError::new(op, abs, io::Error::from_raw_os_error(errno))),
                None => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// Consults the fault plan for operations that do not go through a file (prlimit, netlink).
    pub fn check_fault(&self, op: &'static str, target: &Path) -> Result<(), HostError> {
        self.injected(op, target)
    }

    /// Who answers ethtool and qdisc requests for this host: the kernel (then open sockets
    /// with [`Host::netlink`]) or the fixture's double. A root without a description is an
    /// Unsupported error that says how to give it one; a malformed description is an
    /// InvalidData error naming the file.
    pub fn netlink_backend(&self) -> Result<&NetlinkBackend, HostError> {
        let backend = self.net.backend.get_or_init(|| {
            if self.is_live() {
                return NetlinkBackend::Live;
            }
            match FixtureNetlink::load(&self.root) {
                Ok(Some(double)) => NetlinkBackend::Fixture(double),
                Ok(None) => NetlinkBackend::Refused(format!(
                    "netlink needs a live host, not a fixture root {} (describe its devices in {}/{})",
                    self.root.display(),
                    self.root.display(),
                    fixture_netlink::DESCRIPTION
                )),
                Err(e) => NetlinkBackend::Invalid(e),
            }
        });
        let refuse = |kind: io::ErrorKind, why: &str| {
            Err(HostError::new(
                "netlink",
                "/netlink",
                io::Error::new(kind, why.to_string()),
            ))
        };
        match backend {
            NetlinkBackend::Refused(why) => refuse(io::ErrorKind::Unsupported, why),
            NetlinkBackend::Invalid(why) => refuse(io::ErrorKind::InvalidData, why),
            other => Ok(other),
        }
    }

    /// This run's memory of the network devices (see [`NetCache`]).
    pub fn net_cache(&self) -> MutexGuard<'_, NetCache> {
        self.net
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A netlink socket of `protocol` (libc::NETLINK_ROUTE, NETLINK_GENERIC, ...) in this
    /// process's network namespace. A socket reaches the kernel, so a fixture root cannot
    /// have one: refused there with an Unsupported error (its double answers the
    /// [`NetlinkBackend`] operations instead). Faults: op "netlink", path
    /// `/netlink/PROTOCOL` (e.g. `/netlink/4` for inet_diag).
    pub fn netlink(&self, protocol: libc::c_int) -> Result<netlink::Socket, HostError> {
        let target = PathBuf::from(format!("/netlink/{protocol}"));
        if !self.is_live() {
            let why = format!(
                "netlink needs a live host, not a fixture root {}",
                self.root.display()
            );
            return Err(HostError::new(
                "netlink",
                target,
                io::Error::new(io::ErrorKind::Unsupported, why),
            ));
        }
        self.check_fault("netlink", &target)?;
        netlink::Socket::open(protocol).map_err(|e| HostError::new("netlink", target, e))
    }
}

/// Temp file, fsync, rename over `path`, fsync the directory: after a crash the file holds
/// either the old or the new bytes, and the new ones once this returns.
pub fn write_durably(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
