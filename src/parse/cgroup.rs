//! cgroup files: cpu.stat (v1 and v2), cpu.max (v2), cpu.cfs_quota_us (v1), and the cgroup
//! mounts in /proc/self/mountinfo.

use super::{ParseError, Result, number, shown, text};

/// A signed single number, as in cpu.cfs_quota_us (`-1` = no limit).
pub fn parse_signed(bytes: &[u8]) -> Result<i64> {
    let s = text(bytes)?.trim();
    s.parse::<i64>()
        .map_err(|_| ParseError::new(1, format!("expected a number, got {}", shown(s))))
}

/// cgroup v2 cpu.max: `max 100000` or `QUOTA PERIOD` in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuMax {
    /// None: no limit.
    pub quota_us: Option<u64>,
    pub period_us: u64,
}

pub fn parse_cpu_max(bytes: &[u8]) -> Result<CpuMax> {
    let f: Vec<&str> = text(bytes)?.split_whitespace().collect();
    let (quota, period) = match f.as_slice() {
        [q] => (*q, "100000"),
        [q, p] => (*q, *p),
        _ => return Err(ParseError::new(1, "expected `QUOTA PERIOD`")),
    };
    Ok(CpuMax {
        quota_us: if quota == "max" {
            None
        } else {
            Some(number(1, quota)?)
        },
        period_us: number(1, period)?,
    })
}

/// A mounted cgroup hierarchy that has the cpu controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    /// Where it is mounted, e.g. `/sys/fs/cgroup/cpu,cpuacct` or `/sys/fs/cgroup`.
    pub path: String,
    /// 1 or 2.
    pub version: u8,
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && let Some(oct) = s.get(i + 1..i + 4)
            && let Ok(v) = u8::from_str_radix(oct, 8)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup v1 hierarchies with the `cpu` controller and every cgroup2 mount, from
/// /proc/self/mountinfo (`ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS ... - FSTYPE SOURCE SUPER`).
pub fn parse_cgroup_mounts(bytes: &[u8]) -> Vec<CgroupMount> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let Some(mountpoint) = left.split_whitespace().nth(4) else {
            continue;
        };
        let mut r = right.split_whitespace();
        let (Some(fstype), _, Some(options)) = (r.next(), r.next(), r.next()) else {
            continue;
        };
        let version = match fstype {
            "cgroup2" => 2,
            "cgroup" if options.split(',').any(|o| o == "cpu") => 1,
            _ => continue,
        };
        out.push(CgroupMount {
            path: unescape(mountpoint),
            version,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::parse_key_values;
    use super::*;

    #[test]
    fn cpu_stat_and_limits() {
        let v1 =
            parse_key_values(b"nr_periods 10\nnr_throttled 3\nthrottled_time 123456\n").unwrap();
        assert_eq!(v1["nr_throttled"], 3);
        let v2 =
            parse_key_values(b"usage_usec 1\nnr_periods 7\nnr_throttled 2\nthrottled_usec 9\n")
                .unwrap();
        assert_eq!(v2["throttled_usec"], 9);
        assert!(parse_key_values(b"nr_periods x\n").is_err());
        assert_eq!(parse_signed(b"-1\n").unwrap(), -1);
        assert_eq!(
            parse_cpu_max(b"10000 100000\n").unwrap(),
            CpuMax {
                quota_us: Some(10000),
                period_us: 100000
            }
        );
        assert_eq!(parse_cpu_max(b"max 100000\n").unwrap().quota_us, None);
        assert!(parse_cpu_max(b"\n").is_err());
    }

    #[test]
    fn mounts() {
        let m = parse_cgroup_mounts(
            b"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n33 31 0:30 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct\n41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n42 1 0:39 / /mnt/with\\040space rw - cgroup2 none rw\n",
        );
        assert_eq!(m.len(), 3);
        assert_eq!(
            m[0],
            CgroupMount {
                path: "/sys/fs/cgroup/cpu".into(),
                version: 1
            }
        );
        assert_eq!(m[1].version, 2);
        assert_eq!(m[2].path, "/mnt/with space");
    }
}
