//! A simulated reboot. `apply --persist` runs in a network namespace with veths and a mount
//! namespace whose /etc is a directory of this test (the host's /etc is never touched).
//! The network namespace is torn down and a fresh one built as a boot would (kernel
//! defaults, interfaces coming up); then what the boot does runs, in its order: the
//! sysctl.d file hostperf wrote (through the real systemd-sysctl when installed), then the
//! `ExecStart=` of contrib/systemd/hostperf-apply.service as written. Every setting is back,
//! network ones included; an interface absent at boot is left alone, and when it appears,
//! what contrib/udev/90-hostperf.rules starts (hostperf-iface@.service's `ExecStart=`)
//! gives it its settings. `status` tells it all; `rollback` then removes what persist
//! added. Needs root, `ip` and `unshare`; skips (with a message) otherwise.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Netns, bin, describe, skip, stdout};

const REPO: &str = env!("CARGO_MANIFEST_DIR");
const NAME: &str = "apply_persist_survives_a_simulated_reboot_and_hotplug";

/// A test's own /etc and state directory (the host's /var/lib/hostperf), which survive the
/// "reboot" as a disk would.
struct Machine {
    dir: tempfile::TempDir,
}

impl Machine {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc/sysctl.d")).unwrap();
        Machine { dir }
    }

    fn etc(&self) -> PathBuf {
        self.dir.path().join("etc")
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Runs `argv` in network namespace `ns` with this machine's /etc mounted over /etc
    /// (a private mount namespace), as root with the state directory of this machine.
    fn run(&self, ns: &Netns, argv: &[&str]) -> Output {
        Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg(r#"mount --bind "$0" /etc && exec ip netns exec "$@""#)
            .arg(self.etc())
            .arg(&ns.name)
            .args(argv)
            .env("HOSTPERF_STATE_DIR", self.state())
            .env("HOSTPERF_PROFILE_DIR", "/nonexistent-hostperf-profiles")
            .env("NO_COLOR", "1")
            .output()
            .expect("unshare")
    }

    /// Runs `argv`, which must exit 0; its standard output, then its standard error (the
    /// notes and warnings), as one text: this test asserts what is said, tests/ux.rs where.
    fn ok(&self, ns: &Netns, argv: &[&str]) -> String {
        let out = self.run(ns, argv);
        assert_eq!(out.status.code(), Some(0), "{argv:?}:\n{}", describe(&out));
        format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr))
    }
}

/// Where this machine can make the namespaces, or why not.
fn usable() -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("needs root for network and mount namespaces".into());
    }
    match Command::new("unshare")
        .args(["--mount", "--propagation", "private", "true"])
        .output()
    {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "unshare --mount fails here: {}",
            common::stderr(&o)
        )),
        Err(e) => Err(format!("cannot run unshare (util-linux): {e}")),
    }
}

/// Interfaces as a boot brings them: `va0` (4 queues) always, `vb0` only when `with_b`.
fn add_veths(ns: &Netns, with_b: bool) {
    ns.sh(
        "ip link add va0 numtxqueues 4 numrxqueues 4 type veth peer name va1 numtxqueues 4 numrxqueues 4 \
         && ip link set va0 up && ip link set va1 up",
    );
    if with_b {
        add_vb(ns);
    }
}

fn add_vb(ns: &Netns) {
    ns.sh("ip link add vb0 type veth peer name vb1 && ip link set vb0 up && ip link set vb1 up");
}

/// Every setting the profile touches, one `name=value` line each.
fn state(ns: &Netns, iface: &str) -> String {
    stdout(&ns.sh(&format!(
        "echo qdisc=$(tc qdisc show dev {iface} | awk '$4 == \"root\" {{print $2}}'); \
         echo txqueuelen=$(cat /sys/class/net/{iface}/tx_queue_len); \
         echo rx_queues=$(ls -d /sys/class/net/{iface}/queues/rx-* | wc -l); \
         echo rps_cpus=$(cat /sys/class/net/{iface}/queues/rx-0/rps_cpus); \
         echo rps_flow_cnt=$(cat /sys/class/net/{iface}/queues/rx-0/rps_flow_cnt); \
         echo arp_announce=$(cat /proc/sys/net/ipv4/conf/{iface}/arp_announce)"
    )))
}

