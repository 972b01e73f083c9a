//! Snapshot archives: what `snapshot` writes and `diagnose --from` reads.
//!
//! A capture is read into memory, never unpacked to disk: nothing is left behind on any exit
//! (SIGINT and SIGTERM included), and a 1,000-process capture decompresses in a fraction of a
//! second. A capture is someone else's data, so reading it is bounded and literal:
//! - only regular files and directories are read; a symbolic or hard link, a device or a FIFO
//!   anywhere in it refuses the whole capture (a sample linked to `/` would otherwise
//!   diagnose the analyst's own host);
//! - paths are plain relative names (no `..`, no absolute paths);
//! - each entry is named once (a second copy would silently replace the first);
//! - the gzip stream is read to its end so that its CRC-32 and length are checked: a
//!   truncated or damaged archive, or one with bytes after its compressed data, is refused;
//! - at most [`MAX_BYTES`] of decompressed data (a gzip bomb stops there), [`MAX_ENTRIES`]
//!   entries and [`MAX_SAMPLES`] samples, each refused with an error naming the cap.
//!
//! Layout: `manifest.json`, then one tree per sample (`sample0/`, `sample1/`) holding the files
//! diagnose read at their real paths and `.hostperf/*.json` for what is not a file (the socket
//! dump, processes, kernel log lines, clock state, NIC driver counters, read errors).

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path};
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::source::{Files, ReadError};
use crate::host::Host;

/// Decompressed bytes a capture may hold (tar headers included). A snapshot of a host with
/// 5,000 processes and 100,000 sockets is about 40 MiB.
pub const MAX_BYTES: u64 = 256 << 20;
/// Entries (files and directories) a capture may hold.
pub const MAX_ENTRIES: u64 = 200_000;
/// Samples a capture may list: diagnose compares two.
pub const MAX_SAMPLES: usize = 2;
/// The manifest's size.
const MAX_MANIFEST: usize = 1 << 20;

pub const MANIFEST: &str = "manifest.json";
pub const SNAPSHOT_KIND: &str = "hostperf-snapshot";
/// The capture layout this hostperf writes (2: processes, kernel log and clock as JSON, no
/// fd links). Layout 1 stored fd tables as links, which are not read.
pub const CAPTURE_VERSION: u32 = 2;

/// The archive's table of contents.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub schema_version: u32,
    pub kind: String,
    pub hostperf_version: String,
    /// Seconds between sample0 and sample1 (0 when there is one sample).
    pub interval_secs: f64,
    pub samples: Vec<String>,
    #[serde(default)]
    pub kernel: Option<String>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub created_unix: Option<u64>,
}

/// One sample's files, in memory. Paths are absolute on the captured host (`/proc/stat`).
#[derive(Debug, Default, Clone)]
pub struct Tree {
    files: HashMap<String, Vec<u8>>,
    /// Directory -> child name -> is a directory.
    dirs: HashMap<String, BTreeMap<String, bool>>,
    /// Listings the sampler recorded (`.hostperf/dirs.json`): they win over the tree's own.
    listed: HashMap<String, Vec<String>>,
}

fn parent_and_name(path: &str) -> Option<(&str, &str)> {
    let (parent, name) = path.rsplit_once('/')?;
    Some((if parent.is_empty() { "/" } else { parent }, name))
}

impl Tree {
    fn link_parents(&mut self, path: &str, is_dir: bool) {
        let mut child = path.to_string();
        let mut dir = is_dir;
        while let Some((parent, name)) = parent_and_name(&child) {
            if name.is_empty() {
                break;
            }
            let entry = self.dirs.entry(parent.to_string()).or_default();
            let known = entry.insert(name.to_string(), dir).is_some();
            if known || parent == "/" {
                break;
            }
            child = parent.to_string();
            dir = true;
        }
    }

