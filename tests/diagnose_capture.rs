//! `diagnose --from` on hostile captures: links, special files, `..` paths, a gzip bomb, a
//! manifest listing one sample 200,000 times, too many entries, and SIGTERM halfway. A capture
//! is read in memory, literally and bounded; each refusal names what was refused.

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hostperf");

fn base() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/diagnose/base"
    ))
}

fn header(kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h
}

/// An archive builder that starts with the base capture's manifest and sample trees.
struct Archive {
    tar: tar::Builder<flate2::write::GzEncoder<Vec<u8>>>,
}

impl Archive {
    fn new() -> Self {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        Archive {
            tar: tar::Builder::new(gz),
        }
    }

    fn with_base() -> Self {
        let mut a = Archive::new();
        a.tree(base(), "");
        a
    }

    fn tree(&mut self, dir: &Path, prefix: &str) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let name = format!("{prefix}{}", e.file_name().to_string_lossy());
            if e.file_type().unwrap().is_dir() {
                self.tree(&e.path(), &format!("{name}/"));
            } else {
                self.file(&name, &fs::read(e.path()).unwrap());
            }
        }
    }

    fn file(&mut self, path: &str, bytes: &[u8]) {
        let mut h = header(tar::EntryType::Regular, bytes.len() as u64);
        self.tar.append_data(&mut h, path, bytes).unwrap();
    }

    fn link(&mut self, path: &str, target: &str, kind: tar::EntryType) {
        let mut h = header(kind, 0);
        self.tar.append_link(&mut h, path, target).unwrap();
    }

    /// An entry whose name is written raw (the builder refuses `..`).
    fn raw(&mut self, name: &[u8], bytes: &[u8]) {
        let mut h = header(tar::EntryType::Regular, bytes.len() as u64);
        h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
        h.set_cksum();
        self.tar.append(&h, bytes).unwrap();
    }

    fn write(self, dir: &Path) -> std::path::PathBuf {
        let path = dir.join("capture.tar.gz");
        let bytes = self.tar.into_inner().unwrap().finish().unwrap();
        fs::write(&path, bytes).unwrap();
        path
    }
}

fn diagnose_from(path: &Path) -> Output {
    Command::new(BIN)
        .args(["diagnose", "--format", "json", "--from"])
        .arg(path)
        .output()
        .unwrap()
}

fn refused(out: &Output, want: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(want), "expected {want:?} in: {err}");
    assert!(out.stdout.is_empty(), "no report from a refused capture");
    err
}

#[test]
fn the_base_capture_as_an_archive_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = Archive::with_base().write(dir.path());
    let out = diagnose_from(&path);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn links_in_an_archive_are_refused() {
    let hostname = fs::read_to_string("/etc/hostname").unwrap_or_default();
    let cases: [(&str, &str, tar::EntryType); 3] = [
        (
            "sample0/proc/meminfo",
            "/etc/hostname",
            tar::EntryType::Symlink,
        ),
        ("sample1/proc", "/proc", tar::EntryType::Symlink),
        ("sample0/proc/stat", "/etc/shadow", tar::EntryType::Link),
    ];
    for (path, target, kind) in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Archive::new();
        a.link(path, target, kind);
        a.tree(base(), "");
        let out = diagnose_from(&a.write(dir.path()));
        let err = refused(&out, "only regular files and directories");
        assert!(err.contains(path), "{err}");
        if !hostname.trim().is_empty() {
            assert!(!String::from_utf8_lossy(&out.stdout).contains(hostname.trim()));
        }
    }
    // A whole sample that is a link to `/` would diagnose the analyst's own host.
    let dir = tempfile::tempdir().unwrap();
    let mut a = Archive::new();
    a.file(
        "manifest.json",
        &fs::read(base().join("manifest.json")).unwrap(),
    );
    a.link("sample0", "/", tar::EntryType::Symlink);
    a.link("sample1", "/", tar::EntryType::Symlink);
    refused(&diagnose_from(&a.write(dir.path())), "symbolic link");
}

