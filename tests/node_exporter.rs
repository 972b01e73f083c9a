//! The Prometheus path: the commands of contrib/systemd/hostperf-metrics@.service write
//! their reports into a textfile directory, the real prometheus-node-exporter (Debian
//! package; scripts/test.sh installs it) started here on a loopback port serves them, and
//! the scrape carries hostperf's series while reports are rewritten under it. Also: the
//! unit files pass `systemd-analyze verify`, and the sample alerting rules pass promtool's
//! checks and unit tests.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{bin, describe, skip};

const REPO: &str = env!("CARGO_MANIFEST_DIR");
const UNIT: &str = "hostperf-metrics@.service";
const TIMER: &str = "hostperf-metrics@.timer";
/// The textfile directory the unit names (Debian's node_exporter default).
const TEXTFILE_DIR: &str = "/var/lib/prometheus/node-exporter";
const PROFILE: &str = "latency-profile";

fn unit_text(name: &str) -> String {
    std::fs::read_to_string(Path::new(REPO).join("contrib/systemd").join(name)).unwrap()
}

/// Values of `key=` lines in a unit file, in order.
fn unit_values(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim().to_string())
        .collect()
}

/// The unit's ExecStart= command lines as argument vectors, with the binary, the
/// instance (`%i`) and the textfile directory replaced by this test's, and diagnose's
/// sampling interval shortened.
fn exec_starts(textfile_dir: &Path) -> Vec<Vec<String>> {
    unit_values(&unit_text(UNIT), "ExecStart")
        .iter()
        .map(|line| {
            let line = line
                .replace("/usr/bin/hostperf", bin())
                .replace("%i", PROFILE)
                .replace(TEXTFILE_DIR, textfile_dir.to_str().unwrap());
            let mut args: Vec<String> = line.split_whitespace().map(String::from).collect();
            if let Some(i) = args.iter().position(|a| a == "--interval") {
                args[i + 1] = "0.2".into();
            }
            args
        })
        .collect()
}

/// Runs one command line from the unit; its exit code must count as success for the unit.
fn run_exec(args: &[String]) {
    let ok_codes: Vec<i32> = std::iter::once(0)
        .chain(
            unit_values(&unit_text(UNIT), "SuccessExitStatus")
                .iter()
                .flat_map(|v| v.split_whitespace().map(|c| c.parse::<i32>().unwrap()))
                .collect::<Vec<_>>(),
        )
        .collect();
    let out = Command::new(&args[0])
        .args(&args[1..])
        .env("HOSTPERF_PROFILE_DIR", "/nonexistent-hostperf-profiles")
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    assert!(
        ok_codes.contains(&code),
        "{args:?} exited {code}, which fails the unit (success: {ok_codes:?}):\n{}",
        describe(&out)
    );
}

/// prometheus-node-exporter on a loopback port with only the textfile collector; killed
/// (by its pid) on drop.
struct NodeExporter {
    child: Child,
    url: String,
}

