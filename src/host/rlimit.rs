//! Resource limits of running processes: read from /proc/PID/limits (so captures work),
//! changed with prlimit(2) (live hosts only).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{Host, HostError};

/// The limits a profile may set, by their ulimit/limits.conf names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resource {
    Nofile,
    Nproc,
    Memlock,
    Core,
    Stack,
    As,
    Sigpending,
    Msgqueue,
    Rtprio,
    Nice,
}

impl Resource {
    pub const ALL: [Resource; 10] = [
        Resource::Nofile,
        Resource::Nproc,
        Resource::Memlock,
        Resource::Core,
        Resource::Stack,
        Resource::As,
        Resource::Sigpending,
        Resource::Msgqueue,
        Resource::Rtprio,
        Resource::Nice,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Resource::Nofile => "nofile",
            Resource::Nproc => "nproc",
            Resource::Memlock => "memlock",
            Resource::Core => "core",
            Resource::Stack => "stack",
            Resource::As => "as",
            Resource::Sigpending => "sigpending",
            Resource::Msgqueue => "msgqueue",
            Resource::Rtprio => "rtprio",
            Resource::Nice => "nice",
        }
    }

    /// The row label in /proc/PID/limits.
    pub fn proc_label(self) -> &'static str {
        match self {
            Resource::Nofile => "Max open files",
            Resource::Nproc => "Max processes",
            Resource::Memlock => "Max locked memory",
            Resource::Core => "Max core file size",
            Resource::Stack => "Max stack size",
            Resource::As => "Max address space",
            Resource::Sigpending => "Max pending signals",
            Resource::Msgqueue => "Max msgqueue size",
            Resource::Rtprio => "Max realtime priority",
            Resource::Nice => "Max nice priority",
        }
    }

    /// The systemd unit setting (`LimitNOFILE=`, ...).
    pub fn systemd_name(self) -> &'static str {
        match self {
            Resource::Nofile => "LimitNOFILE",
            Resource::Nproc => "LimitNPROC",
            Resource::Memlock => "LimitMEMLOCK",
            Resource::Core => "LimitCORE",
            Resource::Stack => "LimitSTACK",
            Resource::As => "LimitAS",
            Resource::Sigpending => "LimitSIGPENDING",
            Resource::Msgqueue => "LimitMSGQUEUE",
            Resource::Rtprio => "LimitRTPRIO",
            Resource::Nice => "LimitNICE",
        }
    }

    fn rustix(self) -> rustix::process::Resource {
        use rustix::process::Resource as R;
        match self {
            Resource::Nofile => R::Nofile,
            Resource::Nproc => R::Nproc,
            Resource::Memlock => R::Memlock,
            Resource::Core => R::Core,
            Resource::Stack => R::Stack,
            Resource::As => R::As,
            Resource::Sigpending => R::Sigpending,
            Resource::Msgqueue => R::Msgqueue,
            Resource::Rtprio => R::Rtprio,
            Resource::Nice => R::Nice,
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Resource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Resource::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Resource::ALL.iter().map(|r| r.name()).collect();
                format!("unknown limit {s:?}; known: {}", names.join(", "))
            })
    }
}

/// One limit value; `None` is unlimited.
pub type LimitValue = Option<u64>;

pub fn format_limit(value: LimitValue) -> String {
    match value {
        Some(v) => v.to_string(),
        None => "unlimited".to_string(),
    }
}

/// Soft and hard limit of one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub soft: LimitValue,
    pub hard: LimitValue,
}

impl fmt::Display for Limits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", format_limit(self.soft), format_limit(self.hard))
    }
}

impl FromStr for Limits {
    type Err = String;
    /// `soft:hard`, as written by `Display`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (soft, hard) = s
            .split_once(':')
            .ok_or_else(|| format!("expected soft:hard, got {s:?}"))?;
        Ok(Limits {
            soft: parse_limit(soft)?,
            hard: parse_limit(hard)?,
        })
    }
}

pub fn parse_limit(s: &str) -> Result<LimitValue, String> {
    match s.trim() {
        "unlimited" | "infinity" | "-1" => Ok(None),
        n => n
            .parse::<u64>()
            .map(Some)
            .map_err(|_| format!("{n:?} is not a number or \"unlimited\"")),
    }
}

/// Parses the text of /proc/PID/limits for one resource.
pub fn parse_proc_limits(text: &str, resource: Resource) -> Option<Limits> {
    let line = text
        .lines()
        .find(|l| l.starts_with(resource.proc_label()))?;
    let rest = &line[resource.proc_label().len()..];
    let mut fields = rest.split_whitespace();
    let soft = parse_limit(fields.next()?).ok()?;
    let hard = parse_limit(fields.next()?).ok()?;
    Some(Limits { soft, hard })
}

impl Host {
    pub fn rlimit_read(&self, pid: u32, resource: Resource) -> Result<Limits, HostError> {
        let path = PathBuf::from(format!("/proc/{pid}/limits"));
        let text = self.read_string(&path)?;
        parse_proc_limits(&text, resource).ok_or_else(|| {
            HostError::new(
                "parse",
                path,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("no parsable {:?} row", resource.proc_label()),
                ),
            )
        })
    }

    /// Sets both limits of a running process with prlimit(2). Live hosts only.
    pub fn rlimit_write(
        &self,
        pid: u32,
        resource: Resource,
        limits: Limits,
    ) -> Result<(), HostError> {
        let target = PathBuf::from(format!("/proc/{pid}"));
        self.check_fault("prlimit", &target)?;
        if !self.is_live() {
            let msg = "prlimit needs a live host, not a fixture root";
            return Err(HostError::new(
                "prlimit",
                target,
                std::io::Error::new(std::io::ErrorKind::Unsupported, msg),
            ));
        }
        let pid_handle = rustix::process::Pid::from_raw(pid as i32).ok_or_else(|| {
            HostError::new(
                "prlimit",
                target.clone(),
                std::io::Error::from_raw_os_error(libc::ESRCH),
            )
        })?;
        let new = rustix::process::Rlimit {
            current: limits.soft,
            maximum: limits.hard,
        };
        rustix::process::prlimit(Some(pid_handle), resource.rustix(), new)
            .map(|_| ())
            .map_err(|e| HostError::new("prlimit", target, e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: &str = include_str!("../../tests/fixtures/proc-limits.txt");

    #[test]
    fn reads_captured_proc_limits() {
        assert_eq!(
            parse_proc_limits(LIMITS, Resource::Nofile),
            Some(Limits {
                soft: Some(20000),
                hard: Some(20000)
            })
        );
        assert_eq!(
            parse_proc_limits(LIMITS, Resource::Stack),
            Some(Limits {
                soft: Some(8388608),
                hard: None
            })
        );
    }

    #[test]
    fn unlimited_and_missing_rows() {
        let l = parse_proc_limits(
            "Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1024                 524288               files     \n",
            Resource::Nofile,
        )
        .unwrap();
        assert_eq!((l.soft, l.hard), (Some(1024), Some(524288)));
        let u = parse_proc_limits(
            "Max open files unlimited unlimited files\n",
            Resource::Nofile,
        )
        .unwrap();
        assert_eq!(u.soft, None);
        assert!(parse_proc_limits("Max cpu time 1 2\n", Resource::Nofile).is_none());
    }

    #[test]
    fn limits_round_trip_through_text() {
        let l: Limits = "1024:unlimited".parse().unwrap();
        assert_eq!(l.to_string(), "1024:unlimited");
        assert!("1024".parse::<Limits>().is_err());
        assert!("x:1".parse::<Limits>().is_err());
    }
}
