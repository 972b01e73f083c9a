//! The bench report as text: per scenario and arm, baseline and profile side by side with
//! their ratio, then the settings a namespace cannot show and the host check.

use std::fmt::Write as _;

use super::model::{Report, RunReport, ScenarioReport, Status};
use super::settings::Reach;
use crate::report;

/// The whole report as tables.
pub fn text(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "hostperf bench {}: kernel {}, {} CPU(s); {} s per run after {} s warm-up ({})",
        r.profile, r.machine.kernel, r.machine.cpus, r.duration_s, r.warmup_s, r.machine.note
    );
    for s in &r.scenarios {
        out.push('\n');
        scenario(&mut out, s);
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "Settings of {} that a namespace cannot show:",
        r.profile
    );
    for row in r
        .settings
        .iter()
        .filter(|x| matches!(x.reach, Reach::HostWide | Reach::Refused))
    {
        let _ = writeln!(out, "  {} = {}: {}", row.key, row.value, row.note);
    }
    for row in r.settings.iter().filter(|x| x.reach == Reach::Emulated) {
        let _ = writeln!(out, "  {} = {}: {}", row.key, row.value, row.note);
    }
    if r.host_check.changed.is_empty() {
        let _ = writeln!(
            out,
            "Host unchanged: {} of the host's settings read before and after are the same.",
            r.host_check.compared
        );
    } else {
        let _ = writeln!(
            out,
            "HOST CHANGED during the run (bench writes only inside its own namespaces; another \
             process may have done this):"
        );
        for c in &r.host_check.changed {
            let _ = writeln!(out, "  {c}");
        }
    }
    out
}

fn scenario(out: &mut String, s: &ScenarioReport) {
    let _ = writeln!(out, "== {}: {}", s.name, s.title);
    let _ = writeln!(out, "{}", wrap(&s.question, 96, ""));
    for st in &s.start {
        let _ = writeln!(
            out,
            "testbed starts from: {:?} {} = {} ({})",
            st.side, st.key, st.value, st.why
        );
    }
    if s.keys_in_effect.is_empty() {
        let _ = writeln!(
            out,
            "profile settings this scenario exercises: none applied"
        );
    } else {
        let _ = writeln!(
            out,
            "profile settings this scenario exercises: {}",
            s.keys_in_effect.join(", ")
        );
    }
    for n in &s.notes {
        let _ = writeln!(out, "note: {n}");
    }
    match &s.status {
        Status::Done => {}
        Status::Skipped(why) => {
            let _ = writeln!(out, "SKIPPED: {why}");
        }
        Status::Failed(why) => {
            let _ = writeln!(out, "FAILED: {why}");
        }
        Status::Interrupted => {
            let _ = writeln!(out, "INTERRUPTED");
        }
    }
    for arm in &s.arms {
        if arm.baseline.is_none() && arm.profile.is_none() {
            continue;
        }
        let _ = writeln!(out, "-- {} ({})", arm.name, arm.what);
        out.push_str(&report::render(&arm_table(
            arm.baseline.as_ref(),
            arm.profile.as_ref(),
        )));
    }
}

/// Rows of metrics; a row is shown when either side has something to say.
fn arm_table(b: Option<&RunReport>, p: Option<&RunReport>) -> comfy_table::Table {
    let mut t = report::table(&["", "baseline", "profile", "profile/baseline"]);
    let mut row =
        |name: &str, f: &dyn Fn(&RunReport) -> Option<f64>, digits: usize, always: bool| {
            let bv = b.and_then(f);
            let pv = p.and_then(f);
            if !always && bv.unwrap_or(0.0) == 0.0 && pv.unwrap_or(0.0) == 0.0 {
                return;
            }
            let show = |v: Option<f64>| v.map(|x| format!("{x:.digits$}")).unwrap_or("-".into());
            let ratio = match (bv, pv) {
                (Some(b), Some(p)) if b > 0.0 => format!("{:.2}", p / b),
                (Some(b), Some(p)) if b == 0.0 && p == 0.0 => "1.00".into(),
                _ => "-".into(),
            };
            t.add_row(vec![name.to_string(), show(bv), show(pv), ratio]);
        };
    let n = |v: u64| Some(v as f64);
    row("offered req/s", &|r| Some(r.offered_rps), 0, true);
    row("achieved req/s", &|r| Some(r.achieved_rps), 0, true);
    row("p50 ms", &|r| r.latency_ms.as_ref().map(|l| l.p50), 3, true);
    row("p90 ms", &|r| r.latency_ms.as_ref().map(|l| l.p90), 3, true);
    row("p99 ms", &|r| r.latency_ms.as_ref().map(|l| l.p99), 3, true);
    row(
        "p99.9 ms",
        &|r| r.latency_ms.as_ref().map(|l| l.p999),
        3,
        true,
    );
    row("max ms", &|r| r.latency_ms.as_ref().map(|l| l.max), 3, true);
    row(
        "send lag p50 ms (generator)",
        &|r| r.send_lag_ms.map(|l| l[0]),
        3,
        true,
    );
    row("errors", &|r| n(r.errors.total()), 0, true);
    row("  refused", &|r| n(r.errors.refused), 0, false);
    row(
        "  connect timeout",
        &|r| n(r.errors.connect_timeout),
        0,
        false,
    );
    row(
        "  EADDRNOTAVAIL",
        &|r| n(r.errors.addr_not_available),
        0,
        false,
    );
    row("  reset", &|r| n(r.errors.reset), 0, false);
    row("  response timeout", &|r| n(r.errors.timeout), 0, false);
    row("  HTTP status", &|r| n(r.errors.status), 0, false);
    row("  other", &|r| n(r.errors.other), 0, false);
    row("  unsent (all busy)", &|r| n(r.errors.unsent), 0, false);
    row(
        "listen drops (server)",
        &|r| n(r.server.listen_drops),
        0,
        true,
    );
    row(
        "SYN-queue drops (server)",
        &|r| n(r.server.syn_queue_drops),
        0,
        false,
    );
    row(
        "syncookies sent (server)",
        &|r| n(r.server.syncookies_sent),
        0,
        false,
    );
    row(
        "SYN retransmits (client)",
        &|r| n(r.client.syn_retransmits),
        0,
        false,
    );
    row(
        "retransmits",
        &|r| n(r.client.retransmits + r.server.retransmits),
        0,
        true,
    );
    row(
        "TIME_WAIT client, at end",
        &|r| n(r.client.time_wait),
        0,
        false,
    );
    row(
        "TIME_WAIT server, at end",
        &|r| n(r.server.time_wait),
        0,
        false,
    );
    row(
        "softnet drops (host-wide)",
        &|r| n(r.softnet.dropped),
        0,
        false,
    );
    row(
        "server CPU us/request",
        &|r| r.cpu.server_us_per_request,
        1,
        true,
    );
    row(
        "client CPU us/request",
        &|r| r.cpu.client_us_per_request,
        1,
        true,
    );
    row("bulk download Mbit/s", &|r| r.bulk_mbit, 2, false);
    t
}

/// Wraps text at `width` columns.
fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::from(indent);
    for word in text.split_whitespace() {
        if line.len() + word.len() + 1 > width && !line.trim().is_empty() {
            out.push_str(line.trim_end());
            out.push('\n');
            line = String::from(indent);
        }
        line.push_str(word);
        line.push(' ');
    }
    out.push_str(line.trim_end());
    out
}
