//! Property tests (proptest) for every /proc parser, for the checks over mutated captures, and
//! for the capture reader: no input panics (debug builds trap on arithmetic overflow, so this
//! also proves the parsers' arithmetic checked), and no library's internal text shows.
//! CI runs a few hundred cases of each; `PROPTEST_CASES=100000 cargo test --test
//! diagnose_fuzz` runs longer.

use std::path::Path;
use std::time::Instant;

use proptest::prelude::*;

use hostperf::diagnose::{self, capture, checks, config::Config, sample};
use hostperf::parse;

/// `PROPTEST_CASES` when set, else `n`.
fn cases(n: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(n)
}

fn base() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/diagnose/base"
    ))
}

/// Every parser, on the same bytes.
fn parse_all(b: &[u8]) {
    let _ = parse::parse_single(b);
    let _ = parse::parse_cpu_list(b);
    let _ = parse::parse_softirqs(b);
    let _ = parse::parse_interrupts(b);
    if let Ok(rows) = parse::parse_softnet(b) {
        for r in rows {
            let _ = r.cpu(Some(&[0, 1]));
        }
    }
    if let Ok(s) = parse::parse_stat(b) {
        for (_, t) in &s.cpus {
            let _ = (t.total(), t.busy());
        }
    }
    let _ = parse::parse_pressure(b);
    let _ = parse::parse_meminfo(b);
    if let Ok(zones) = parse::parse_buddyinfo(b) {
        for z in zones {
            let _ = (
                z.free_pages(),
                z.free_pages_at_or_above(4),
                z.free_pages_at_or_above(99),
            );
        }
    }
    let _ = parse::parse_vmstat(b);
    let _ = parse::parse_sockstat(b);
    let _ = parse::parse_netstat(b);
    let _ = parse::parse_snmp6(b);
    let _ = parse::parse_conntrack_stat(b);
    let _ = parse::parse_port_range(b);
    let _ = parse::parse_reserved_ports(b);
    let _ = parse::parse_triple(b);
    let _ = parse::parse_diskstats(b);
    let _ = parse::parse_file_nr(b);
    let _ = parse::parse_status(b);
    let _ = parse::parse_key_values(b);
    let _ = parse::parse_signed(b);
    let _ = parse::parse_cpu_max(b);
    let _ = parse::parse_cgroup_mounts(b);
    for l in parse::parse_kernel_log(b) {
        let _ = parse::parse_oom_kill(&l.text);
    }
}