#[test]
fn dot_dot_paths_devices_and_fifos_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Archive::with_base();
    a.raw(b"sample0/../../../tmp/evil", b"x");
    refused(
        &diagnose_from(&a.write(dir.path())),
        "not a plain relative path",
    );

    let dir = tempfile::tempdir().unwrap();
    let mut a = Archive::with_base();
    let mut h = header(tar::EntryType::Char, 0);
    a.tar
        .append_data(&mut h, "sample0/dev/null", std::io::empty())
        .unwrap();
    refused(
        &diagnose_from(&a.write(dir.path())),
        "only regular files and directories",
    );

    // An unpacked capture with a link or a FIFO: refused, and the FIFO is not waited on.
    for special in ["link", "fifo"] {
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("cap");
        copy_tree(base(), &copy);
        let p = copy.join("sample1/proc/net/snmp");
        fs::remove_file(&p).unwrap();
        if special == "link" {
            std::os::unix::fs::symlink("/etc/hostname", &p).unwrap();
        } else {
            nix::unistd::mkfifo(&p, nix::sys::stat::Mode::S_IRUSR).unwrap();
        }
        let start = Instant::now();
        refused(&diagnose_from(&copy), "only regular files and directories");
        assert!(start.elapsed() < Duration::from_secs(20));
    }
    // A FIFO named by --from itself.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("capture.tar.gz");
    nix::unistd::mkfifo(
        &fifo,
        nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR,
    )
    .unwrap();
    refused(
        &diagnose_from(&fifo),
        "neither a .tar.gz file nor a directory",
    );
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// 27 files of 10 MiB of zeros compress to well under a megabyte and unpack to 270 MiB: the
/// read stops at the 256 MiB cap, without writing anything.
#[test]
fn a_gzip_bomb_stops_at_the_size_cap() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Archive::with_base();
    let zeros = vec![0u8; 10 << 20];
    for i in 0..27 {
        a.file(&format!("sample0/bomb/{i}"), &zeros);
    }
    let path = a.write(dir.path());
    assert!(fs::metadata(&path).unwrap().len() < 4 << 20);
    let start = Instant::now();
    refused(&diagnose_from(&path), "256 MiB");
    assert!(start.elapsed() < Duration::from_secs(60));
    // One entry that declares more than the cap is refused before it is read.
    let dir = tempfile::tempdir().unwrap();
    let mut a = Archive::with_base();
    let mut h = header(tar::EntryType::Regular, 300 << 20);
    h.set_path("sample0/huge").unwrap();
    h.set_cksum();
    a.tar
        .append(&h, std::io::repeat(0).take(300 << 20))
        .unwrap();
    refused(&diagnose_from(&a.write(dir.path())), "256 MiB");
}

#[test]
fn a_manifest_listing_one_sample_200000_times_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(base().join("manifest.json")).unwrap()).unwrap();
    manifest["samples"] = serde_json::Value::Array(vec!["sample0".into(); 200_000]);
    let mut a = Archive::new();
    a.file("manifest.json", manifest.to_string().as_bytes());
    a.tree(&base().join("sample0"), "sample0/");
    let start = Instant::now();
    refused(
        &diagnose_from(&a.write(dir.path())),
        "manifest.json is larger than 1024 KiB",
    );
    assert!(start.elapsed() < Duration::from_secs(20));
    // Under the manifest's size cap, the samples cap: a snapshot has two at most.
    let dir = tempfile::tempdir().unwrap();
    manifest["samples"] = serde_json::Value::Array(vec!["sample0".into(); 50_000]);
    let mut a = Archive::new();
    a.file("manifest.json", manifest.to_string().as_bytes());
    a.tree(&base().join("sample0"), "sample0/");
    let err = refused(&diagnose_from(&a.write(dir.path())), "at most 2");
    assert!(err.contains("50000 samples"), "{err}");
    // A sample listed twice is refused too.
    let dir = tempfile::tempdir().unwrap();
    manifest["samples"] = serde_json::json!(["sample0", "sample0"]);
    let mut a = Archive::new();
    a.file("manifest.json", manifest.to_string().as_bytes());
    a.tree(&base().join("sample0"), "sample0/");
    refused(&diagnose_from(&a.write(dir.path())), "lists it twice");
}

#[test]
fn too_many_entries_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Archive::with_base();
    for i in 0..200_001u32 {
        a.file(&format!("sample0/many/{i}"), b"");
    }
    refused(
        &diagnose_from(&a.write(dir.path())),
        "200000 files and directories",
    );
}

/// SIGTERM while a large capture is read: nothing is left anywhere (it is never unpacked).
#[test]
fn sigterm_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Archive::with_base();
    let noise: Vec<u8> = (0..(8u32 << 20))
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    for i in 0..6 {
        a.file(&format!("sample0/big/{i}"), &noise);
    }
    let path = a.write(dir.path());
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["diagnose", "--from"])
        .arg(&path)
        .env("TMPDIR", tmp.path())
        .current_dir(cwd.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(150));
    // SAFETY: kill(2) on the child this test started.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    child.wait().unwrap();
    assert_eq!(
        fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "TMPDIR is empty"
    );
    assert_eq!(
        fs::read_dir(cwd.path()).unwrap().count(),
        0,
        "nothing in the working dir"
    );
}

/// Runs `diagnose --from` on a refused archive and checks that nothing was written beside
/// it (the working directory is the archive's directory).
fn refused_in_place(path: &Path, want: &str) -> String {
    let dir = path.parent().unwrap();
    let out = Command::new(BIN)
        .args(["diagnose", "--format", "json", "--from"])
        .arg(path)
        .current_dir(dir)
        .output()
        .unwrap();
    let err = refused(&out, want);
    assert_eq!(
        fs::read_dir(dir).unwrap().count(),
        1,
        "nothing is written beside the archive"
    );
    err
}