    /// Adds a file at an absolute path.
    pub fn insert_file(&mut self, path: &str, bytes: Vec<u8>) {
        self.link_parents(path, false);
        self.files.insert(path.to_string(), bytes);
    }

    /// Takes the recorded directory listings from `.hostperf/dirs.json`, if any.
    fn take_listings(&mut self) -> Result<(), String> {
        let Some(b) = self.files.get(super::sample::DIRS_FILE) else {
            return Ok(());
        };
        let listed: BTreeMap<String, Vec<String>> =
            serde_json::from_slice(b).map_err(|e| format!("{}: {e}", super::sample::DIRS_FILE))?;
        self.listed = listed.into_iter().collect();
        Ok(())
    }

    /// Adds a directory at an absolute path.
    pub fn insert_dir(&mut self, path: &str) {
        self.link_parents(path, true);
        self.dirs.entry(path.to_string()).or_default();
    }
}

impl Files for Tree {
    fn read(&self, path: &str) -> Result<Vec<u8>, ReadError> {
        self.files.get(path).cloned().ok_or(ReadError::NotFound)
    }

    fn list(&self, path: &str) -> Result<Vec<String>, String> {
        if let Some(names) = self.listed.get(path) {
            return Ok(names.clone());
        }
        Ok(self
            .dirs
            .get(path)
            .map(|d| d.keys().cloned().collect())
            .unwrap_or_default())
    }

    fn subdirs(&self, path: &str) -> Result<Vec<String>, String> {
        Ok(self
            .dirs
            .get(path)
            .map(|d| {
                d.iter()
                    .filter(|(_, dir)| **dir)
                    .map(|(n, _)| n.clone())
                    .collect()
            })
            .unwrap_or_default())
    }

    fn count(&self, path: &str) -> Result<u64, String> {
        Ok(self.dirs.get(path).map_or(0, |d| d.len() as u64))
    }

    fn read_link(&self, _path: &str) -> Result<String, String> {
        Err("a capture holds no links".into())
    }

    fn stat(&self, _path: &str) -> Result<(u64, u32), String> {
        Err("a capture records no file metadata".into())
    }

    fn live(&self) -> Option<&Host> {
        None
    }
}

/// A capture read into memory: the manifest and one tree per listed sample, in order.
#[derive(Debug)]
pub struct Capture {
    pub manifest: Manifest,
    pub samples: Vec<(String, Tree)>,
}

/// Counts decompressed bytes and fails the read past the cap, so that nothing (the tar
/// reader's long-name buffers included) allocates more than the cap.
/// It also records the first error of the reader below (the gzip stream: a truncated or
/// damaged archive), so that the refusal says so whatever the tar reader made of it.
struct Capped<R> {
    inner: R,
    read: Rc<Cell<u64>>,
    cap: u64,
    failed: Rc<Cell<Option<io::ErrorKind>>>,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.read.get() >= self.cap {
            return Err(io::Error::other("capture size cap reached"));
        }
        let room = usize::try_from(self.cap - self.read.get()).unwrap_or(usize::MAX);
        let want = buf.len().min(room.saturating_add(1));
        let n = self.inner.read(&mut buf[..want]).inspect_err(|e| {
            if self.failed.get().is_none() {
                self.failed.set(Some(e.kind()));
            }
        })?;
        self.read.set(self.read.get().saturating_add(n as u64));
        Ok(n)
    }
}

/// What went wrong reading a capture, in words for the person who passed `--from`.
fn refuse(from: &Path, why: impl std::fmt::Display) -> String {
    format!("--from {}: {why}", from.display())
}

fn bytes_cap(from: &Path) -> String {
    refuse(
        from,
        format!(
            "the capture holds more than {} MiB of data (the cap on a capture's size; a hostperf snapshot of a busy host is a few MiB): refusing to read further",
            MAX_BYTES >> 20
        ),
    )
}

