//! Where a sample's files come from: the Host seam (a live host, or a `--root` tree), or a
//! capture held in memory ([`super::capture::Tree`]). The sampler reads through [`Files`] only,
//! so a capture is read by the same code that read the host it was taken on.

use std::collections::BTreeMap;

use crate::host::Host;

/// Why a read gave no bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// The file does not exist (older kernel, container, not captured).
    NotFound,
    /// It exists but could not be read (permission, I/O), with the reason.
    Other(String),
}

/// Read-only access to one host's files, live or captured.
pub trait Files {
    fn read(&self, path: &str) -> Result<Vec<u8>, ReadError>;
    /// Entry names of a directory, sorted; an absent directory has none.
    fn list(&self, path: &str) -> Result<Vec<String>, String>;
    /// Names of the subdirectories of a directory, sorted.
    fn subdirs(&self, path: &str) -> Result<Vec<String>, String>;
    /// The number of entries of a directory.
    fn count(&self, path: &str) -> Result<u64, String>;
    /// The target of a symbolic link (a live or `--root` tree only).
    fn read_link(&self, path: &str) -> Result<String, String>;
    /// (size, owner uid) of a path (a live or `--root` tree only).
    fn stat(&self, path: &str) -> Result<(u64, u32), String>;
    /// The host, when these files are the live machine's: the only case in which sockets,
    /// the kernel log, the clock state and driver statistics can be asked for directly.
    fn live(&self) -> Option<&Host>;
}

impl Files for Host {
    fn read(&self, path: &str) -> Result<Vec<u8>, ReadError> {
        match Host::read(self, path) {
            Ok(b) => Ok(b),
            Err(e) if e.is_not_found() => Err(ReadError::NotFound),
            Err(e) => Err(ReadError::Other(e.to_string())),
        }
    }

    fn list(&self, path: &str) -> Result<Vec<String>, String> {
        self.list_dir(path).map_err(|e| e.to_string())
    }

    fn subdirs(&self, path: &str) -> Result<Vec<String>, String> {
        self.list_subdirs(path).map_err(|e| e.to_string())
    }

    fn count(&self, path: &str) -> Result<u64, String> {
        self.count_entries(path).map_err(|e| e.to_string())
    }

    fn read_link(&self, path: &str) -> Result<String, String> {
        Host::read_link(self, path)
            .map(|t| t.to_string_lossy().into_owned())
            .map_err(|e| e.to_string())
    }

    fn stat(&self, path: &str) -> Result<(u64, u32), String> {
        use std::os::unix::fs::MetadataExt;
        Host::stat(self, path)
            .map(|m| (m.size(), m.uid()))
            .map_err(|e| e.to_string())
    }

    fn live(&self) -> Option<&Host> {
        self.is_live().then_some(self)
    }
}

/// Reads through [`Files`], turning a file the capture recorded as unreadable (its
/// `errors.json`) into that error instead of "absent".
pub struct Reader<'a> {
    pub files: &'a dyn Files,
    pub errors: BTreeMap<String, String>,
}

impl Reader<'_> {
    pub fn read(&self, path: &str) -> super::sample::Data {
        use super::sample::Data;
        match self.files.read(path) {
            Ok(b) => Data::Bytes(b),
            Err(ReadError::NotFound) => match self.errors.get(path) {
                Some(e) => Data::Error(e.clone()),
                None => Data::Missing,
            },
            Err(ReadError::Other(e)) => Data::Error(e),
        }
    }

    /// Bytes of a file, or None when absent or unreadable.
    pub fn bytes(&self, path: &str) -> Option<Vec<u8>> {
        self.files.read(path).ok()
    }
}
