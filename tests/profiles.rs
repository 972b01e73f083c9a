//! The built-in profiles against the rules their keys are documented by (kernel
//! documentation, systemd), the conditions of `when:` on every fixture host, and
//! `hostperf recommend`'s choice for every fixture host.

mod common;

use std::path::{Path, PathBuf};

use common::{code, describe, hostperf, stdout};
use hostperf::host::Host;
use hostperf::host::rlimit::Resource;
use hostperf::host::sysctl::SysctlKey;
use hostperf::profile::facts::HostFacts;
use hostperf::profile::{Catalog, Profile, SysctlEntry, When};
use hostperf::tune::Want;

fn builtins() -> Vec<Profile> {
    let catalog = Catalog::new("/nonexistent");
    hostperf::profile::builtin_names()
        .map(|n| catalog.load(n).unwrap_or_else(|e| panic!("{n}: {e:#}")))
        .collect()
}

fn load(name: &str) -> Profile {
    Catalog::new("/nonexistent").load(name).unwrap()
}

fn sysctl<'a>(p: &'a Profile, key: &str) -> Option<&'a SysctlEntry> {
    p.sysctl.get(&SysctlKey::parse(key).unwrap())
}

/// The fields of a value as numbers (a bound counts as its number).
fn numbers(e: &SysctlEntry) -> Vec<i128> {
    e.value
        .fields
        .iter()
        .map(|w| match w {
            Want::Exact(v) => v.parse().unwrap_or(i128::MIN),
            Want::AtLeast(n) | Want::AtMost(n) => *n,
        })
        .collect()
}