fn entries_cap(from: &Path) -> String {
    refuse(
        from,
        format!(
            "the capture holds more than {MAX_ENTRIES} files and directories (the cap on a capture's entries): refusing to read further"
        ),
    )
}

/// A relative archive path as `(top-level name, absolute path below it)`; `..`, absolute
/// paths and other oddities are refused.
fn split_path(path: &Path) -> Result<(String, String), String> {
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => parts.push(
                p.to_str()
                    .ok_or_else(|| format!("{} is not a UTF-8 path", path.display()))?
                    .to_string(),
            ),
            Component::CurDir => {}
            _ => {
                return Err(format!(
                    "{} is not a plain relative path (no `..` or `/` allowed)",
                    path.display()
                ));
            }
        }
    }
    let top = parts
        .first()
        .cloned()
        .ok_or_else(|| "an entry with an empty path".to_string())?;
    Ok((top, format!("/{}", parts[1..].join("/"))))
}

/// Everything read, before the manifest is checked.
#[derive(Default)]
struct Loaded {
    manifest: Option<Vec<u8>>,
    tops: BTreeMap<String, Tree>,
    /// Every entry's name as `top/abs`, to refuse a name given twice.
    seen: HashSet<String>,
}

impl Loaded {
    fn add(&mut self, from: &Path, rel: &Path, bytes: Option<Vec<u8>>) -> Result<(), String> {
        let (top, abs) = split_path(rel).map_err(|e| refuse(from, e))?;
        // A second copy of a file would silently replace the first (appending a forged
        // /proc/meminfo to a real capture): a snapshot names each entry once.
        let name = if abs == "/" {
            top.clone()
        } else {
            format!("{top}{abs}")
        };
        if !self.seen.insert(name) {
            return Err(refuse(
                from,
                format!(
                    "{} appears twice in the capture; a hostperf snapshot holds each file and directory once: refusing to read it",
                    rel.display()
                ),
            ));
        }
        if abs == "/" && top == MANIFEST {
            if let Some(b) = bytes {
                self.manifest = Some(b);
            }
            return Ok(());
        }
        if !self.tops.contains_key(&top) && self.tops.len() >= MAX_SAMPLES + 8 {
            return Err(refuse(
                from,
                format!(
                    "the capture holds more than {} top-level directories; a snapshot has at most {MAX_SAMPLES} samples (the cap)",
                    MAX_SAMPLES + 8
                ),
            ));
        }
        let tree = self.tops.entry(top).or_default();
        match bytes {
            Some(b) => tree.insert_file(&abs, b),
            None if abs != "/" => tree.insert_dir(&abs),
            None => {}
        }
        Ok(())
    }
}

/// A tar entry that is neither a file, a directory nor a link, in words: "a FIFO", "an entry
/// of tar type 'Z'" (type bytes from POSIX ustar and GNU tar).
fn entry_kind_words(kind: tar::EntryType) -> String {
    let byte = kind.as_byte();
    match byte {
        b'3' => "a character device".into(),
        b'4' => "a block device".into(),
        b'6' => "a FIFO".into(),
        b'7' => "a contiguous file (tar type '7')".into(),
        b'S' => "a sparse file (tar type 'S')".into(),
        b'g' => "a pax global header (tar type 'g')".into(),
        b'x' => "a pax extended header (tar type 'x')".into(),
        b'L' | b'K' => format!("a GNU long-name entry (tar type '{}')", byte as char),
        b' '..=b'~' => format!("an entry of tar type '{}'", byte as char),
        _ => format!("an entry of tar type byte {byte:#04x}"),
    }
}

/// What a failed read of the gzip stream says: a trailer that does not match, or data that
/// ends early.
fn damaged(from: &Path, kind: io::ErrorKind, e: &io::Error) -> String {
    let why = if kind == io::ErrorKind::UnexpectedEof {
        "the compressed data ends early".to_string()
    } else {
        e.to_string()
    };
    refuse(
        from,
        format!("the archive is truncated or damaged: {why}; nothing was read from it"),
    )
}

