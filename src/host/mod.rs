//! The one seam between hostperf and the machine.
//!
//! Every read and write of /proc, /sys, rlimits and netlink goes through [`Host`]. A host has
//! a root directory: `/` on a live machine, or a fixture tree of captured files. The same
//! code therefore runs on a live host, inside a network namespace, and against a capture.
//! Netlink, which has no files, reaches the kernel only for a live host; below a fixture root
//! that describes its NICs in `ROOT/netlink.yaml` a scripted double answers instead
//! ([`NetlinkBackend`]), and any other root refuses it. Faults can be injected explicitly
//! (never by `cfg!(test)`), so the rollback paths are tested with the real code.

pub mod ethtool_stats;
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

/// A network namespace: the inode of its nsfs file (what `ip netns identify` compares) and
/// the name `ip netns` gave it, if any.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NetnsId {
    pub inode: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl std::fmt::Display for NetnsId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name} (net:[{}])", self.inode),
            None => write!(f, "net:[{}]", self.inode),
        }
    }
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

    /// The real path of `abs` (an absolute path on the target host, such as `/proc/meminfo`),
    /// for messages. Every operation goes through [`Host::resolve`], which also refuses `..`.
    pub fn path(&self, abs: impl AsRef<Path>) -> PathBuf {
        let abs = abs.as_ref();
        let rel = abs.strip_prefix("/").unwrap_or(abs);
        self.root.join(rel)
    }

    /// The real path of `abs` below the root. A `..` that would climb above the root is
    /// refused (InvalidInput): whatever names a path (a sysctl key, an interface, a journal
    /// entry), nothing hostperf reads or writes can leave the root that way. A `..` below
    /// a link the kernel resolves (`/sys/class/net/eth0/device/../numa_node`) stays inside.
    fn resolve(&self, op: &'static str, abs: &Path) -> Result<PathBuf, HostError> {
        let mut depth = 0usize;
        for component in abs.components() {
            match component {
                std::path::Component::Normal(_) => depth += 1,
                std::path::Component::ParentDir if depth > 0 => depth -= 1,
                std::path::Component::ParentDir => {
                    return Err(HostError::new(
                        op,
                        abs,
                        io::Error::new(
                            io::ErrorKind::InvalidInput,
                            "the path climbs above the root with '..'; hostperf never leaves its root",
                        ),
                    ));
                }
                _ => {}
            }
        }
        Ok(self.path(abs))
    }

    /// The whole file, at most [`READ_LIMIT`] bytes (a larger one is an error, so a link to
    /// /dev/zero in a capture cannot exhaust memory).
    pub fn read(&self, abs: impl AsRef<Path>) -> Result<Vec<u8>, HostError> {
        use std::io::Read;
        let abs = abs.as_ref();
        self.injected("read", abs)?;
        let path = self.resolve("read", abs)?;
        let file = fs::File::open(&path).map_err(|e| HostError::new("read", abs, e))?;
        let mut bytes = Vec::new();
        file.take(READ_LIMIT + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| HostError::new("read", abs, e))?;
        tracing::debug!(path = %path.display(), bytes = bytes.len(), "read");
        if bytes.len() as u64 > READ_LIMIT {
            let why = format!("larger than {} MiB; not a kernel file", READ_LIMIT >> 20);
            return Err(HostError::new(
                "read",
                abs,
                io::Error::new(io::ErrorKind::InvalidData, why),
            ));
        }
        Ok(bytes)
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

    /// Whether `abs` exists (following links); false for a path that climbs above the root.
    pub fn exists(&self, abs: impl AsRef<Path>) -> bool {
        self.resolve("stat", abs.as_ref())
            .is_ok_and(|path| path.exists())
    }

    /// Writes `bytes` with one `write()` call, as /proc and /sys expect, and fails when the
    /// kernel took fewer bytes than offered (it silently accepts a prefix of some values).
    /// The last component is opened with O_NOFOLLOW: kernel attributes are never links.
    pub fn write_all_once(&self, abs: impl AsRef<Path>, bytes: &[u8]) -> Result<(), HostError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let abs = abs.as_ref();
        self.injected("write", abs)?;
        let path = self.resolve("open", abs)?;
        tracing::debug!(path = %path.display(), value = %String::from_utf8_lossy(bytes).trim_end(), "write");
        let mut file = fs::OpenOptions::new()
            .write(true)
            .truncate(!self.is_live())
            .custom_flags(libc::O_NOFOLLOW)
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

    /// Replaces a regular file durably with [`write_durably`], the one writer for files
    /// outside the state directory. The directory must exist.
    pub fn write_file_atomic(&self, abs: impl AsRef<Path>, bytes: &[u8]) -> Result<(), HostError> {
        let abs = abs.as_ref();
        self.injected("write", abs)?;
        let path = self.resolve("write", abs)?;
        tracing::debug!(path = %path.display(), bytes = bytes.len(), "write file");
        write_durably(&path, bytes).map_err(|e| HostError::new("write", abs, e))
    }

    /// Creates the directory `abs` (mode 0755) when it is absent; its parent must exist. An
    /// existing directory is fine; an existing link or file in its place is an error.
    pub fn create_dir(&self, abs: impl AsRef<Path>) -> Result<(), HostError> {
        use std::os::unix::fs::DirBuilderExt;
        let abs = abs.as_ref();
        self.injected("mkdir", abs)?;
        let path = self.resolve("mkdir", abs)?;
        match fs::DirBuilder::new().mode(0o755).create(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                match fs::symlink_metadata(&path) {
                    Ok(m) if m.is_dir() => Ok(()),
                    _ => Err(HostError::new(
                        "mkdir",
                        abs,
                        io::Error::new(
                            io::ErrorKind::AlreadyExists,
                            "exists and is not a directory (a link or a file); remove it",
                        ),
                    )),
                }
            }
            Err(e) => Err(HostError::new("mkdir", abs, e)),
        }
    }

    /// Removes a regular file (a link in its place is removed, never followed); an absent
    /// one is fine.
    pub fn remove_file(&self, abs: impl AsRef<Path>) -> Result<(), HostError> {
        let abs = abs.as_ref();
        self.injected("remove", abs)?;
        let path = self.resolve("remove", abs)?;
        match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(HostError::new("remove", abs, e)),
            _ => Ok(()),
        }
    }

    /// Names in a directory, sorted; an absent directory is empty.
    pub fn list_dir(&self, abs: impl AsRef<Path>) -> Result<Vec<String>, HostError> {
        self.names_where(abs.as_ref(), |_| true)
    }

    /// The sorted names of the entries of a directory that `keep` accepts; an absent
    /// directory has none.
    fn names_where(
        &self,
        abs: &Path,
        keep: impl Fn(&fs::DirEntry) -> bool,
    ) -> Result<Vec<String>, HostError> {
        let entries = match fs::read_dir(self.resolve("list", abs)?) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(HostError::new("list", abs, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| HostError::new("list", abs, e))?;
            if keep(&entry) {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
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

    /// The metadata of a path, following links (size, owner, type). On Linux >= 6.2 the size
    /// of /proc/PID/fd is the number of open fds.
    pub fn stat(&self, abs: impl AsRef<Path>) -> Result<fs::Metadata, HostError> {
        let abs = abs.as_ref();
        self.injected("stat", abs)?;
        let path = self.resolve("stat", abs)?;
        fs::metadata(path).map_err(|e| HostError::new("stat", abs, e))
    }

    /// How many entries a directory has, without collecting or sorting their names.
    pub fn count_entries(&self, abs: impl AsRef<Path>) -> Result<u64, HostError> {
        let abs = abs.as_ref();
        self.injected("list", abs)?;
        let path = self.resolve("list", abs)?;
        let entries = fs::read_dir(path).map_err(|e| HostError::new("list", abs, e))?;
        let mut n = 0u64;
        for entry in entries {
            entry.map_err(|e| HostError::new("list", abs, e))?;
            n = n.saturating_add(1);
        }
        Ok(n)
    }

    /// The names of the subdirectories of a directory (not following links), sorted; an
    /// absent directory has none.
    pub fn list_subdirs(&self, abs: impl AsRef<Path>) -> Result<Vec<String>, HostError> {
        let abs = abs.as_ref();
        self.injected("list", abs)?;
        self.names_where(abs, |entry| entry.file_type().is_ok_and(|t| t.is_dir()))
    }

    pub fn read_link(&self, abs: impl AsRef<Path>) -> Result<PathBuf, HostError> {
        let abs = abs.as_ref();
        fs::read_link(self.resolve("readlink", abs)?)
            .map_err(|e| HostError::new("readlink", abs, e))
    }

    /// The network namespace this process is in, on a live host: its inode (from
    /// /proc/self/ns/net, `net:[INODE]`) and, when one of /run/netns/NAME is it, its name.
    /// `None` below a fixture root or where /proc does not say.
    pub fn netns(&self) -> Option<NetnsId> {
        if !self.is_live() {
            return None;
        }
        let link = self.read_link("/proc/self/ns/net").ok()?;
        let inode = link
            .to_str()?
            .strip_prefix("net:[")?
            .strip_suffix(']')?
            .parse()
            .ok()?;
        let name = self.list_dir("/run/netns").ok().and_then(|names| {
            names.into_iter().find(|n| {
                use std::os::unix::fs::MetadataExt;
                !n.starts_with('.')
                    && fs::metadata(self.path(format!("/run/netns/{n}")))
                        .is_ok_and(|m| m.ino() == inode)
            })
        });
        Some(NetnsId { inode, name })
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

/// The most [`Host::read`] returns: far above any kernel file hostperf reads (the largest,
/// /proc/interrupts of a 1024-CPU host with 500 vectors, is about 6 MiB; sockets are read
/// over netlink, never from /proc/net/tcp).
pub const READ_LIMIT: u64 = 64 << 20;

/// The one writer for every file hostperf writes outside its state directory (`--output`
/// reports, snapshot archives, persisted configuration). The bytes go to a temp file created
/// in the target's directory with O_CREAT|O_EXCL|O_NOFOLLOW under an unpredictable name
/// (`.NAME.<64 random bits>.tmp`), are fsync'd, and the temp file is renamed over `path`;
/// then the directory is fsync'd. Every step is relative to one open directory fd, so a
/// directory swapped in between is not written. After a crash `path` holds the old or the
/// new bytes. A link at `path` is replaced, never followed. The directory must exist: a
/// missing one is an error (NotFound, naming it), never created. The file is mode 0644
/// whatever the umask ([`write_durably_mode`] for another mode), less any permission the
/// file it replaces lacked (a 0640 file stays 0640).
pub fn write_durably(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_durably_mode(path, bytes, 0o644)
}

/// [`write_durably`] giving the new file `mode` (e.g. 0o600 for a snapshot archive, which
/// holds process names and kernel log lines) whatever the umask.
pub fn write_durably_mode(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    use rustix::fs::{AtFlags, Mode, OFlags};
    use std::io::Write;
    let name = match path.file_name() {
        Some(name)
            if path
                .components()
                .next_back()
                .is_some_and(|c| matches!(c, std::path::Component::Normal(_))) =>
        {
            name
        }
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} does not name a file", path.display()),
            ));
        }
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir_fd = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| {
        let e = io::Error::from(e);
        let why = if e.kind() == io::ErrorKind::NotFound {
            "does not exist (hostperf does not create directories; create it first)".to_string()
        } else {
            e.to_string()
        };
        io::Error::new(e.kind(), format!("directory {}: {why}", dir.display()))
    })?;
    // A file replaced keeps no permission the old one lacked: a 0640 file hostperf
    // rewrites (and rollback restores) stays 0640.
    let mode = match rustix::fs::statat(&dir_fd, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st)
            if rustix::fs::FileType::from_raw_mode(st.st_mode)
                == rustix::fs::FileType::RegularFile =>
        {
            mode & st.st_mode & 0o777
        }
        _ => mode,
    };
    let (tmp, file) = create_temp(&dir_fd, name, mode)?;
    let result = (|| {
        let mut file = fs::File::from(file);
        file.write_all(bytes)?;
        file.sync_all()?;
        rustix::fs::renameat(&dir_fd, &tmp, &dir_fd, name)?;
        rustix::fs::fsync(&dir_fd)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = rustix::fs::unlinkat(&dir_fd, &tmp, AtFlags::empty());
    }
    result
}