fn sysctls(ns: &Netns) -> String {
    format!(
        "somaxconn={} fin_timeout={} cc={}",
        ns.sysctl("net.core.somaxconn"),
        ns.sysctl("net.ipv4.tcp_fin_timeout"),
        ns.sysctl("net.ipv4.tcp_congestion_control")
    )
}

/// The `ExecStart=` command of a unit file in contrib/systemd, `%I` replaced by
/// `instance`, the binary by the one under test.
fn exec_start(unit: &str, instance: &str) -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(REPO).join("contrib/systemd").join(unit)).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("ExecStart="))
        .collect();
    assert_eq!(lines.len(), 1, "{unit}: one ExecStart=");
    lines[0]
        .split_whitespace()
        .map(|w| match w {
            "/usr/bin/hostperf" => bin().to_string(),
            w => w.replace("%I", instance).replace("%i", instance),
        })
        .collect()
}

/// What the boot's systemd-sysctl does with hostperf's file: the real binary when
/// installed, else each line written as it would (a `-` line may fail).
fn systemd_sysctl(machine: &Machine, ns: &Netns) {
    let file = "/etc/sysctl.d/90-hostperf.conf";
    for sd in [
        "/lib/systemd/systemd-sysctl",
        "/usr/lib/systemd/systemd-sysctl",
    ] {
        if Path::new(sd).exists() {
            machine.ok(ns, &[sd, file]);
            return;
        }
    }
    let text = std::fs::read_to_string(machine.etc().join("sysctl.d/90-hostperf.conf")).unwrap();
    for (key, value) in hostperf::persist::parse_sysctl_conf(&text) {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        let _ = ns.run("sh", &["-c", &format!("echo '{value}' > {path}")]);
    }
}

/// The udev rule as udev reads it, for the keys it uses: the units an event for interface
/// `name` wants (SYSTEMD_WANTS), or a failure for a key this reader does not know (so the
/// test cannot pass a rule it did not understand).
fn udev_wants(rule: &str, action: &str, name: &str, saved_exists: bool) -> Vec<String> {
    let mut wants = Vec::new();
    let mut skip_to: Option<String> = None;
    for line in rule.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(label) = &skip_to {
            if line == format!("LABEL=\"{label}\"") {
                skip_to = None;
            }
            continue;
        }
        let mut matched = true;
        let mut goto = None;
        let mut assigns = Vec::new();
        for part in line.split(", ") {
            let (key, op, value) = ["==", "!=", "+=", "="]
                .iter()
                .find_map(|op| {
                    let (k, v) = part.split_once(op)?;
                    Some((k, *op, v.trim_matches('"')))
                })
                .unwrap_or_else(|| panic!("cannot read {part:?}"));
            let actual = match key {
                "ACTION" => Some(action.to_string()),
                "SUBSYSTEM" => Some("net".to_string()),
                "KERNEL" => Some(name.to_string()),
                "TEST" => Some(if saved_exists {
                    value.to_string()
                } else {
                    String::new()
                }),
                "GOTO" => {
                    goto = Some(value.to_string());
                    None
                }
                "LABEL" => None,
                "TAG" => None,
                "ENV{SYSTEMD_WANTS}" => {
                    assigns.push(value.replace("$name", name));
                    None
                }
                other => panic!("a key this test does not read: {other}"),
            };
            if let Some(actual) = actual {
                if key == "TEST" {
                    assert_eq!(
                        value,
                        hostperf::persist::APPLIED_FILE,
                        "the rule tests the saved profile"
                    );
                }
                let equal = actual == value;
                matched &= match op {
                    "==" => equal,
                    "!=" => !equal,
                    _ => panic!("{part}: a match with {op}"),
                };
            }
        }
        if matched {
            if let Some(label) = goto {
                skip_to = Some(label);
            }
            wants.extend(assigns);
        }
    }
    assert!(skip_to.is_none(), "GOTO without its LABEL");
    wants
}

