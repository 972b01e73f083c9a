//! The sysctl files a boot applies (sysctl.d(5)) and what they set: where
//! `90-hostperf.conf` stands among them, and which other file sets one of its keys.
//!
//! systemd-sysctl reads `*.conf` from /etc/sysctl.d, /run/sysctl.d, /usr/local/lib/sysctl.d,
//! /usr/lib/sysctl.d and /lib/sysctl.d; a name in an earlier directory hides the same name in
//! a later one; the files are applied sorted by name, so for one key the last assignment
//! wins. `sysctl --system` (procps) reads /etc/sysctl.conf after them; Debian links
//! /etc/sysctl.d/99-sysctl.conf to it, which is then read once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::host::Host;
use crate::tune::Desired;

use super::{PersistFile, SYSCTL_FILE};

/// Where sysctl files are read at boot, highest precedence first for files of the same
/// name (sysctl.d(5)).
pub const SYSCTL_DIRS: &[&str] = &[
    "/etc/sysctl.d",
    "/run/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
];

/// /etc/sysctl.conf, read last by `sysctl --system`.
pub const SYSCTL_CONF: &str = "/etc/sysctl.conf";

/// The file name of hostperf's sysctl file.
const OURS: &str = "90-hostperf.conf";

/// The largest sysctl file read; the rest of a larger one is ignored.
const FILE_LIMIT: usize = 1 << 20;

/// The most sysctl files read (a boot has tens).
const FILES_MAX: usize = 4096;

/// One assignment in a sysctl file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootLine {
    /// The file, as a path on the host (`/etc/sysctl.d/99-sysctl.conf`).
    pub file: PathBuf,
    /// The key as written, in dotted form; may be a glob (`net.ipv4.conf.*.rp_filter`).
    pub pattern: String,
    pub value: String,
    /// Read after hostperf's `90-hostperf.conf` at boot, so it wins over it.
    pub after_ours: bool,
}

/// Every assignment the sysctl files of `host` make at boot, in the order they are applied
/// (hostperf's own file excluded). Unreadable files are skipped: this is advice, not a
/// check that can fail.
pub fn boot_lines(host: &Host) -> Vec<BootLine> {
    let mut by_name: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in SYSCTL_DIRS {
        for name in host.list_dir(dir).unwrap_or_default() {
            if name.ends_with(".conf") && by_name.len() < FILES_MAX {
                by_name
                    .entry(name.clone())
                    .or_insert_with(|| Path::new(dir).join(&name));
            }
        }
    }
    let mut files: Vec<(PathBuf, bool)> = by_name
        .into_iter()
        .filter(|(name, _)| name != OURS)
        .map(|(name, path)| (path, name.as_str() > OURS))
        .collect();
    let conf = PathBuf::from(SYSCTL_CONF);
    // Debian links /etc/sysctl.d/99-sysctl.conf to ../sysctl.conf: read it once.
    let linked = files.iter().any(|(p, _)| {
        host.read_link(p).is_ok_and(|target| {
            let target = p.parent().unwrap_or(Path::new("/")).join(target);
            normalize_path(&target) == conf
        })
    });
    if !linked {
        files.push((conf, true));
    }
    let mut lines = Vec::new();
    for (path, after_ours) in files {
        let Ok(Some(bytes)) = host.read_optional(&path) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(FILE_LIMIT)]);
        for (pattern, value) in parse_sysctl_conf(&text) {
            lines.push(BootLine {
                file: path.clone(),
                pattern,
                value,
                after_ours,
            });
        }
    }
    lines
}

/// The lines of `lines` that set `key` to a value `wanted` does not accept.
pub fn setting_otherwise<'a>(
    lines: &'a [BootLine],
    key: &str,
    wanted: &Desired,
) -> impl Iterator<Item = &'a BootLine> {
    lines.iter().filter(move |line| {
        glob_match(&line.pattern, key)
            && !wanted.is_met_by(&crate::host::sysctl::normalize(&line.value))
    })
}

/// Warnings for keys of hostperf's sysctl file (in `files`) that a file read after it at
/// boot sets to another value: that file's setting wins at boot.
pub fn boot_overrides(host: &Host, files: &[PersistFile]) -> Vec<String> {
    let Some(ours) = files.iter().find(|f| f.path == Path::new(SYSCTL_FILE)) else {
        return Vec::new();
    };
    let wanted = parse_sysctl_conf(&ours.content);
    if wanted.is_empty() {
        return Vec::new();
    }
    let later: Vec<BootLine> = boot_lines(host)
        .into_iter()
        .filter(|l| l.after_ours)
        .collect();
    let mut warnings = Vec::new();
    for (key, value) in &wanted {
        for line in setting_otherwise(&later, key, &Desired::exact(value.as_str())) {
            warnings.push(format!(
                "{} sets {} = {} and is read after {SYSCTL_FILE} at boot, so {key} will boot as {}, not {value}; change or remove that line",
                line.file.display(),
                line.pattern,
                line.value,
                line.value
            ));
        }
    }
    warnings
}

