//! Kernel log text: /dev/kmsg records, `dmesg` lines and `journalctl -k -o short-monotonic`
//! lines, each with its time since boot when the format has one.

use serde::{Deserialize, Serialize};

/// One kernel log message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Microseconds since boot (the kernel's monotonic printk clock), when known.
    pub usec: Option<u64>,
    pub text: String,
}

/// `1234.567890` seconds as microseconds (checked: a huge value is None).
fn seconds_to_usec(s: &str) -> Option<u64> {
    let (whole, frac) = s.trim().split_once('.').unwrap_or((s.trim(), "0"));
    let whole: u64 = whole.parse().ok()?;
    let mut frac: String = frac.chars().take(6).collect();
    while frac.len() < 6 {
        frac.push('0');
    }
    let frac: u64 = frac.parse().ok()?;
    whole.checked_mul(1_000_000)?.checked_add(frac)
}

/// Parses kernel log text of any of the three formats:
/// - /dev/kmsg: `PRI,SEQ,USEC,FLAGS;message` (continuation lines ` KEY=value` are skipped);
/// - dmesg: `[ 1234.567890] message`;
/// - journalctl short-monotonic: `[ 1234.567890] host kernel: message`.
///
/// Other lines are kept with no time.
pub fn parse_kernel_log(bytes: &[u8]) -> Vec<LogLine> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with(' ') && line.contains('=') {
            continue;
        }
        if let Some((prefix, message)) = line.split_once(';') {
            let f: Vec<&str> = prefix.split(',').collect();
            if f.len() >= 3 && f[..3].iter().all(|x| x.bytes().all(|b| b.is_ascii_digit())) {
                out.push(LogLine {
                    usec: f[2].parse().ok(),
                    text: message.trim_end().to_string(),
                });
                continue;
            }
        }
        if let Some(rest) = line.trim_start().strip_prefix('[')
            && let Some((stamp, message)) = rest.split_once(']')
            && let Some(usec) = seconds_to_usec(stamp)
        {
            let message = message.trim();
            // journalctl adds `host kernel: ` before the message.
            let message = match message.split_once(" kernel: ") {
                Some((host, m)) if !host.contains(' ') => m,
                _ => message,
            };
            out.push(LogLine {
                usec: Some(usec),
                text: message.to_string(),
            });
            continue;
        }
        out.push(LogLine {
            usec: None,
            text: line.trim_end().to_string(),
        });
    }
    out
}

/// A "Killed process PID (COMM)" message of the OOM killer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OomKill {
    pub pid: u32,
    pub comm: String,
}

/// The victim named by an OOM-killer message (`Out of memory: Killed process 5678 (nginx)
/// total-vm:...`, or `Kill process 5678 (nginx) score 150 or sacrifice child` before 4.x).
pub fn parse_oom_kill(message: &str) -> Option<OomKill> {
    let at = message
        .find("Killed process ")
        .map(|i| i + "Killed process ".len())
        .or_else(|| {
            message
                .find("Kill process ")
                .map(|i| i + "Kill process ".len())
        })?;
    let rest = &message[at..];
    let (pid, rest) = rest.split_once(' ')?;
    let pid = pid.parse::<u32>().ok()?;
    let comm = rest
        .strip_prefix('(')
        .and_then(|r| r.split_once(')'))
        .map(|(c, _)| c.to_string())
        .unwrap_or_default();
    Some(OomKill { pid, comm })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_formats() {
        let l = parse_kernel_log(
            b"3,1234,5678901,-;Out of memory: Killed process 5678 (nginx) total-vm:1000kB\n SUBSYSTEM=net\n[  12.300000] TCP: out of memory -- consider tuning tcp_mem\n[ 1234.567890] web-1 kernel: nf_conntrack: table full, dropping packet\nno time here\n",
        );
        assert_eq!(l.len(), 4);
        assert_eq!(l[0].usec, Some(5678901));
        assert!(l[0].text.starts_with("Out of memory"));
        assert_eq!(l[1].usec, Some(12_300_000));
        assert_eq!(l[2].usec, Some(1_234_567_890));
        assert_eq!(l[2].text, "nf_conntrack: table full, dropping packet");
        assert_eq!(l[3].usec, None);
        assert!(
            parse_kernel_log(b"[99999999999999999999.0] x\n")[0]
                .usec
                .is_none()
        );
    }

    #[test]
    fn oom_victims() {
        let k =
            parse_oom_kill("Out of memory: Killed process 5678 (nginx) total-vm:1000kB").unwrap();
        assert_eq!((k.pid, k.comm.as_str()), (5678, "nginx"));
        let old =
            parse_oom_kill("Out of memory: Kill process 42 (my app) score 150 or sacrifice child")
                .unwrap();
        assert_eq!((old.pid, old.comm.as_str()), (42, "my app"));
        assert!(parse_oom_kill("Killed process x").is_none());
    }
}