#[test]
fn the_udev_rule_wants_the_interface_unit_only_for_added_interfaces_with_a_saved_profile() {
    let rule =
        std::fs::read_to_string(Path::new(REPO).join("contrib/udev/90-hostperf.rules")).unwrap();
    assert_eq!(
        udev_wants(&rule, "add", "eth1", true),
        ["hostperf-iface@eth1.service"]
    );
    assert!(udev_wants(&rule, "remove", "eth1", true).is_empty());
    assert!(udev_wants(&rule, "change", "eth1", true).is_empty());
    assert!(udev_wants(&rule, "add", "lo", true).is_empty());
    assert!(udev_wants(&rule, "add", "eth1", false).is_empty());
    // The unit it names exists, and runs the per-interface apply.
    assert!(
        Path::new(REPO)
            .join("contrib/systemd/hostperf-iface@.service")
            .is_file()
    );
    let argv = exec_start("hostperf-iface@.service", "eth1");
    assert_eq!(argv[1..], ["apply", "--boot", "--iface", "eth1"]);
    assert_eq!(
        exec_start("hostperf-apply.service", "")[1..],
        ["apply", "--boot"]
    );
}

#[test]
fn apply_persist_survives_a_simulated_reboot_and_hotplug() {
    if let Err(why) = usable() {
        skip(NAME, &why);
        return;
    }
    let machine = Machine::new();
    let Some(ns) = Netns::create(NAME) else {
        return;
    };
    add_veths(&ns, true);
    let defaults_a = state(&ns, "va0");
    let defaults_b = state(&ns, "vb0");
    let defaults = sysctls(&ns);
    let cc = if ns.sysctl("net.ipv4.tcp_congestion_control") == "reno" {
        "bbr"
    } else {
        "reno"
    };
    // Only per-namespace keys: systemd-sysctl below runs in the namespace.
    let profile = common::write(
        machine.dir.path(),
        "reboot.yaml",
        &format!(
            r#"
description: reboot test
sysctl:
  net.core.somaxconn: {{value: ">=8192", reason: a bound for the boot unit}}
  net.ipv4.tcp_fin_timeout: {{value: 17, reason: exact for sysctl.d}}
  net.ipv4.conf.va0.arp_announce: {{value: 2, reason: per interface}}
  net.ipv4.conf.vb0.arp_announce: {{value: 2, reason: per interface hotplugged}}
network:
  congestion_control: {{value: {cc}, reason: test}}
  interfaces:
    va0:
      root_qdisc: {{value: pfifo, reason: test}}
      txqueuelen: {{value: 500, reason: test}}
      channels:
        rx: {{value: 2, reason: test}}
        tx: {{value: 2, reason: test}}
      rps_cpus: {{value: "1", reason: test}}
      rps_flow_cnt: {{value: 2048, reason: test}}
    vb0:
      root_qdisc: {{value: pfifo, reason: test}}
      txqueuelen: {{value: 700, reason: test}}
"#
        ),
    );
    let profile = profile.to_str().unwrap();
    let run = machine.run(&ns, &[bin(), "apply", "--file", profile, "--persist"]);
    assert_eq!(run.status.code(), Some(0), "{}", describe(&run));
    let out = stdout(&run);
    assert!(
        out.contains("persisted: /etc/hostperf/applied.yaml"),
        "{out}"
    );
    // Notes go to standard error.
    if !Path::new("/run/systemd/system").is_dir() {
        assert!(
            String::from_utf8_lossy(&run.stderr).contains("systemd is not running here"),
            "{}",
            describe(&run)
        );
    }
    let tuned_a = state(&ns, "va0");
    let tuned_b = state(&ns, "vb0");
    let tuned = sysctls(&ns);
    assert_eq!(
        tuned_a,
        "qdisc=pfifo\ntxqueuelen=500\nrx_queues=2\nrps_cpus=1\nrps_flow_cnt=2048\narp_announce=2\n"
    );
    assert_eq!(tuned, format!("somaxconn=8192 fin_timeout=17 cc={cc}"));
    // The files: exact values in sysctl.d (the bound only as a comment), the whole profile
    // saved. Only per-namespace keys, so the emulated boot cannot reach the host.
    let conf = std::fs::read_to_string(machine.etc().join("sysctl.d/90-hostperf.conf")).unwrap();
    let mut keys: Vec<String> = hostperf::persist::parse_sysctl_conf(&conf)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "net.ipv4.conf.va0.arp_announce",
            "net.ipv4.conf.vb0.arp_announce",
            "net.ipv4.tcp_congestion_control",
            "net.ipv4.tcp_fin_timeout"
        ],
        "{conf}"
    );
    assert!(
        conf.contains("# net.core.somaxconn >=8192: a bound"),
        "{conf}"
    );
    assert!(machine.etc().join("hostperf/applied.yaml").is_file());

    // Power off: the namespace and everything in it is gone; /etc and the state stay.
    drop(ns);
    let Some(ns) = Netns::create(NAME) else {
        return;
    };
    add_veths(&ns, false);
    assert_eq!(
        state(&ns, "va0"),
        defaults_a,
        "a fresh boot starts from defaults"
    );
    assert_eq!(sysctls(&ns), defaults);

    // The boot: systemd-sysctl, then hostperf-apply.service.
    systemd_sysctl(&machine, &ns);
    let argv = exec_start("hostperf-apply.service", "");
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = machine.ok(&ns, &argv);
    assert!(out.contains("interface vb0 is not present now"), "{out}");
    assert_eq!(
        state(&ns, "va0"),
        tuned_a,
        "every va0 setting is back:\n{out}"
    );
    assert_eq!(sysctls(&ns), tuned, "{out}");

    // vb0 appears after boot: the udev rule wants hostperf-iface@vb0.service.
    add_vb(&ns);
    assert_eq!(state(&ns, "vb0"), defaults_b);
    let rule =
        std::fs::read_to_string(Path::new(REPO).join("contrib/udev/90-hostperf.rules")).unwrap();
    let wants = udev_wants(&rule, "add", "vb0", true);
    assert_eq!(wants, ["hostperf-iface@vb0.service"]);
    let instance = wants[0]
        .strip_prefix("hostperf-iface@")
        .and_then(|w| w.strip_suffix(".service"))
        .unwrap();
    let argv = exec_start("hostperf-iface@.service", instance);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = machine.ok(&ns, &argv);
    assert_eq!(state(&ns, "vb0"), tuned_b, "vb0 gets its settings:\n{out}");
    assert_eq!(state(&ns, "va0"), tuned_a, "and nothing else changes");
    // Once more: nothing to do.
    let again = machine.ok(&ns, &argv);
    assert!(again.contains("nothing changed"), "{again}");

    // status: the apply, its re-applies, what persists it, no drift.
    let out = machine.run(&ns, &[bin(), "status", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["applied"]["profile"], "reboot");
    assert!(
        status["applied"]["command"]
            .as_str()
            .unwrap()
            .ends_with("--persist"),
        "{status}"
    );
    assert_eq!(status["reapplies_total"], 2, "{status}");
    assert_eq!(
        status["reapplies"][0]["command"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .skip(1)
            .collect::<Vec<_>>(),
        ["apply", "--boot", "--iface", "vb0"]
    );
    assert_eq!(status["persisted"]["saved_profile"], "reboot");
    assert_eq!(status["drift"]["summary"]["fail"], 0, "{status}");

    // One rollback undoes the re-applies and the apply they re-applied, files included.
    // (--force: the apply was made in the first namespace, whose inode a real reboot keeps
    // for the initial namespace but this test's second namespace does not have.)
    let out = machine.ok(&ns, &[bin(), "rollback", "--force"]);
    assert!(
        !machine.etc().join("sysctl.d/90-hostperf.conf").exists(),
        "{out}"
    );
    assert!(
        !machine.etc().join("hostperf/applied.yaml").exists(),
        "{out}"
    );
    assert_eq!(state(&ns, "va0"), defaults_a, "{out}");
    assert_eq!(state(&ns, "vb0"), defaults_b, "{out}");
    assert_eq!(sysctls(&ns), defaults, "{out}");
    let out = machine.ok(&ns, &argv);
    assert!(
        out.contains("nothing to apply"),
        "after rollback the unit has nothing: {out}"
    );
}