/// Entries that are neither files, directories nor links are named in words: never the tar
/// crate's debug text (`__Nonexhaustive(90)`, `Fifo`).
#[test]
fn other_entry_types_are_named_in_plain_words() {
    let cases: [(u8, &str); 5] = [
        (b'Z', "sample1/proc/odd is an entry of tar type 'Z'; "),
        (b'6', "sample1/proc/odd is a FIFO; "),
        (b'3', "sample1/proc/odd is a character device; "),
        (b'4', "sample1/proc/odd is a block device; "),
        (
            b'7',
            "sample1/proc/odd is a contiguous file (tar type '7'); ",
        ),
    ];
    for (byte, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Archive::with_base();
        let mut h = header(tar::EntryType::new(byte), 0);
        a.tar
            .append_data(&mut h, "sample1/proc/odd", std::io::empty())
            .unwrap();
        let err = refused_in_place(&a.write(dir.path()), want);
        assert!(
            err.contains("a hostperf snapshot holds only regular files and directories"),
            "{err}"
        );
        assert!(
            !err.contains("Nonexhaustive") && !err.contains("of type"),
            "{err}"
        );
    }
}

/// A second copy of a file would replace the first: appending a /proc/meminfo with no memory
/// available to a healthy capture made diagnose report memory pressure.
#[test]
fn a_member_given_twice_is_refused() {
    let forged =
        b"MemTotal:       16000000 kB\nMemFree:               0 kB\nMemAvailable:          0 kB\n";
    let dir = tempfile::tempdir().unwrap();
    let mut a = Archive::with_base();
    a.file("sample1/proc/meminfo", forged);
    let err = refused_in_place(
        &a.write(dir.path()),
        "/capture.tar.gz: sample1/proc/meminfo appears twice in the capture; a hostperf snapshot holds each file and directory once: refusing to read it",
    );
    assert!(!err.contains("memory-pressure"), "{err}");
    // The same name spelled with `./`, and a second manifest.
    let dir = tempfile::tempdir().unwrap();
    let mut a = Archive::with_base();
    a.file("./sample0/proc/stat", b"cpu 1 2 3 4\n");
    refused_in_place(&a.write(dir.path()), "sample0/proc/stat appears twice");
    let dir = tempfile::tempdir().unwrap();
    let mut a = Archive::with_base();
    a.file(
        "manifest.json",
        &fs::read(base().join("manifest.json")).unwrap(),
    );
    refused_in_place(&a.write(dir.path()), "manifest.json appears twice");
}

/// The gzip trailer (CRC-32 and length) is checked: an archive cut short, altered, or with
/// bytes after its compressed data is refused, never diagnosed.
#[test]
fn a_truncated_or_damaged_archive_is_refused() {
    let good = {
        let a = Archive::with_base();
        a.tar.into_inner().unwrap().finish().unwrap()
    };
    let n = good.len();
    let mut bad_crc = good.clone();
    bad_crc[n - 8] ^= 1;
    let mut trailing = good.clone();
    trailing.extend_from_slice(&good);
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "last 4 bytes cut",
            good[..n - 4].to_vec(),
            "the compressed data ends early",
        ),
        (
            "cut in half",
            good[..n / 2].to_vec(),
            "the compressed data ends early",
        ),
        ("CRC altered", bad_crc, "checksum"),
        (
            "a second gzip member",
            trailing,
            "there are bytes after the end of its compressed data",
        ),
    ];
    for (what, bytes, why) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cap.tar.gz");
        fs::write(&path, bytes).unwrap();
        let err = refused_in_place(&path, "/cap.tar.gz: the archive is truncated or damaged: ");
        assert!(err.contains(why), "{what}: {err}");
        assert!(err.contains("; nothing was read from it"), "{what}: {err}");
    }
    // The intact archive is read.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cap.tar.gz");
    fs::write(&path, good).unwrap();
    assert_eq!(diagnose_from(&path).status.code(), Some(0));
}

/// Past the tar end blocks, data inside the gzip stream is still read under the size cap: a
/// bomb hidden after the archive's end stops there.
#[test]
fn a_bomb_after_the_tar_end_stops_at_the_size_cap() {
    let dir = tempfile::tempdir().unwrap();
    let a = Archive::with_base();
    let mut gz = a.tar.into_inner().unwrap();
    std::io::copy(&mut std::io::repeat(0).take(300 << 20), &mut gz).unwrap();
    let path = dir.path().join("capture.tar.gz");
    fs::write(&path, gz.finish().unwrap()).unwrap();
    let start = Instant::now();
    refused_in_place(&path, "256 MiB");
    assert!(start.elapsed() < Duration::from_secs(60));
}