fn load_archive(from: &Path, file: fs::File) -> Result<Loaded, String> {
    let read = Rc::new(Cell::new(0u64));
    let failed = Rc::new(Cell::new(None));
    // bufread's decoder reads from our BufReader, so what follows the gzip stream stays in
    // it to be checked below (read::GzDecoder would hide it in a buffer of its own).
    let capped = Capped {
        inner: flate2::bufread::GzDecoder::new(io::BufReader::with_capacity(1 << 16, file)),
        read: read.clone(),
        cap: MAX_BYTES,
        failed: failed.clone(),
    };
    let hit = |e: &io::Error| {
        if read.get() >= MAX_BYTES {
            bytes_cap(from)
        } else if let Some(kind) = failed.get() {
            damaged(from, kind, e)
        } else {
            refuse(from, format!("not a readable .tar.gz: {e}"))
        }
    };
    let mut archive = tar::Archive::new(capped);
    let mut loaded = Loaded::default();
    let mut entries = 0u64;
    for entry in archive.entries().map_err(|e| hit(&e))? {
        let mut entry = entry.map_err(|e| hit(&e))?;
        entries += 1;
        if entries > MAX_ENTRIES {
            return Err(entries_cap(from));
        }
        let rel = entry.path().map_err(|e| hit(&e))?.into_owned();
        let kind = entry.header().entry_type();
        let bytes = if kind.is_file() {
            let size = entry.size();
            if size > MAX_BYTES.saturating_sub(read.get()) {
                return Err(bytes_cap(from));
            }
            let mut b = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(1 << 24));
            entry.read_to_end(&mut b).map_err(|e| hit(&e))?;
            Some(b)
        } else if kind.is_dir() {
            None
        } else {
            let what = if kind.is_symlink() {
                let target = entry
                    .link_name()
                    .ok()
                    .flatten()
                    .map(|t| t.display().to_string())
                    .unwrap_or_default();
                format!("a symbolic link (to {target:?})")
            } else if kind.is_hard_link() {
                "a hard link".to_string()
            } else {
                entry_kind_words(kind)
            };
            return Err(refuse(
                from,
                format!(
                    "{} is {what}; a hostperf snapshot holds only regular files and directories: refusing to read it",
                    rel.display()
                ),
            ));
        };
        loaded.add(from, &rel, bytes)?;
    }
    // Read the rest of the decompressed stream (tar's end blocks and padding) so that the
    // gzip trailer's CRC-32 and length are checked: a truncated or altered archive is
    // refused, not diagnosed. Still under the size cap, so trailing data cannot run long.
    let mut rest = archive.into_inner();
    if let Err(e) = io::copy(&mut rest, &mut io::sink()) {
        return Err(if read.get() >= MAX_BYTES {
            bytes_cap(from)
        } else {
            damaged(from, e.kind(), &e)
        });
    }
    // Bytes after the gzip stream (a second member) are not part of the capture.
    let mut file = rest.inner.into_inner();
    let mut probe = [0u8; 1];
    match file.read(&mut probe) {
        Ok(0) => {}
        Ok(_) => {
            return Err(refuse(
                from,
                "the archive is truncated or damaged: there are bytes after the end of its compressed data; nothing was read from it",
            ));
        }
        Err(e) => return Err(damaged(from, e.kind(), &e)),
    }
    Ok(loaded)
}

