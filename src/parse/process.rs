//! /proc/sys/fs/file-nr, /proc/PID/status, /proc/PID/limits.

use super::{ParseError, Result, number, text};

/// /proc/sys/fs/file-nr: allocated file handles, free allocated handles (0 since 2.6), maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileNr {
    pub allocated: u64,
    pub unused: u64,
    pub max: u64,
}

pub fn parse_file_nr(bytes: &[u8]) -> Result<FileNr> {
    let f: Vec<&str> = text(bytes)?.split_whitespace().collect();
    if f.len() != 3 {
        return Err(ParseError::new(
            1,
            format!("{} fields, expected 3", f.len()),
        ));
    }
    Ok(FileNr {
        allocated: number(1, f[0])?,
        unused: number(1, f[1])?,
        max: number(1, f[2])?,
    })
}

/// The /proc/PID/status fields diagnose uses; memory sizes in kB. Kernel threads have no Vm*.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcStatus {
    pub name: String,
    /// The real user id (first of the four `Uid:` fields).
    pub uid: Option<u32>,
    pub vm_rss_kb: Option<u64>,
    pub vm_data_kb: Option<u64>,
    pub vm_swap_kb: Option<u64>,
}

pub fn parse_status(bytes: &[u8]) -> Result<ProcStatus> {
    let mut out = ProcStatus::default();
    let mut named = false;
    for (i, line) in text(bytes)?.lines().enumerate() {
        let n = i + 1;
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let kb = || -> Result<u64> {
            let v = value.trim().trim_end_matches("kB").trim();
            number(n, v)
        };
        match key {
            "Name" => {
                out.name = value.trim().to_string();
                named = true;
            }
            "Uid" => {
                out.uid = value
                    .split_whitespace()
                    .next()
                    .map(|u| number(n, u))
                    .transpose()?
                    .and_then(|u| u32::try_from(u).ok());
            }
            "VmRSS" => out.vm_rss_kb = Some(kb()?),
            "VmData" => out.vm_data_kb = Some(kb()?),
            "VmSwap" => out.vm_swap_kb = Some(kb()?),
            _ => {}
        }
    }
    if !named {
        return Err(ParseError::new(0, "no Name: line"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_nr() {
        let f = parse_file_nr(b"341\t0\t2466170\n").unwrap();
        assert_eq!(f.allocated, 341);
        assert_eq!(f.max, 2466170);
        assert!(parse_file_nr(b"1 2\n").is_err());
    }

    #[test]
    fn status() {
        let s = parse_status(
            b"Name:\tmy app\nUid:\t1000\t1000\t1000\t1000\nVmData:\t  1024 kB\nVmRSS:\t 2048 kB\n",
        )
        .unwrap();
        assert_eq!(s.uid, Some(1000));
        assert_eq!(s.name, "my app");
        assert_eq!(s.vm_data_kb, Some(1024));
        assert_eq!(s.vm_rss_kb, Some(2048));
        assert_eq!(s.vm_swap_kb, None);
        assert!(parse_status(b"VmRSS: x kB\nName: a\n").is_err());
        assert!(parse_status(b"").is_err());
    }
}
