//! The one seam between hostperf and the machine.
//!
//! Every read and write of /proc, /sys, rlimits and netlink goes through [`Host`]. A host has
//! a root directory: `/` on a live machine, or a fixture tree of captured files. The same
//! code therefore runs on a live host, inside a network namespace, and against a capture.
//! Netlink, which has no files, is refused below a fixture root. Faults can be injected
//! explicitly (never by `cfg!(test)`), so the rollback paths are tested with the real code.

pub mod ethtool_stats;
mod fault;
pub mod netlink;
pub mod rlimit;
pub mod sysctl;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use fault::FaultPlan;

/// Where hostperf reads and writes the machine.
#[derive(Clone, Debug)]
pub struct Host {
    root: PathBuf,
    faults: Option<Arc<FaultPlan>>,
}

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

    /// A host whose /proc and /sys live below `root` (a fixture tree or a capture).
    pub fn with_root(root: impl Into<PathBuf>) -> Self {
        Host {
            root: root.into(),
            faults: None,
        }
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

    /// Reads a file of at most `max` bytes (a longer one is an error naming the cap), without
    /// the stat(2) `read` does to size its buffer: /proc and /sys files report size 0 anyway.
    pub fn read_capped(&self, abs: impl AsRef<Path>, max: usize) -> Result<Vec<u8>, HostError> {
        use std::io::Read;
        let abs = abs.as_ref();
        self.injected("read", abs)?;
        let mut file =
            fs::File::open(self.path(abs)).map_err(|e| HostError::new("read", abs, e))?;
        let mut buf = Vec::with_capacity(4096.min(max.saturating_add(1)));
        (&mut file)
            .take(max as u64 + 1)
            .read_to_end(&mut buf)
            .map_err(|e| HostError::new("read", abs, e))?;
        if buf.len() > max {
            let msg = format!("larger than {max} bytes");
            return Err(HostError::new(
                "read",
                abs,
                io::Error::new(io::ErrorKind::InvalidData, msg),
            ));
        }
        Ok(buf)
    }

    /// The metadata of a path, following links (size, owner, type). On Linux >= 6.2 the size
    /// of /proc/PID/fd is the number of open fds.
    pub fn stat(&self, abs: impl AsRef<Path>) -> Result<fs::Metadata, HostError> {
        let abs = abs.as_ref();
        self.injected("stat", abs)?;
        fs::metadata(self.path(abs)).map_err(|e| HostError::new("stat", abs, e))
    }

    /// How many entries a directory has, without collecting or sorting their names.
    pub fn count_entries(&self, abs: impl AsRef<Path>) -> Result<u64, HostError> {
        let abs = abs.as_ref();
        self.injected("list", abs)?;
        let entries = fs::read_dir(self.path(abs)).map_err(|e| HostError::new("list", abs, e))?;
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
        let entries = match fs::read_dir(self.path(abs)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(HostError::new("list", abs, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| HostError::new("list", abs, e))?;
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        Ok(names)
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

    /// A netlink socket of `protocol` (libc::NETLINK_ROUTE, NETLINK_GENERIC, ...) in this
    /// process's network namespace. Netlink has no files, so a fixture root cannot answer it:
    /// refused there with an Unsupported error. Faults: op "netlink", path
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