/// What a key must be in a profile, and the rule's source.
enum Rule {
    Absent,
    /// Field by field, as written (`>=4096`, `10240 65535`).
    Is(&'static str),
    Check(fn(&SysctlEntry) -> Result<(), String>),
}

/// (profiles, key, rule, source). "*" is every built-in.
const SYSCTL_RULES: &[(&[&str], &str, Rule, &str)] = &[
    (
        &["*"],
        "net.ipv4.tcp_max_syn_backlog",
        Rule::Absent,
        "ip-sysctl.rst tcp_max_syn_backlog, tcp_input.c tcp_conn_request: with syncookies on the SYN queue is bounded by the listen() backlog; the sysctl matters only with cookies off",
    ),
    (
        &["*"],
        "net.ipv4.tcp_fastopen",
        Rule::Absent,
        "ip-sysctl.rst tcp_fastopen: server side needs TCP_FASTOPEN per listener (or 0x400); SYN data can be replayed",
    ),
    (
        &[
            "latency-profile",
            "throughput-profile",
            "api-base",
            "edge",
            "nat-node",
            "datacenter",
            "low-jitter",
        ],
        "net.core.busy_read",
        Rule::Absent,
        "net.rst busy_read: per-socket SO_BUSY_POLL is the preferred method; global busy polling only in the opt-in busy-poll",
    ),
    (
        &["latency-profile", "throughput-profile", "api-base"],
        "net.core.busy_poll",
        Rule::Absent,
        "net.rst busy_poll: only sockets with SO_BUSY_POLL are polled; opt-in only",
    ),
    (
        &["busy-poll"],
        "net.core.busy_read",
        Rule::Is("50"),
        "net.rst busy_read: 50 recommended when enabled globally",
    ),
    (
        &["busy-poll"],
        "net.core.busy_poll",
        Rule::Is("50"),
        "net.rst busy_poll: 50 for several sockets",
    ),
    (
        &["latency-profile"],
        "net.ipv4.tcp_rmem",
        Rule::Absent,
        "ip-sysctl.rst tcp_rmem: the default initial buffer is 131072 since 4.20; 87380 would lower it",
    ),
    (
        &["latency-profile"],
        "net.ipv4.tcp_wmem",
        Rule::Absent,
        "ip-sysctl.rst tcp_wmem: 4096 16384 4194304 is the default, a no-op",
    ),
    (
        &["throughput-profile"],
        "net.ipv4.tcp_rmem",
        Rule::Check(|e| {
            let n = numbers(e);
            (n.len() == 3 && n[0] == 4096 && n[1] >= 131_072 && n[2] >= 16_777_216)
                .then_some(())
                .ok_or(format!(
                    "{} lowers the 131072 initial buffer or the max",
                    e.value
                ))
        }),
        "ip-sysctl.rst tcp_rmem default 131072; TuneD network-throughput 4096 131072 16777216",
    ),
    (
        &["throughput-profile"],
        "net.ipv4.tcp_wmem",
        Rule::Is("4096 16384 >=16777216"),
        "ip-sysctl.rst tcp_wmem default 16K; TuneD network-throughput 4096 16384 16777216",
    ),
    (
        &["*"],
        "vm.dirty_ratio",
        Rule::Absent,
        "vm.rst dirty_ratio is a share of available memory (multi-GB on large hosts); bytes are set instead",
    ),
    (
        &["*"],
        "vm.dirty_background_ratio",
        Rule::Absent,
        "vm.rst dirty_background_ratio, as above",
    ),
    (
        &["latency-profile", "throughput-profile"],
        "vm.dirty_bytes",
        Rule::Check(|e| {
            let n = numbers(e)[0];
            (8192..=4 << 30)
                .contains(&n)
                .then_some(())
                .ok_or(format!("{n}: not between two pages and 4 GiB"))
        }),
        "vm.rst dirty_bytes: the minimum is two pages",
    ),
    (
        &["api-base"],
        "net.core.somaxconn",
        Rule::Is(">=4096"),
        "ip-sysctl.rst somaxconn: 4096 by default since 5.4; a bound only lifts older kernels",
    ),
    (
        &["api-base"],
        "net.ipv4.ip_local_port_range",
        Rule::Check(|e| {
            let n = numbers(e);
            let ok = n.len() == 2
                && n[0] >= 1024
                && n[1] <= 65535
                && n[0] < n[1]
                && n[0] % 2 != n[1] % 2;
            ok.then_some(()).ok_or(format!(
                "{}: needs 1024 <= low < high <= 65535 of different parity",
                e.value
            ))
        }),
        "ip-sysctl.rst ip_local_port_range: different parity, >= ip_unprivileged_port_start (1024)",
    ),
    (
        &["api-base"],
        "net.ipv4.ip_local_reserved_ports",
        Rule::Is("listeners"),
        "ip-sysctl.rst ip_local_reserved_ports: widening the range reserves the listeners' ports",
    ),
    (
        &["api-base"],
        "net.ipv4.tcp_tw_reuse",
        Rule::Is("1"),
        "ip-sysctl.rst tcp_tw_reuse: 0, 1 (global) or 2 (loopback, default)",
    ),
    (
        &["api-base"],
        "net.ipv4.tcp_syncookies",
        Rule::Is("1"),
        "ip-sysctl.rst tcp_syncookies: default 1",
    ),
    (
        &["api-base"],
        "net.ipv4.tcp_fin_timeout",
        Rule::Is("<=30"),
        "ip-sysctl.rst tcp_fin_timeout: default 60 s, FIN-WAIT-2 orphans only",
    ),
    (
        &["api-base"],
        "net.ipv4.tcp_slow_start_after_idle",
        Rule::Is("0"),
        "ip-sysctl.rst tcp_slow_start_after_idle: RFC 2861 default 1",
    ),
    (
        &["api-base"],
        "fs.nr_open",
        Rule::Is(">=1048576"),
        "fs.rst nr_open: default 1024*1024",
    ),
    (
        &["latency-profile", "throughput-profile"],
        "vm.swappiness",
        Rule::Is("10"),
        "vm.rst swappiness: 0 defers swap until file pages fall below the high watermark; TuneD uses 10",
    ),
    (
        &["latency-profile"],
        "vm.watermark_scale_factor",
        Rule::Check(|e| {
            let n = numbers(e)[0];
            (10..=1000)
                .contains(&n)
                .then_some(())
                .ok_or(format!("{n}: outside 10..=1000"))
        }),
        "vm.rst watermark_scale_factor: default 10, maximum 1000 (10%) on older kernels",
    ),
    (
        &["latency-profile"],
        "vm.stat_interval",
        Rule::Is("10"),
        "vm.rst stat_interval: default 1 s; TuneD network-latency 10",
    ),
    (
        &["latency-profile"],
        "kernel.timer_migration",
        Rule::Is("0"),
        "kernel.rst timer_migration; TuneD network-latency 0",
    ),
    (
        &["latency-profile"],
        "net.ipv4.tcp_notsent_lowat",
        Rule::Is("16384"),
        "ip-sysctl.rst tcp_notsent_lowat: default UINT_MAX",
    ),
    (
        &["throughput-profile"],
        "net.ipv4.tcp_notsent_lowat",
        Rule::Is("131072"),
        "TuneD network-throughput 131072",
    ),
    (
        &["throughput-profile"],
        "net.core.netdev_max_backlog",
        Rule::Is(">=16384"),
        "net.rst netdev_max_backlog",
    ),
    (
        &["throughput-profile"],
        "net.core.netdev_budget",
        Rule::Is(">=600"),
        "net.rst netdev_budget (default 300)",
    ),
    (
        &["throughput-profile"],
        "net.core.rmem_max",
        Rule::Is(">=16777216"),
        "net.rst rmem_max: caps SO_RCVBUF only",
    ),
    (
        &["edge"],
        "net.ipv4.tcp_mtu_probing",
        Rule::Is("1"),
        "ip-sysctl.rst tcp_mtu_probing: 1 only after a black hole",
    ),
    (
        &["datacenter"],
        "net.ipv4.tcp_rto_min_us",
        Rule::Check(|e| {
            let n = numbers(e)[0];
            ((1..=200_000).contains(&n) && e.optional)
                .then_some(())
                .ok_or(format!(
                    "{n}: the documentation recommends 1..=200000; optional before 6.11"
                ))
        }),
        "ip-sysctl.rst tcp_rto_min_us: recommended <= 200000",
    ),
    (
        &["low-jitter"],
        "kernel.nmi_watchdog",
        Rule::Is("0"),
        "kernel.rst nmi_watchdog; TuneD network-latency 0",
    ),
    (
        &["nat-node"],
        "net.ipv4.neigh.default.gc_thresh3",
        Rule::Is(">=8192"),
        "ip-sysctl.rst neigh/default/gc_thresh3: default 1024",
    ),
];

fn applies(profiles: &[&str], name: &str) -> bool {
    profiles.contains(&"*") || profiles.contains(&name)
}

#[test]
fn every_built_in_key_keeps_its_documented_rule() {
    let all = builtins();
    let mut failures = Vec::new();
    for (profiles, key, rule, source) in SYSCTL_RULES {
        for p in all.iter().filter(|p| applies(profiles, &p.name)) {
            let entry = sysctl(p, key);
            let verdict = match (rule, entry) {
                (Rule::Absent, None) => Ok(()),
                (Rule::Absent, Some(e)) => Err(format!("set to {} (from {})", e.value, e.from)),
                (_, None) => Err("missing".to_string()),
                (Rule::Is(want), Some(e)) => (e.value.to_string() == *want)
                    .then_some(())
                    .ok_or(format!("{} instead of {want}", e.value)),
                (Rule::Check(f), Some(e)) => f(e),
            };
            if let Err(why) = verdict {
                failures.push(format!("{} {key}: {why} [{source}]", p.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn writeback_limits_are_bytes_with_background_below_the_foreground() {
    for name in ["latency-profile", "throughput-profile"] {
        let p = load(name);
        let bg = numbers(sysctl(&p, "vm.dirty_background_bytes").unwrap())[0];
        let fg = numbers(sysctl(&p, "vm.dirty_bytes").unwrap())[0];
        assert!(
            bg < fg,
            "{name}: background {bg} must start before throttling at {fg}"
        );
    }
}

#[test]
fn conditional_settings_say_where_they_apply() {
    let p = load("latency-profile");
    let numa = &sysctl(&p, "kernel.numa_balancing").unwrap().when;
    assert_eq!(
        yaml_serde::to_string(numa).unwrap().trim(),
        "numa_nodes: '>1'",
        "numa_balancing only with more than one node (kernel.rst numa_balancing)"
    );
    for (name, entry) in p.cpu.entries() {
        let e = entry.unwrap_or_else(|| panic!("latency-profile cpu {name}"));
        let when = yaml_serde::to_string(&e.when).unwrap();
        assert!(when.contains("virtualization: none"), "cpu {name}: {when}");
        assert!(
            e.optional,
            "cpu {name}: a host without a frequency or idle driver skips it"
        );
    }
    assert_eq!(
        p.cpu
            .max_idle_latency_us
            .as_ref()
            .unwrap()
            .value
            .to_string(),
        "10",
        "C1/C1E (<= 10 us) stay usable, C6 (about 100 us or more) does not"
    );
    let low = load("low-jitter");
    assert_eq!(
        yaml_serde::to_string(&sysctl(&low, "kernel.nmi_watchdog").unwrap().when)
            .unwrap()
            .trim(),
        "virtualization: none",
        "a file-level when reaches every setting of the file"
    );
    let root = p.network.interfaces.values().next().unwrap();
    assert!(root.root_qdisc.as_ref().unwrap().when.0[0].kernel.is_some());
    assert!(root.rps_flow_cnt.as_ref().unwrap().value.to_string() == "auto");
    assert!(
        p.network
            .interfaces
            .values()
            .all(|i| i.txqueuelen.is_none()),
        "txqueuelen does nothing under fq/fq_codel and deepens pfifo_fast"
    );
    assert!(
        load("throughput-profile")
            .network
            .interfaces
            .values()
            .all(|i| i.txqueuelen.is_none())
    );
}

#[test]
fn the_nofile_hard_limit_fits_under_nr_open_and_soft_is_not_above_hard() {
    for p in builtins() {
        let Some(nofile) = p.ulimits.get(&Resource::Nofile) else {
            continue;
        };
        let n = |w: &Want| match w {
            Want::Exact(v) => v.parse::<i128>().unwrap(),
            Want::AtLeast(n) | Want::AtMost(n) => *n,
        };
        let nr_open = numbers(sysctl(&p, "fs.nr_open").expect("nofile needs fs.nr_open"))[0];
        assert!(n(&nofile.hard) <= nr_open, "{}", p.name);
        assert!(n(&nofile.soft) <= n(&nofile.hard), "{}", p.name);
    }
}

#[test]
fn every_reason_is_plain_words_and_every_key_is_documented() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/profiles.md")).unwrap();
    let json = |p: &Profile| serde_json::to_value(p).unwrap();
    for p in builtins() {
        let mut reasons = Vec::new();
        collect_reasons(&json(&p), &mut reasons);
        assert!(!reasons.is_empty(), "{}", p.name);
        for r in reasons {
            let lower = r.to_lowercase();
            for banned in ["seed", "matrix row", "fault line"] {
                assert!(!lower.contains(banned), "{}: {r:?} says {banned:?}", p.name);
            }
            assert!(
                r.len() >= 40,
                "{}: a reason names a mechanism: {r:?}",
                p.name
            );
        }
        for key in p.sysctl.keys() {
            assert!(
                doc.contains(&format!("`{key}`")),
                "docs/profiles.md lacks {key}"
            );
        }
        for key in p.sysfs.keys() {
            assert!(
                doc.contains(&format!("`{key}`")),
                "docs/profiles.md lacks {key}"
            );
        }
    }
}

fn collect_reasons(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("reason", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => collect_reasons(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_reasons(i, out)),
        _ => {}
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hosts")
        .join(name)
}

fn when(yaml: &str) -> When {
    yaml_serde::from_str(yaml).unwrap()
}

/// Every fixture host against the conditions the built-ins use: (host, bare metal, guest,
/// more than one NUMA node, kernel before 4.13, NIC driver).
#[test]
fn conditions_are_evaluated_from_each_fixture_hosts_files() {
    let table: &[(&str, bool, bool, bool, bool, &str)] = &[
        ("vm-6.18", false, false, false, false, "none"),
        ("virtio-2vcpu", false, true, false, false, "virtio_net"),
        ("virtio-2vcpu-coal", false, true, false, false, "virtio_net"),
        ("virtio-8vcpu", false, true, false, false, "virtio_net"),
        ("virtio-8vcpu-coal", false, true, false, false, "virtio_net"),
        ("arm64-ena", false, true, false, false, "ena"),
        ("x86-2s-mlx5", true, false, true, false, "mlx5_core"),
        ("x86-igb-rxtx", true, false, false, true, "igb"),
        ("x86-offline-cpus", true, false, false, false, "i40e"),
        ("xen-netfront", false, true, false, false, "vif"),
        ("x86-e1000e-msi", true, false, false, true, "e1000e"),
    ];
    let hosts: Vec<String> = std::fs::read_dir(fixture(""))
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            e.file_type()
                .ok()?
                .is_dir()
                .then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    for host in &hosts {
        assert!(
            table.iter().any(|t| t.0 == host),
            "{host} is not in the table"
        );
    }
    for (host, bare, guest, numa, old, driver) in table {
        let facts = HostFacts::read(&Host::with_root(fixture(host)));
        let holds = |w: &str| when(w).check(&facts);
        let what = format!("{host}: {facts:#?}");
        assert_eq!(holds("{virtualization: none}").is_ok(), *bare, "{what}");
        assert_eq!(holds("{virtualization: guest}").is_ok(), *guest, "{what}");
        assert_eq!(holds("{numa_nodes: \">1\"}").is_ok(), *numa, "{what}");
        assert_eq!(holds("{kernel: \"<4.13\"}").is_ok(), *old, "{what}");
        if *driver != "none" {
            assert!(holds(&format!("{{driver: {driver}}}")).is_ok(), "{what}");
        }
        assert!(holds("{driver: no_such_driver}").is_err(), "{what}");
        if *guest {
            let why = holds("{virtualization: none}").unwrap_err();
            assert!(why.contains("guest ("), "{host}: {why}");
        }
    }
}

/// The plan says why each conditional setting of latency-profile is skipped, per host.
#[test]
fn the_plan_shows_why_a_conditional_setting_is_skipped() {
    for (host, setting, skipped, because) in [
        (
            "virtio-8vcpu",
            "cpu scaling_governor",
            true,
            "virtualization none: this host is a qemu guest",
        ),
        (
            "xen-netfront",
            "cpu max_idle_latency_us",
            true,
            "a xen guest (/sys/hypervisor/type: xen)",
        ),
        (
            "arm64-ena",
            "cpu energy_performance_preference",
            true,
            "an amazon guest",
        ),
        (
            "x86-offline-cpus",
            "kernel.numa_balancing",
            true,
            "numa_nodes >1: this host has 1 NUMA node(s)",
        ),
        ("x86-2s-mlx5", "kernel.numa_balancing", false, ""),
        (
            "x86-igb-rxtx",
            "default-route root_qdisc",
            true,
            "kernel >=4.9 <4.13: this kernel is 3.10.0",
        ),
    ] {
        let out = hostperf(&[
            "--root",
            fixture(host).to_str().unwrap(),
            "plan",
            "latency-profile",
            "-o",
            "json",
        ]);
        assert_eq!(code(&out), 0, "{}", describe(&out));
        let plan: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        let row = plan["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["setting"] == setting)
            .unwrap_or_else(|| panic!("{host}: no row {setting}"));
        let detail = row["detail"].as_str().unwrap_or("");
        if skipped {
            assert_eq!(row["action"], "skipped", "{host} {setting}: {row}");
            assert!(
                detail.starts_with("condition not met: ") && detail.contains(because),
                "{host} {setting}: {detail}"
            );
        } else {
            assert_ne!(row["action"], "skipped", "{host} {setting}: {row}");
        }
    }
}

/// What `hostperf recommend` picks on each fixture host, and that it prints the plan.
#[test]
fn recommend_picks_a_profile_for_each_fixture_host() {
    for (host, profile, add_ons) in [
        ("vm-6.18", "latency-profile", &[][..]),
        ("virtio-2vcpu", "latency-profile", &[]),
        ("virtio-8vcpu-coal", "latency-profile", &[]),
        ("arm64-ena", "latency-profile", &[]),
        ("x86-2s-mlx5", "latency-profile", &[]),
        ("x86-igb-rxtx", "latency-profile", &[]),
        ("x86-offline-cpus", "latency-profile", &["nat-node"]),
        ("xen-netfront", "latency-profile", &[]),
        ("x86-e1000e-msi", "latency-profile", &[]),
    ] {
        let root = fixture(host);
        let out = hostperf(&["--root", root.to_str().unwrap(), "recommend", "-o", "json"]);
        assert_eq!(code(&out), 0, "{host}: {}", describe(&out));
        let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        let r = &json["recommendation"];
        assert_eq!(r["profile"], profile, "{host}: {r:#}");
        assert_eq!(r["add_ons"], serde_json::json!(add_ons), "{host}: {r:#}");
        assert!(
            json["plan"]["items"]
                .as_array()
                .is_some_and(|i| !i.is_empty()),
            "{host}: the plan of applying it"
        );
        let text = hostperf(&["--root", root.to_str().unwrap(), "recommend"]);
        assert!(
            stdout(&text).contains("recommended: latency-profile"),
            "{}",
            describe(&text)
        );
    }
    let out = hostperf(&[
        "--root",
        fixture("x86-2s-mlx5").to_str().unwrap(),
        "recommend",
    ]);
    let text = stdout(&out);
    assert!(text.contains("bare metal: the CPU governor"), "{text}");
    assert!(
        text.contains("automatic NUMA balancing is turned off"),
        "{text}"
    );
}

/// A profile file in a fresh directory only root can write (profiles elsewhere are refused
/// when run as root), and the directory.
fn profile_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = common::write(dir.path(), "p.yaml", text);
    (dir, path)
}

/// A key given twice in one mapping is an error naming the key and where, not the last
/// value silently.
#[test]
fn a_key_given_twice_is_refused() {
    let (_dir, path) = profile_file(
        "sysctl:\n  net.core.somaxconn: 1\n  vm.swappiness: 10\n  net.core.somaxconn: 2\n",
    );
    let root = common::fixture_copy();
    let out = hostperf(&[
        "--root",
        root.path().to_str().unwrap(),
        "plan",
        "--file",
        path.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 2, "{}", describe(&out));
    let err = common::stderr(&out);
    assert!(
        err.contains("\"net.core.somaxconn\" is given twice") && err.contains("line 2"),
        "{err}"
    );
}

/// A port range the kernel would refuse (first above last, or below the first
/// unprivileged port) blocks at plan time: plan and `apply --dry-run` exit 2 and say why,
/// and apply writes nothing.
#[test]
fn a_port_range_the_kernel_refuses_blocks_plan_and_dry_run() {
    let root = common::fixture_copy();
    let r = root.path().to_str().unwrap();
    let state = tempfile::tempdir().unwrap();
    let s = state.path().to_str().unwrap();
    for (range, why) in [
        ("60000 1024", "the first port 60000 is above the last 1024"),
        ("80 65535", "below net.ipv4.ip_unprivileged_port_start"),
    ] {
        let (_dir, path) = profile_file(&format!(
            "sysctl:\n  vm.swappiness: 10\n  net.ipv4.ip_local_port_range: \"{range}\"\n"
        ));
        let p = path.to_str().unwrap();
        let before = common::tree(root.path());
        for args in [
            vec!["--root", r, "--state-dir", s, "plan", "--file", p],
            vec![
                "--root",
                r,
                "--state-dir",
                s,
                "apply",
                "--dry-run",
                "--file",
                p,
            ],
            vec!["--root", r, "--state-dir", s, "apply", "--file", p],
        ] {
            let out = hostperf(&args);
            assert_eq!(code(&out), 2, "{args:?}: {}", describe(&out));
            assert!(describe(&out).contains(why), "{args:?}: {}", describe(&out));
        }
        assert!(common::tree(root.path()) == before, "nothing was written");
    }
}

/// An explicit CPU set naming isolated CPUs (isolcpus, nohz_full) is warned about; `spread`
/// avoids them and says nothing.
#[test]
fn explicit_cpu_sets_on_isolated_cpus_are_warned_about() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hosts/x86-2s-mlx5");
    let root = fixture.to_str().unwrap();
    let (_dir, pinned) = profile_file(
        "network:\n  interfaces:\n    eth2:\n      irq_affinity: \"28-31\"\n      rps_cpus: f0000000\n",
    );
    let out = hostperf(&["--root", root, "plan", "--file", pinned.to_str().unwrap()]);
    let err = common::stderr(&out);
    for what in ["rps_cpus", "irq_affinity"] {
        assert!(
            err.contains(&format!("eth2: {what} names CPUs 28-31 that are isolated")),
            "{what}: {}",
            describe(&out)
        );
    }
    let (_dir, spread) = profile_file(
        "network:\n  interfaces:\n    eth2:\n      irq_affinity: spread\n      rps_cpus: spread\n",
    );
    let out = hostperf(&["--root", root, "plan", "--file", spread.to_str().unwrap()]);
    assert!(
        !common::stderr(&out).contains("isolated"),
        "{}",
        describe(&out)
    );
}

/// `hostperf profiles` lists only profiles that load: a file with an include cycle, a
/// missing include or a `drop` of nothing is left out with why, on stderr and in the JSON.
#[test]
fn profiles_lists_only_profiles_that_load() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::write(d, "u5.yaml", "include: [u6]\nsysctl:\n  vm.swappiness: 1\n");
    common::write(d, "u6.yaml", "include: [u5]\n");
    common::write(d, "u7.yaml", "include: [./nonexist.yaml]\n");
    common::write(d, "u8.yaml", "sysctl:\n  vm.swappiness: {drop: true}\n");
    common::write(d, "good.yaml", "sysctl:\n  vm.swappiness: 3\n");
    let dir_arg = d.to_str().unwrap();
    let out = hostperf(&["--profile-dir", dir_arg, "profiles", "-o", "json"]);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let names: Vec<&str> = doc["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"good") && names.contains(&"latency-profile"),
        "{names:?}"
    );
    for bad in ["u5", "u6", "u7", "u8"] {
        assert!(!names.contains(&bad), "{bad} listed: {names:?}");
        let file = format!("{bad}.yaml left out");
        assert!(common::stderr(&out).contains(&file), "{}", describe(&out));
        assert!(
            doc["warnings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|w| w.as_str().unwrap().contains(&file)),
            "{doc:#}"
        );
    }
}