/// `key = value` lines of a sysctl.d file, keys in hostperf's dotted form (a dot inside a
/// component written as `/`, as `SysctlKey` displays it), a leading `-` dropped. Comments
/// (`#`, `;`) and blank lines are skipped.
pub fn parse_sysctl_conf(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with(['#', ';']) {
                return None;
            }
            let (key, value) = line.split_once('=')?;
            let key = key.trim().trim_start_matches('-');
            Some((dotted(key), value.trim().to_string()))
        })
        .collect()
}

/// A sysctl.d key in dotted form: sysctl.d(5) reads a key whose first separator is `/` with
/// `/` as separator and `.` as a literal dot (`net/ipv4/conf/eth0.100/rp_filter`), which is
/// `net.ipv4.conf.eth0/100.rp_filter` dotted.
pub fn dotted(key: &str) -> String {
    match key.find(['.', '/']) {
        Some(i) if key.as_bytes()[i] == b'/' => key
            .split('/')
            .map(|c| c.replace('.', "/"))
            .collect::<Vec<_>>()
            .join("."),
        _ => key.to_string(),
    }
}

/// fnmatch(3)-style `*` and `?` over a dotted key, as systemd-sysctl matches glob keys.
pub fn glob_match(pattern: &str, key: &str) -> bool {
    let (p, k): (Vec<char>, Vec<char>) = (pattern.chars().collect(), key.chars().collect());
    let (mut pi, mut ki) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ki < k.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == k[ki]) {
            pi += 1;
            ki += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ki;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ki = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// `a/b/../c` as `a/c`, lexically.
fn normalize_path(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_in_both_separator_styles() {
        let parsed = parse_sysctl_conf(
            "# c\n; c\n-net/ipv4/conf/eth0.100/rp_filter = 2\nnet.core.somaxconn=4096\n\nkernel/pid_max = 9\nbad line\n",
        );
        assert_eq!(
            parsed,
            [
                ("net.ipv4.conf.eth0/100.rp_filter".into(), "2".into()),
                ("net.core.somaxconn".into(), "4096".into()),
                ("kernel.pid_max".into(), "9".into()),
            ]
        );
    }

    #[test]
    fn globs_match_like_systemd_sysctl() {
        assert!(glob_match(
            "net.ipv4.conf.*.rp_filter",
            "net.ipv4.conf.eth0.rp_filter"
        ));
        assert!(glob_match("net.core.somaxconn", "net.core.somaxconn"));
        assert!(!glob_match(
            "net.ipv4.conf.*.rp_filter",
            "net.ipv4.conf.eth0.arp_filter"
        ));
        assert!(glob_match("vm.dirty_?atio", "vm.dirty_ratio"));
    }

    #[test]
    fn boot_order_dedups_names_and_marks_what_follows_ours() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        for d in ["etc/sysctl.d", "usr/lib/sysctl.d"] {
            std::fs::create_dir_all(r.join(d)).unwrap();
        }
        std::fs::write(r.join("etc/sysctl.d/10-a.conf"), "vm.swappiness = 1\n").unwrap();
        // Hidden by /etc's file of the same name.
        std::fs::write(r.join("usr/lib/sysctl.d/10-a.conf"), "vm.swappiness = 2\n").unwrap();
        std::fs::write(r.join("usr/lib/sysctl.d/95-b.conf"), "vm.swappiness = 3\n").unwrap();
        std::fs::write(
            r.join("etc/sysctl.d/90-hostperf.conf"),
            "vm.swappiness = 10\n",
        )
        .unwrap();
        std::fs::write(r.join("etc/sysctl.conf"), "vm.swappiness = 4\n").unwrap();
        let lines = boot_lines(&Host::with_root(r));
        let seen: Vec<(String, bool)> = lines
            .iter()
            .map(|l| (l.value.clone(), l.after_ours))
            .collect();
        assert_eq!(
            seen,
            [("1".into(), false), ("3".into(), true), ("4".into(), true)]
        );
        let wanted = Desired::exact("3");
        let other: Vec<&str> = setting_otherwise(&lines, "vm.swappiness", &wanted)
            .map(|l| l.value.as_str())
            .collect();
        assert_eq!(other, ["1", "4"]);
    }
}