impl NodeExporter {
    fn start(textfile_dir: &Path) -> Option<NodeExporter> {
        // A port the kernel just handed out and released: free unless another process
        // takes it in between, which the bounded wait below reports.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let child = Command::new("prometheus-node-exporter")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args([
                "--collector.disable-defaults",
                "--collector.textfile",
                "--web.disable-exporter-metrics",
            ])
            .arg(format!(
                "--collector.textfile.directory={}",
                textfile_dir.display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let exporter = NodeExporter {
            child,
            url: format!("http://127.0.0.1:{port}/metrics"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if exporter.scrape().is_some() {
                return Some(exporter);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "node_exporter did not answer on {} within 10 s",
            exporter.url
        );
    }

    fn scrape(&self) -> Option<String> {
        let out = Command::new("curl")
            .args(["--silent", "--fail", "--max-time", "5", &self.url])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for NodeExporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Metric names (`hostperf_...`) that the alerting rules' expressions use.
fn rule_metrics() -> Vec<String> {
    let rules =
        std::fs::read_to_string(Path::new(REPO).join("contrib/prometheus/hostperf.rules.yml"))
            .unwrap();
    let mut names: Vec<String> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("expr:"))
        .flat_map(|expr| {
            expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("hostperf_"))
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn node_exporter_serves_hostperf_metrics_while_they_are_rewritten() {
    const NAME: &str = "node_exporter_serves_hostperf_metrics_while_they_are_rewritten";
    if !have("prometheus-node-exporter") || !have("curl") {
        skip(
            NAME,
            "needs prometheus-node-exporter and curl (scripts/test.sh installs them)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let commands = exec_starts(dir.path());
    assert_eq!(commands.len(), 2, "check and diagnose: {commands:?}");
    for args in &commands {
        run_exec(args);
    }
    let check_file = dir.path().join(format!("hostperf-check-{PROFILE}.prom"));
    assert!(
        check_file.is_file(),
        "the unit's check writes {check_file:?}"
    );
    assert!(dir.path().join("hostperf-diagnose.prom").is_file());

    let exporter = NodeExporter::start(dir.path()).unwrap();
    let first = exporter.scrape().expect("scrape");
    assert!(first.contains("\nnode_textfile_scrape_error 0"), "{first}");
    for series in [
        format!("hostperf_check_drift{{profile=\"{PROFILE}\"}}"),
        format!("hostperf_check_results{{profile=\"{PROFILE}\",status=\"pass\"}}"),
        "hostperf_diagnose_status{check=\"listen-overflow\",status=\"crit\"}".to_string(),
        "hostperf_diagnose_interval_seconds".to_string(),
        format!("hostperf-check-{PROFILE}.prom\"}}"),
        "hostperf-diagnose.prom\"}".to_string(),
    ] {
        assert!(first.contains(&series), "scrape lacks {series}:\n{first}");
    }
    // Every metric the sample alerts use is one hostperf really writes.
    for name in rule_metrics() {
        assert!(
            first.contains(&format!("\n{name}{{")),
            "the alerting rules use {name}, which the scrape lacks"
        );
    }

    // Rewrites under a scraper: every scrape sees whole files (a torn file is a parse error,
    // node_textfile_scrape_error 1, and its series vanish).
    let check = commands[0].clone();
    let writer = std::thread::spawn(move || {
        for _ in 0..15 {
            run_exec(&check);
        }
    });
    let mut scrapes = 0;
    while !writer.is_finished() || scrapes == 0 {
        let text = exporter.scrape().expect("scrape during rewrites");
        assert!(text.contains("\nnode_textfile_scrape_error 0"), "{text}");
        assert!(text.contains("\nhostperf_check_drift{"), "{text}");
        scrapes += 1;
    }
    writer.join().unwrap();
    assert!(
        scrapes >= 2,
        "only {scrapes} scrape(s) overlapped the rewrites"
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| n.ends_with(".prom") && !n.starts_with('.')),
        "temporary files left in the textfile directory: {names:?}"
    );

    // The control: a torn file is what node_exporter reports as a scrape error.
    let whole = std::fs::read_to_string(&check_file).unwrap();
    let cut = whole.find("hostperf_check_drift{").unwrap() + 25;
    std::fs::write(dir.path().join("torn.prom"), &whole[..cut]).unwrap();
    let torn = exporter.scrape().expect("scrape");
    assert!(torn.contains("\nnode_textfile_scrape_error 1"), "{torn}");
}

#[test]
fn metrics_units_pass_systemd_analyze_verify() {
    // Instances of the templates, as the timer starts them.
    let instance = |template: &str| template.replace("@.", &format!("@{PROFILE}."));
    common::verify_units(
        "metrics_units_pass_systemd_analyze_verify",
        &[(UNIT, &instance(UNIT)), (TIMER, &instance(TIMER))],
    );
}

#[test]
fn alert_rules_pass_promtool() {
    const NAME: &str = "alert_rules_pass_promtool";
    if !have("promtool") {
        skip(
            NAME,
            "promtool is not installed (Debian package prometheus; scripts/test.sh installs it)",
        );
        return;
    }
    let dir = Path::new(REPO).join("contrib/prometheus");
    for args in [
        ["check", "rules", "hostperf.rules.yml"],
        ["test", "rules", "hostperf.rules.test.yml"],
    ] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}",
            describe(&out)
        );
    }
}
