//! The clock: a slow clocksource makes every timestamp a request takes costly, an unstable
//! TSC makes the kernel fall back to one, and an unsynchronised clock skews timeouts and TLS.

use super::{Ctx, Outcome, Problem, kernel_log, needs};
use crate::diagnose::model::{CheckInfo, Evidence, Finding, Observed, Status, Unit};
use crate::diagnose::system::{STA_UNSYNC, TIME_ERROR};

const CURRENT: &str = "/sys/devices/system/clocksource/clocksource0/current_clocksource";
const AVAILABLE: &str = "/sys/devices/system/clocksource/clocksource0/available_clocksource";

/// Clocksources whose reads trap into the kernel or the hypervisor: every gettimeofday() and
/// clock_gettime() costs a microsecond or more instead of tens of nanoseconds.
const SLOW: &[&str] = &[
    "hpet",
    "acpi_pm",
    "jiffies",
    "refined-jiffies",
    "pit",
    "xen",
];

pub static CLOCK: super::Check = super::Check {
    info: CheckInfo {
        id: "clock",
        title: "Slow or unsynchronised clock",
        symptom: "Everything that reads the time is slow (high system CPU in clock_gettime), or timeouts, logs and certificates disagree about the time",
        question: "Is the kernel using a slow clocksource, or is the clock not synchronised?",
        confirm: "cat /sys/devices/system/clocksource/clocksource0/{current,available}_clocksource; chronyc tracking or timedatectl; journalctl -k | grep -i clocksource",
        log: "journalctl -k: \"clocksource: Marking clocksource 'tsc' as unstable\", \"tsc: Marking TSC unstable\"",
        remediation: "Prefer tsc (or kvm-clock on KVM, arch_sys_counter on arm64). When the kernel marked the TSC unstable, check the BIOS power settings and the hypervisor's TSC handling; the clocksource= boot parameter chooses one. Run a time daemon (chrony, systemd-timesyncd) so the clock is synchronised.",
    },
    needs: || {
        let mut n = needs(&[CURRENT, AVAILABLE]);
        n.clock = true;
        n.kernel_log = true;
        n
    },
    rate_only: false,
    run: clock,
};

fn clock(ctx: &Ctx) -> Outcome<Finding> {
    let mut f = CLOCK.info.finding(Status::Pass, "");
    let mut parts = Vec::new();
    let current = ctx
        .last
        .bytes(CURRENT)
        .map(|b| String::from_utf8_lossy(b).trim().to_string());
    if let Some(cs) = &current {
        f.evidence.push(Evidence::value(CURRENT, cs, 1.0));
        if let Some(av) = ctx.last.bytes(AVAILABLE) {
            f.evidence.push(Evidence::value(
                AVAILABLE,
                String::from_utf8_lossy(av).trim(),
                1.0,
            ));
        }
        let slow = SLOW.contains(&cs.as_str());
        f.observed.push(
            Observed::new(
                "clocksource_slow",
                if slow { 1.0 } else { 0.0 },
                Unit::Count,
            )
            .label("clocksource", cs.clone())
            .warn_only(
                1.0,
                "hpet, acpi_pm, jiffies and xen trap on every clock read",
            ),
        );
        parts.push(format!("clocksource {cs}"));
    }
    match &ctx.last.clock {
        Some(Ok(c)) => {
            let unsynced = c.status & STA_UNSYNC != 0 || c.state == TIME_ERROR;
            f.evidence.push(Evidence::value(
                "adjtimex",
                "maxerror (us)",
                c.maxerror_us as f64,
            ));
            f.evidence.push(Evidence::value(
                "adjtimex",
                "esterror (us)",
                c.esterror_us as f64,
            ));
            f.observed.push(
                Observed::new(
                    "clock_unsynchronised",
                    if unsynced { 1.0 } else { 0.0 },
                    Unit::Count,
                )
                .warn_only(
                    1.0,
                    "adjtimex: STA_UNSYNC set (no time daemon disciplines the clock)",
                ),
            );
            parts.push(if unsynced {
                "clock not synchronised".to_string()
            } else {
                format!("synchronised (estimated error {} us)", c.esterror_us)
            });
        }
        Some(Err(e)) => f.notes.push(format!("clock state not read: {e}")),
        None => {}
    }
    if f.observed.is_empty() {
        return Err(Problem::Skip(
            "no clocksource in /sys and no clock state here".into(),
        ));
    }
    f.judge_observed();
    let logged = kernel_log(ctx, &mut f);
    if logged > 0 {
        f.raise(Status::Warn);
        parts.push(format!("{logged} clocksource kernel messages"));
    }
    f.summary = parts.join("; ");
    Ok(f)
}