/// Reads an unpacked capture directory with the same rules: no links, no special files,
/// and the same caps.
fn load_dir(from: &Path) -> Result<Loaded, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut loaded = Loaded::default();
    let mut entries = 0u64;
    let mut bytes = 0u64;
    let mut stack = vec![std::path::PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = from.join(&rel);
        let list =
            fs::read_dir(&dir).map_err(|e| refuse(from, format!("{}: {e}", dir.display())))?;
        for item in list {
            let item = item.map_err(|e| refuse(from, format!("{}: {e}", dir.display())))?;
            entries += 1;
            if entries > MAX_ENTRIES {
                return Err(entries_cap(from));
            }
            let rel = rel.join(item.file_name());
            let kind = item
                .file_type()
                .map_err(|e| refuse(from, format!("{}: {e}", rel.display())))?;
            if kind.is_dir() {
                loaded.add(from, &rel, None)?;
                stack.push(rel);
            } else if kind.is_file() {
                // O_NOFOLLOW and O_NONBLOCK: a file swapped for a link or a FIFO after the
                // listing is refused, not followed or waited on.
                let mut f = fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                    .open(from.join(&rel))
                    .map_err(|e| refuse(from, format!("{}: {e}", rel.display())))?;
                let meta = f
                    .metadata()
                    .map_err(|e| refuse(from, format!("{}: {e}", rel.display())))?;
                if !meta.is_file() {
                    return Err(refuse(
                        from,
                        format!("{} is not a regular file", rel.display()),
                    ));
                }
                let room = MAX_BYTES.saturating_sub(bytes);
                let mut b = Vec::new();
                (&mut f)
                    .take(room.saturating_add(1))
                    .read_to_end(&mut b)
                    .map_err(|e| refuse(from, format!("{}: {e}", rel.display())))?;
                bytes = bytes.saturating_add(b.len() as u64);
                if bytes > MAX_BYTES {
                    return Err(bytes_cap(from));
                }
                loaded.add(from, &rel, Some(b))?;
            } else {
                let what = if kind.is_symlink() {
                    let target = fs::read_link(from.join(&rel))
                        .map(|t| t.display().to_string())
                        .unwrap_or_default();
                    format!("a symbolic link (to {target:?})")
                } else {
                    "a device, FIFO or socket".to_string()
                };
                return Err(refuse(
                    from,
                    format!(
                        "{} is {what}; a hostperf snapshot holds only regular files and directories: refusing to read it",
                        rel.display()
                    ),
                ));
            }
        }
    }
    Ok(loaded)
}

fn is_plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Opens a capture: a .tar.gz made by `snapshot`, or its unpacked directory. Every refusal
/// is a message for the operator (a usage error).
pub fn open(from: &Path) -> Result<Capture, String> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK: a FIFO named on the command line must not hang the open.
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(from)
        .map_err(|e| refuse(from, e))?;
    let meta = file.metadata().map_err(|e| refuse(from, e))?;
    let loaded = if meta.is_dir() {
        drop(file);
        load_dir(from)?
    } else if meta.is_file() {
        load_archive(from, file)?
    } else {
        return Err(refuse(from, "neither a .tar.gz file nor a directory"));
    };
    let bytes = loaded
        .manifest
        .ok_or_else(|| refuse(from, format!("no {MANIFEST}: not a hostperf snapshot")))?;
    if bytes.len() > MAX_MANIFEST {
        return Err(refuse(
            from,
            format!("{MANIFEST} is larger than {} KiB", MAX_MANIFEST >> 10),
        ));
    }
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
        refuse(
            from,
            format!("{MANIFEST} is not a hostperf snapshot manifest: {e}"),
        )
    })?;
    if manifest.kind != SNAPSHOT_KIND {
        return Err(refuse(
            from,
            format!(
                "{MANIFEST} is of kind {:?}, not a hostperf snapshot",
                manifest.kind
            ),
        ));
    }
    if manifest.schema_version > CAPTURE_VERSION {
        return Err(refuse(
            from,
            format!(
                "the snapshot's layout version {} is newer than this hostperf's {CAPTURE_VERSION}: read it with a newer hostperf",
                manifest.schema_version
            ),
        ));
    }
    if manifest.samples.len() > MAX_SAMPLES {
        return Err(refuse(
            from,
            format!(
                "{MANIFEST} lists {} samples; a snapshot has at most {MAX_SAMPLES} (the cap)",
                manifest.samples.len()
            ),
        ));
    }
    let mut tops = loaded.tops;
    let mut samples = Vec::new();
    for name in &manifest.samples {
        if !is_plain_name(name) {
            return Err(refuse(
                from,
                format!("{MANIFEST} names a sample {name:?}, which is not a plain name"),
            ));
        }
        let mut tree = tops
            .remove(name)
            .ok_or_else(|| refuse(from, format!("{MANIFEST} lists sample {name:?}, which the capture does not hold (or lists it twice)")))?;
        tree.take_listings()
            .map_err(|e| refuse(from, format!("{name}: {e}")))?;
        samples.push((name.clone(), tree));
    }
    if samples.is_empty() {
        return Err(refuse(from, "the snapshot holds no sample"));
    }
    Ok(Capture { manifest, samples })
}

