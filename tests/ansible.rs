//! The Ansible role in contrib/ansible/roles/hostperf, run by the real ansible-playbook
//! (ansible-core from PyPI; scripts/test.sh installs it) against localhost with
//! `connection: local`. hostperf runs with `--root` on a copy of the captured vm-6.18 host
//! and a temporary state and profile directory, so the machine's own settings and /etc are
//! never touched. The package install step is switched off (`hostperf_install: false`):
//! tests/package.rs installs the package into a throwaway root instead.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{bin, describe, fixture_copy, normalize, skip};

/// ansible-playbook on PATH, or in the scripts directory of the python3 on PATH (where
/// `pip install ansible-core` puts it when that directory is not on PATH).
fn ansible_playbook() -> Option<PathBuf> {
    if let Ok(o) = Command::new("ansible-playbook").arg("--version").output()
        && o.status.success()
    {
        return Some(PathBuf::from("ansible-playbook"));
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
        .ok()?;
    let path = Path::new(String::from_utf8_lossy(&out.stdout).trim()).join("ansible-playbook");
    path.is_file().then_some(path)
}

struct Run {
    out: Output,
}

impl Run {
    fn ok(&self) -> bool {
        self.out.status.success()
    }

    fn text(&self) -> String {
        describe(&self.out)
    }

    /// `changed=N` from the PLAY RECAP line for localhost.
    fn changed(&self) -> u32 {
        let text = String::from_utf8_lossy(&self.out.stdout);
        let recap = text
            .lines()
            .rev()
            .find(|l| l.starts_with("localhost") && l.contains("changed="))
            .unwrap_or_else(|| panic!("no PLAY RECAP in:\n{}", self.text()));
        recap
            .split_whitespace()
            .find_map(|f| f.strip_prefix("changed="))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no changed= in {recap:?}"))
    }
}

struct Play {
    ansible: PathBuf,
    dir: tempfile::TempDir,
}

impl Play {
    fn new(ansible: PathBuf) -> Play {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("play.yml"),
            "- hosts: localhost\n  connection: local\n  gather_facts: false\n  roles: [hostperf]\n",
        )
        .unwrap();
        Play { ansible, dir }
    }

    /// Runs the play with `vars` (JSON, so types are exact) and extra arguments.
    fn run(&self, vars: &serde_json::Value, extra: &[&str]) -> Run {
        let d = self.dir.path();
        let vars_file = d.join("vars.json");
        std::fs::write(&vars_file, vars.to_string()).unwrap();
        let roles = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/ansible/roles");
        let python = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|_| "python3".into());
        let out = Command::new(&self.ansible)
            .args(["-i", "localhost,", "-c", "local"])
            .arg(format!("-e@{}", vars_file.display()))
            .arg(d.join("play.yml"))
            .args(extra)
            .env("LC_ALL", "C.UTF-8")
            .env("ANSIBLE_ROLES_PATH", roles)
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_HOME", d.join("home"))
            .env("ANSIBLE_LOCAL_TEMP", d.join("tmp"))
            .env("ANSIBLE_PYTHON_INTERPRETER", python)
            .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
            .env_remove("ANSIBLE_CONFIG")
            .output()
            .expect("run ansible-playbook");
        Run { out }
    }
}

fn sysctl(root: &Path, key: &str) -> String {
    let path = root.join("proc/sys").join(key.replace('.', "/"));
    normalize(&std::fs::read_to_string(path).unwrap())
}

#[test]
fn role_applies_only_on_change_and_verifies_with_check() {
    const NAME: &str = "role_applies_only_on_change_and_verifies_with_check";
    let Some(ansible) = ansible_playbook() else {
        skip(
            NAME,
            "ansible-playbook not found (scripts/test.sh installs ansible-core from PyPI)",
        );
        return;
    };
    let root = fixture_copy();
    // Like a real host: --persist writes into these and does not create them.
    for dir in [
        "etc/sysctl.d",
        "etc/security/limits.d",
        "etc/systemd/system",
    ] {
        std::fs::create_dir_all(root.path().join(dir)).unwrap();
    }
    let state = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let profiles = scratch.path().join("profiles");
    let play = Play::new(ansible);
    let api = serde_json::json!({
        "description": "API host for the role test",
        "include": ["latency-profile"],
        "sysctl": {"net.core.somaxconn": {"value": ">=16384", "reason": "accept queue"}}
    });
    let mut vars = serde_json::json!({
        "hostperf_install": false,
        "hostperf_bin": bin(),
        "hostperf_root": root.path(),
        "hostperf_state_dir": state.path(),
        "hostperf_profile_dir": profiles,
        "hostperf_profile": "api",
        "hostperf_profiles": {"api": api},
    });
    assert_eq!(sysctl(root.path(), "vm.swappiness"), "60");

    // First run: creates the profile directory, places the profile, applies it (with
    // --persist), and check passes.
    let first = play.run(&vars, &[]);
    assert!(first.ok(), "first run failed:\n{}", first.text());
    assert_eq!(
        first.changed(),
        3,
        "directory + profile + apply:\n{}",
        first.text()
    );
    assert_eq!(sysctl(root.path(), "vm.swappiness"), "10");
    assert_eq!(sysctl(root.path(), "net.core.somaxconn"), "16384");
    let placed = profiles.join("api.yaml");
    let placed_text = std::fs::read_to_string(&placed).unwrap();
    assert!(placed_text.contains(">=16384"), "{placed_text}");
    let persisted = std::fs::read_to_string(root.path().join("etc/sysctl.d/90-hostperf.conf"))
        .expect("apply --persist wrote sysctl.d below the root");
    assert!(persisted.contains("vm.swappiness = 10"), "{persisted}");

    // Second run: the plan shows nothing to change, so nothing runs and nothing is changed.
    let second = play.run(&vars, &[]);
    assert!(second.ok(), "second run failed:\n{}", second.text());
    assert_eq!(
        second.changed(),
        0,
        "second run changed:\n{}",
        second.text()
    );

    // Drift, seen in check mode: reported as a change, nothing written.
    std::fs::write(root.path().join("proc/sys/vm/swappiness"), "60\n").unwrap();
    let dry = play.run(&vars, &["--check"]);
    assert!(dry.ok(), "check mode failed:\n{}", dry.text());
    assert_eq!(dry.changed(), 1, "check mode:\n{}", dry.text());
    assert!(String::from_utf8_lossy(&dry.out.stdout).contains("vm.swappiness"));
    assert_eq!(
        sysctl(root.path(), "vm.swappiness"),
        "60",
        "check mode wrote"
    );

    // A broken profile never replaces the good one, and nothing is applied.
    vars["hostperf_profiles"]["api"] = "include: [latency-profile]\nsysctl: [unclosed\n".into();
    let broken = play.run(&vars, &[]);
    assert!(
        !broken.ok(),
        "a broken profile was accepted:\n{}",
        broken.text()
    );
    assert_eq!(std::fs::read_to_string(&placed).unwrap(), placed_text);
    assert_eq!(sysctl(root.path(), "vm.swappiness"), "60");
}