/// Every file below `root`, by its absolute path on the captured host, sorted.
fn files_below(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                let rel = e
                    .path()
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push((format!("/{rel}"), std::fs::read(e.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Real files of the base capture, by path.
fn real_files() -> Vec<(String, Vec<u8>)> {
    files_below(&base().join("sample1"))
}

/// Words that break naive parsers: huge, negative, empty, non-numeric, odd separators.
const NASTY: &[&str] = &[
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999",
    "-1",
    "-9223372036854775808",
    "0",
    "",
    "x",
    "NaN",
    "inf",
    "ffffffffffffffff",
    "1e309",
    ":",
    "=",
    "\u{0}",
    "é",
];

/// A mutation of a text: replace one word, duplicate or drop a line, or cut it short.
fn mutate(text: &[u8], op: u8, at: usize, word: usize) -> Vec<u8> {
    let s = String::from_utf8_lossy(text).into_owned();
    let mut lines: Vec<String> = s.lines().map(str::to_string).collect();
    if lines.is_empty() {
        return NASTY[word % NASTY.len()].as_bytes().to_vec();
    }
    let i = at % lines.len();
    match op % 4 {
        0 => {
            let mut words: Vec<String> = lines[i].split(' ').map(str::to_string).collect();
            let w = at % words.len().max(1);
            if let Some(x) = words.get_mut(w) {
                *x = NASTY[word % NASTY.len()].to_string();
            }
            lines[i] = words.join(" ");
        }
        1 => {
            let l = lines[i].clone();
            lines.insert(i, l);
        }
        2 => {
            lines.remove(i);
        }
        _ => {
            let cut = at % s.len().max(1);
            return s.as_bytes()[..cut].to_vec();
        }
    }
    (lines.join("\n") + "\n").into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(512), ..ProptestConfig::default() })]

    #[test]
    fn parsers_take_any_bytes(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        parse_all(&b);
    }

    #[test]
    fn parsers_take_mutated_real_files(file in 0usize..1000, op in any::<u8>(), at in any::<usize>(), word in any::<usize>(), times in 1usize..4) {
        let files = real_files();
        let (_, text) = &files[file % files.len()];
        let mut b = text.clone();
        for k in 0..times {
            b = mutate(&b, op.wrapping_add(k as u8), at.wrapping_mul(k + 1), word.wrapping_add(k));
        }
        parse_all(&b);
    }
}

fn trees(mutated: Option<(&str, Vec<u8>)>) -> (capture::Tree, capture::Tree) {
    let load = |s: &str| {
        let mut t = capture::Tree::default();
        for (path, bytes) in files_below(&base().join(s)) {
            t.insert_file(&path, bytes);
        }
        t
    };
    let first = load("sample0");
    let mut last = load("sample1");
    if let Some((path, bytes)) = mutated {
        last.insert_file(path, bytes);
    }
    (first, last)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(128), ..ProptestConfig::default() })]

    /// Every check over a capture with one file mutated: a finding for each, never a panic,
    /// never a library's internal text.
    #[test]
    fn checks_take_mutated_captures(file in 0usize..1000, op in any::<u8>(), at in any::<usize>(), word in any::<usize>()) {
        let files = real_files();
        let (path, text) = &files[file % files.len()];
        let mutated = mutate(text, op, at, word);
        let (t0, t1) = trees(Some((path, mutated)));
        let all = checks::all();
        let cfg = Config::default();
        let needs = diagnose::needs_of(&all, true, &cfg).everything();
        let focus = sample::Focus::default();
        let start = Instant::now();
        let s0 = sample::collect(&t0, &needs, &focus, sample::Moment { start, prev: None, log: None });
        let s1 = sample::collect(&t1, &needs, &focus, sample::Moment { start, prev: Some(&s0), log: Some(sample::LogFrom::Back(10_000_000)) });
        let report = diagnose::evaluate(&all, Some(&s0), &s1, &cfg, &focus, "fuzz".into());
        prop_assert_eq!(report.findings.len(), all.len());
        let text = serde_json::to_string(&report).unwrap();
        prop_assert!(!text.contains("please report") && !text.contains("Internal error"));
        let _ = diagnose::render::prometheus(&report);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(256), ..ProptestConfig::default() })]

    /// The capture reader on arbitrary bytes, on gzip of arbitrary bytes, and on archives
    /// with arbitrary entry names, types and manifests: an Ok or a refusal, never a panic.
    #[test]
    fn captures_take_any_input(
        raw in proptest::collection::vec(any::<u8>(), 0..2048),
        names in proptest::collection::vec("[a-z0-9./_-]{0,24}", 0..8),
        kinds in proptest::collection::vec(0u8..8, 0..8),
        samples in proptest::collection::vec("[a-z0-9./]{0,10}", 0..5),
        gz in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.tar.gz");
        // 1: the raw bytes, gzipped or not.
        let bytes = if gz {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&raw).unwrap();
            e.finish().unwrap()
        } else {
            raw.clone()
        };
        std::fs::write(&path, &bytes).unwrap();
        let _ = capture::open(&path);
        // 2: an archive of odd entries and a manifest naming odd samples.
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        let manifest = serde_json::json!({"schema_version": 2, "kind": "hostperf-snapshot",
            "hostperf_version": "x", "interval_secs": 1.0, "samples": samples});
        let m = manifest.to_string();
        let mut h = tar::Header::new_gnu();
        h.set_size(m.len() as u64);
        h.set_mode(0o644);
        let _ = tar.append_data(&mut h, "manifest.json", m.as_bytes());
        for (i, name) in names.iter().enumerate() {
            if name.is_empty() { continue; }
            let kind = match kinds.get(i).copied().unwrap_or(0) {
                0..=2 => tar::EntryType::Regular,
                3 => tar::EntryType::Directory,
                4 => tar::EntryType::Symlink,
                5 => tar::EntryType::Link,
                6 => tar::EntryType::Fifo,
                _ => tar::EntryType::Char,
            };
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_mode(0o644);
            if kind == tar::EntryType::Regular {
                h.set_size(raw.len() as u64);
                let _ = tar.append_data(&mut h, name, &raw[..]);
            } else if kind == tar::EntryType::Symlink || kind == tar::EntryType::Link {
                h.set_size(0);
                let _ = tar.append_link(&mut h, name, "/etc/hostname");
            } else {
                h.set_size(0);
                let _ = tar.append_data(&mut h, name, std::io::empty());
            }
        }
        if let Ok(gz) = tar.into_inner() {
            std::fs::write(&path, gz.finish().unwrap()).unwrap();
            if let Ok(cap) = capture::open(&path) {
                let all = checks::all();
                let needs = diagnose::needs_of(&all, true, &Config::default());
                let (first, last) = diagnose::capture_samples(&cap, &needs, &sample::Focus::default(), diagnose::LogWindow::default());
                let _ = diagnose::evaluate(&all, first.as_ref(), &last, &Config::default(), &sample::Focus::default(), "fuzz".into());
            }
        }
    }
}