/// The .tar.gz: manifest.json, then the sample trees, every entry a regular file or a
/// directory with fixed modes and times.
pub struct Writer {
    tar: tar::Builder<flate2::write::GzEncoder<Vec<u8>>>,
}

fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(0);
    h
}

impl Writer {
    pub fn new() -> Self {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        Writer {
            tar: tar::Builder::new(gz),
        }
    }

    pub fn file(&mut self, path: &str, bytes: &[u8]) -> io::Result<()> {
        let mut h = header(tar::EntryType::Regular, bytes.len() as u64, 0o644);
        self.tar
            .append_data(&mut h, path.trim_start_matches('/'), bytes)
    }

    pub fn dir(&mut self, path: &str) -> io::Result<()> {
        let mut h = header(tar::EntryType::Directory, 0, 0o755);
        self.tar
            .append_data(&mut h, path.trim_start_matches('/'), io::empty())
    }

    pub fn finish(self) -> io::Result<Vec<u8>> {
        self.tar.into_inner()?.finish()
    }
}

impl Default for Writer {
    fn default() -> Self {
        Writer::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_lists_what_it_holds() {
        let mut t = Tree::default();
        t.insert_file("/proc/net/snmp", b"x".to_vec());
        t.insert_dir("/sys/class/net/eth0");
        t.insert_file("/sys/class/net/eth0/statistics/rx_dropped", b"0".to_vec());
        assert_eq!(t.list("/proc").unwrap(), vec!["net"]);
        assert_eq!(t.list("/").unwrap(), vec!["proc", "sys"]);
        assert_eq!(t.subdirs("/sys/class/net").unwrap(), vec!["eth0"]);
        assert_eq!(t.list("/sys/class/net/eth0").unwrap(), vec!["statistics"]);
        assert_eq!(Files::read(&t, "/proc/net/snmp").unwrap(), b"x");
        assert_eq!(Files::read(&t, "/nope"), Err(ReadError::NotFound));
        assert!(t.list("/nope").unwrap().is_empty());
    }

    #[test]
    fn entry_types_in_words() {
        let words = |b: u8| entry_kind_words(tar::EntryType::new(b));
        assert_eq!(words(b'6'), "a FIFO");
        assert_eq!(words(b'3'), "a character device");
        assert_eq!(words(b'Z'), "an entry of tar type 'Z'");
        assert_eq!(words(0x05), "an entry of tar type byte 0x05");
        assert_eq!(words(b'7'), "a contiguous file (tar type '7')");
    }

    #[test]
    fn paths_must_be_plain() {
        assert_eq!(
            split_path(Path::new("sample0/proc/stat")).unwrap(),
            ("sample0".to_string(), "/proc/stat".to_string())
        );
        assert!(split_path(Path::new("sample0/../etc")).is_err());
        assert!(split_path(Path::new("/etc/passwd")).is_err());
        assert!(is_plain_name("sample1"));
        assert!(!is_plain_name("../x"));
        assert!(!is_plain_name(""));
    }
}