/// A new temp file beside `name` in `dir`, under a name no other user can predict, created
/// with O_EXCL|O_NOFOLLOW so nothing planted under that name is opened.
fn create_temp(
    dir: &std::os::fd::OwnedFd,
    name: &std::ffi::OsStr,
    mode: u32,
) -> io::Result<(std::ffi::OsString, std::os::fd::OwnedFd)> {
    use rustix::fs::{Mode, OFlags};
    use std::os::unix::ffi::OsStrExt;
    // Keep the temp name within NAME_MAX (255) however long the target's name is.
    let stem = &name.as_bytes()[..name.len().min(200)];
    let mut last = None;
    for _ in 0..16 {
        let mut tmp = std::ffi::OsString::from(".");
        tmp.push(std::ffi::OsStr::from_bytes(stem));
        tmp.push(format!(".{:016x}.tmp", random_u64()));
        match rustix::fs::openat(
            dir,
            &tmp,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        ) {
            Ok(fd) => {
                // The mode whatever the umask: a group-writable file in /etc would be
                // refused when hostperf reads it back as root (profile ownership rules).
                rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))?;
                return Ok((tmp, fd));
            }
            Err(rustix::io::Errno::EXIST) => last = Some(rustix::io::Errno::EXIST),
            Err(e) => return Err(e.into()),
        }
    }
    Err(last.unwrap_or(rustix::io::Errno::EXIST).into())
}

/// 64 bits no other process can predict: std's per-process random SipHash keys (seeded from
/// the kernel's getrandom) over a counter and the clock.
pub fn random_u64() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    hasher.write_u128(now.as_nanos());
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_files_are_0644_whatever_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("applied.yaml");
        // umask is per process: 002 (common for shared accounts) would otherwise leave 0664.
        // It only widens group bits, so tests running beside this one are unaffected.
        let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o002));
        let result = write_durably(&target, b"x\n");
        rustix::process::umask(old);
        result.unwrap();
        let mode = fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
    }

    #[test]
    fn the_writer_gives_a_private_file_mode_0600_replacing_a_0644_one() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("snap.tar.gz");
        write_durably(&target, b"old").unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&target), 0o644);
        write_durably_mode(&target, b"new", 0o600).unwrap();
        assert_eq!(mode(&target), 0o600);
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert_eq!(names(dir.path()), ["snap.tar.gz"]);
    }

    /// A file replaced keeps no permission the old one lacked, and never gains group or
    /// other write: a 0640 limits file stays 0640 through apply and rollback.
    #[test]
    fn a_replaced_file_keeps_no_permission_it_lacked() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        for (before, after) in [
            (0o640, 0o640),
            (0o600, 0o600),
            (0o666, 0o644),
            (0o755, 0o644),
        ] {
            let target = dir.path().join(format!("f{before:o}"));
            fs::write(&target, b"old").unwrap();
            fs::set_permissions(&target, fs::Permissions::from_mode(before)).unwrap();
            write_durably(&target, b"new").unwrap();
            assert_eq!(mode(&target), after, "{before:o}");
            assert_eq!(fs::read(&target).unwrap(), b"new");
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut n: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    }

    #[test]
    fn the_writer_replaces_a_link_at_the_target_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        let target = dir.path().join("report.prom");
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        write_durably(&target, b"new\n").unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
        assert!(fs::symlink_metadata(&target).unwrap().is_file());
        assert_eq!(fs::read_to_string(&target).unwrap(), "new\n");
        assert_eq!(names(dir.path()), ["report.prom", "victim"]);
    }

    #[test]
    fn the_writer_never_creates_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_durably(&dir.path().join("a/b/c.txt"), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains("does not exist"), "{err}");
        assert!(!dir.path().join("a").exists());
        assert!(write_durably(Path::new("/"), b"x").is_err());
        assert!(write_durably(&dir.path().join(".."), b"x").is_err());
    }

    #[test]
    fn temp_names_are_not_predictable() {
        let a: Vec<u64> = (0..64).map(|_| random_u64()).collect();
        let mut b = a.clone();
        b.sort_unstable();
        b.dedup();
        assert_eq!(a.len(), b.len());
    }

    #[test]
    fn reads_are_capped_and_dotdot_is_refused() {
        let host = Host::with_root("/");
        assert!(host.read("/proc/../../etc/hostname").is_err());
        assert!(host.read("/proc/self/../self/status").is_ok());
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero")).unwrap();
        let host = Host::with_root(dir.path());
        let err = host.read("/zero").unwrap_err();
        assert!(err.to_string().contains("MiB"), "{err}");
    }

    #[test]
    fn create_dir_makes_one_level_and_refuses_a_link_in_its_place() {
        let dir = tempfile::tempdir().unwrap();
        let host = Host::with_root(dir.path());
        host.create_dir("/d").unwrap();
        host.create_dir("/d").unwrap();
        assert!(host.create_dir("/x/y").is_err());
        std::os::unix::fs::symlink("/tmp", dir.path().join("l")).unwrap();
        assert!(host.create_dir("/l").is_err());
    }
}
