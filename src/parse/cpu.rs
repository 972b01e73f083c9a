//! /proc/stat, /proc/softirqs, /proc/interrupts, /proc/net/softnet_stat, /proc/pressure/*.
//!
//! CPUs are named by their label (`cpu3`, `CPU3`) or, in softnet_stat, by the CPU column the
//! kernel prints since 5.10, never by line position: with an offline CPU the positions shift.

use std::collections::BTreeMap;

use super::{ParseError, Result, number, shown, text};

/// The CPU number in a `cpu3` / `CPU3` label.
fn cpu_id(label: &str, prefix: &str) -> Option<u32> {
    label.strip_prefix(prefix)?.parse().ok()
}

/// /proc/softirqs: a `CPU0 CPU1 ...` header naming every *possible* CPU, then `NAME: n n ...`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Softirqs {
    /// The CPU of each column.
    pub cpus: Vec<u32>,
    pub rows: BTreeMap<String, Vec<u64>>,
}

impl Softirqs {
    /// The counts of one row by CPU number.
    pub fn per_cpu(&self, row: &str) -> Option<BTreeMap<u32, u64>> {
        let counts = self.rows.get(row)?;
        Some(
            self.cpus
                .iter()
                .copied()
                .zip(counts.iter().copied())
                .collect(),
        )
    }
}

pub fn parse_softirqs(bytes: &[u8]) -> Result<Softirqs> {
    let mut lines = text(bytes)?.lines();
    let header = lines
        .next()
        .ok_or_else(|| ParseError::new(0, "empty file"))?;
    let cpus = header
        .split_whitespace()
        .map(|c| cpu_id(c, "CPU"))
        .collect::<Option<Vec<u32>>>()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ParseError::new(1, "expected a `CPU0 CPU1 ...` header"))?;
    let mut rows = BTreeMap::new();
    for (i, line) in lines.enumerate() {
        let n = i + 2;
        if line.trim().is_empty() {
            continue;
        }
        let (name, rest) = line
            .split_once(':')
            .ok_or_else(|| ParseError::new(n, "expected `NAME: counts`"))?;
        let counts = rest
            .split_whitespace()
            .map(|f| number(n, f))
            .collect::<Result<Vec<u64>>>()?;
        if counts.len() != cpus.len() {
            return Err(ParseError::new(
                n,
                format!("{} counts for {} CPUs", counts.len(), cpus.len()),
            ));
        }
        rows.insert(name.trim().to_string(), counts);
    }
    Ok(Softirqs { cpus, rows })
}

/// One /proc/interrupts row: `ID: per-CPU counts, then chip, hwirq and action names`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrqRow {
    pub id: String,
    pub counts: Vec<u64>,
    pub desc: String,
}

impl IrqRow {
    /// True for a numbered IRQ (not NMI, LOC, ...).
    pub fn is_device(&self) -> bool {
        !self.id.is_empty() && self.id.bytes().all(|b| b.is_ascii_digit())
    }
}

/// /proc/interrupts. The header names the *online* CPUs (`CPU0 CPU1 CPU3` with CPU2 offline).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interrupts {
    /// Number of CPU columns.
    pub cpus: usize,
    /// The CPU of each column, from the header labels.
    pub cpu_ids: Vec<u32>,
    pub rows: Vec<IrqRow>,
}

pub fn parse_interrupts(bytes: &[u8]) -> Result<Interrupts> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.lines();
    let header = lines
        .next()
        .ok_or_else(|| ParseError::new(0, "empty file"))?;
    let cpu_ids = header
        .split_whitespace()
        .map(|c| cpu_id(c, "CPU"))
        .collect::<Option<Vec<u32>>>()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ParseError::new(1, "expected a `CPU0 CPU1 ...` header"))?;
    let cpus = cpu_ids.len();
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate() {
        let n = i + 2;
        if line.trim().is_empty() {
            continue;
        }
        let (id, rest) = line
            .split_once(':')
            .ok_or_else(|| ParseError::new(n, "expected `ID: counts`"))?;
        let mut counts = Vec::with_capacity(cpus);
        let mut fields = rest.split_whitespace().peekable();
        while counts.len() < cpus {
            match fields.peek().and_then(|f| f.parse::<u64>().ok()) {
                Some(v) => {
                    counts.push(v);
                    fields.next();
                }
                None => break,
            }
        }
        let desc = fields.collect::<Vec<_>>().join(" ");
        rows.push(IrqRow {
            id: id.trim().to_string(),
            counts,
            desc,
        });
    }
    Ok(Interrupts {
        cpus,
        cpu_ids,
        rows,
    })
}

/// One row of /proc/net/softnet_stat: one per *online* CPU, hex fields. 2.6.32 prints 9 or 10
/// columns, 3.x 11 (flow_limit), 5.10+ 13 (backlog length and the CPU number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoftnetRow {
    /// Position of the row (0 = first).
    pub row: usize,
    /// The CPU column (13th field), where the kernel prints it.
    pub cpu_field: Option<u32>,
    /// Packets taken from the NIC and the backlog (`processed`).
    pub processed: u64,
    /// Packets dropped because the backlog was longer than netdev_max_backlog.
    pub dropped: u64,
    /// Times net_rx_action stopped with work left (netdev_budget or its time ran out).
    pub time_squeeze: u64,
    pub received_rps: Option<u64>,
    pub flow_limit: Option<u64>,
    pub backlog_len: Option<u64>,
}

impl SoftnetRow {
    /// The CPU of this row: the CPU column when printed, else the row-th online CPU (rows
    /// skip offline CPUs), else the row position.
    pub fn cpu(&self, online: Option<&[u32]>) -> u32 {
        if let Some(c) = self.cpu_field {
            return c;
        }
        online
            .and_then(|o| o.get(self.row).copied())
            .unwrap_or(u32::try_from(self.row).unwrap_or(u32::MAX))
    }
}

pub fn parse_softnet(bytes: &[u8]) -> Result<Vec<SoftnetRow>> {
    let mut out = Vec::new();
    for (i, line) in text(bytes)?.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let f = line
            .split_whitespace()
            .map(|h| {
                u64::from_str_radix(h, 16)
                    .map_err(|_| ParseError::new(n, format!("expected hex, got {}", shown(h))))
            })
            .collect::<Result<Vec<u64>>>()?;
        if f.len() < 3 {
            return Err(ParseError::new(
                n,
                format!("{} fields, expected at least 3", f.len()),
            ));
        }
        out.push(SoftnetRow {
            row: out.len(),
            cpu_field: f.get(12).and_then(|&c| u32::try_from(c).ok()),
            processed: f[0],
            dropped: f[1],
            time_squeeze: f[2],
            received_rps: f.get(9).copied(),
            flow_limit: f.get(10).copied(),
            backlog_len: f.get(11).copied(),
        });
    }
    if out.is_empty() {
        return Err(ParseError::new(0, "empty file"));
    }
    Ok(out)
}

/// CPU time of one /proc/stat `cpu` line, in ticks. Fields appear with the kernel's age:
/// iowait, irq, softirq (2.6.0), steal (2.6.11), guest (2.6.24), guest_nice (2.6.33).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: Option<u64>,
    pub irq: Option<u64>,
    pub softirq: Option<u64>,
    pub steal: Option<u64>,
    pub guest: Option<u64>,
    pub guest_nice: Option<u64>,
}

impl CpuTimes {
    /// Every tick the CPU accounted (guest time is already inside user and nice).
    pub fn total(&self) -> u64 {
        [
            self.user,
            self.nice,
            self.system,
            self.idle,
            self.iowait.unwrap_or(0),
            self.irq.unwrap_or(0),
            self.softirq.unwrap_or(0),
            self.steal.unwrap_or(0),
        ]
        .iter()
        .fold(0u64, |a, &b| a.saturating_add(b))
    }

    /// Ticks doing work: everything but idle, iowait (idle waiting on I/O) and steal.
    pub fn busy(&self) -> u64 {
        self.total()
            .saturating_sub(self.idle)
            .saturating_sub(self.iowait.unwrap_or(0))
            .saturating_sub(self.steal.unwrap_or(0))
    }
}

/// /proc/stat: the summed `cpu` line, one `cpuN` line per online CPU, run-queue gauges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcStat {
    pub total: Option<CpuTimes>,
    /// Online CPUs by their label number, in file order.
    pub cpus: Vec<(u32, CpuTimes)>,
    /// Runnable tasks right now (2.6.0+), the reader included.
    pub procs_running: Option<u64>,
    pub procs_blocked: Option<u64>,
    pub ctxt: Option<u64>,
}

fn cpu_times(n: usize, fields: &[&str]) -> Result<CpuTimes> {
    if fields.len() < 4 {
        return Err(ParseError::new(
            n,
            format!("{} CPU time fields, expected at least 4", fields.len()),
        ));
    }
    let v = fields
        .iter()
        .map(|f| number(n, f))
        .collect::<Result<Vec<u64>>>()?;
    Ok(CpuTimes {
        user: v[0],
        nice: v[1],
        system: v[2],
        idle: v[3],
        iowait: v.get(4).copied(),
        irq: v.get(5).copied(),
        softirq: v.get(6).copied(),
        steal: v.get(7).copied(),
        guest: v.get(8).copied(),
        guest_nice: v.get(9).copied(),
    })
}

pub fn parse_stat(bytes: &[u8]) -> Result<ProcStat> {
    let mut out = ProcStat::default();
    for (i, line) in text(bytes)?.lines().enumerate() {
        let n = i + 1;
        let mut f = line.split_whitespace();
        let Some(key) = f.next() else { continue };
        let rest: Vec<&str> = f.collect();
        if key == "cpu" {
            out.total = Some(cpu_times(n, &rest)?);
        } else if let Some(id) = cpu_id(key, "cpu") {
            if out.cpus.iter().any(|(c, _)| *c == id) {
                return Err(ParseError::new(n, format!("cpu{id} appears twice")));
            }
            out.cpus.push((id, cpu_times(n, &rest)?));
        } else {
            let value = || rest.first().map(|v| number(n, v)).transpose();
            match key {
                "procs_running" => out.procs_running = value()?,
                "procs_blocked" => out.procs_blocked = value()?,
                "ctxt" => out.ctxt = value()?,
                _ => {}
            }
        }
    }
    if out.total.is_none() && out.cpus.is_empty() {
        return Err(ParseError::new(0, "no cpu lines"));
    }
    Ok(out)
}

/// One line of a pressure file: stall shares in percent over 10, 60 and 300 s, and the total
/// stall time in microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PsiLine {
    pub avg10: f64,
    pub avg60: f64,
    pub avg300: f64,
    pub total_us: u64,
}

/// /proc/pressure/{cpu,memory,io} (4.20+). `full` is absent for cpu before 5.13.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Pressure {
    pub some: Option<PsiLine>,
    pub full: Option<PsiLine>,
}

pub fn parse_pressure(bytes: &[u8]) -> Result<Pressure> {
    let mut out = Pressure::default();
    for (i, line) in text(bytes)?.lines().enumerate() {
        let n = i + 1;
        let mut f = line.split_whitespace();
        let Some(kind) = f.next() else { continue };
        let (mut avg10, mut avg60, mut avg300, mut total) = (None, None, None, None);
        for kv in f {
            let (k, v) = kv.split_once('=').ok_or_else(|| {
                ParseError::new(n, format!("expected key=value, got {}", shown(kv)))
            })?;
            let share = || -> Result<f64> {
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .ok_or_else(|| {
                        ParseError::new(n, format!("{k}: expected a share, got {}", shown(v)))
                    })
            };
            match k {
                "avg10" => avg10 = Some(share()?),
                "avg60" => avg60 = Some(share()?),
                "avg300" => avg300 = Some(share()?),
                "total" => total = Some(number(n, v)?),
                _ => {}
            }
        }
        let psi = match (avg10, avg60, avg300, total) {
            (Some(avg10), Some(avg60), Some(avg300), Some(total_us)) => PsiLine {
                avg10,
                avg60,
                avg300,
                total_us,
            },
            _ => {
                return Err(ParseError::new(
                    n,
                    "expected avg10, avg60, avg300 and total",
                ));
            }
        };
        match kind {
            "some" => out.some = Some(psi),
            "full" => out.full = Some(psi),
            _ => {}
        }
    }
    if out.some.is_none() && out.full.is_none() {
        return Err(ParseError::new(
            0,
            "not a pressure file (no some/full line)",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softirqs() {
        let s = parse_softirqs(b"          CPU0  CPU1\n  NET_RX: 10 20\n  TIMER: 1 2\n").unwrap();
        assert_eq!(s.cpus, vec![0, 1]);
        assert_eq!(s.rows["NET_RX"], vec![10, 20]);
        assert_eq!(s.per_cpu("NET_RX").unwrap()[&1], 20);
        assert!(parse_softirqs(b"CPU0 CPU1\nNET_RX: 1\n").is_err());
        assert!(parse_softirqs(b"garbage\n").is_err());
        assert!(parse_softirqs(b"").is_err());
    }

    #[test]
    fn interrupts() {
        let i = parse_interrupts(
            b"   CPU0 CPU1\n 38: 0 2495 PCI-MSIX-0000:00:03.0 1-edge virtio2-input.0\nERR: 0\nLOC: 1 2 Local timer interrupts\n",
        )
        .unwrap();
        assert_eq!(i.rows[0].counts, vec![0, 2495]);
        assert!(i.rows[0].desc.ends_with("virtio2-input.0"));
        assert!(i.rows[0].is_device());
        assert_eq!(i.rows[1].counts, vec![0]);
        assert!(!i.rows[2].is_device());
        let offline = parse_interrupts(b"  CPU0 CPU1 CPU3\n 1: 1 2 3 x\n").unwrap();
        assert_eq!(offline.cpu_ids, vec![0, 1, 3]);
        assert_eq!(offline.cpus, 3);
    }

    #[test]
    fn softnet() {
        let rows = parse_softnet(
            b"00000011 00000002 00000003 0 0 0 0 0 0 00000000 00000000 00000000 00000001\n",
        )
        .unwrap();
        assert_eq!(rows[0].dropped, 2);
        assert_eq!(rows[0].time_squeeze, 3);
        assert_eq!(rows[0].cpu(None), 1);
        // 2.6.32 layout: 10 columns, no CPU column; row 1 is the second *online* CPU.
        let old = parse_softnet(b"1 2 3 0 0 0 0 0 0 0\n1 2 3 0 0 0 0 0 0 0\n").unwrap();
        assert_eq!(old[1].cpu(None), 1);
        assert_eq!(old[1].cpu(Some(&[0, 2])), 2);
        assert_eq!(old[1].flow_limit, None);
        assert!(parse_softnet(b"zz 1 2\n").is_err());
        assert!(parse_softnet(b"").is_err());
    }

    #[test]
    fn stat_by_label_with_an_offline_cpu() {
        let s = parse_stat(
            b"cpu  10 0 5 100 1 0 2 0 0 0\ncpu0 5 0 2 50 1 0 1 0 0 0\ncpu2 5 0 3 50 0 0 1 0 0 0\nprocs_running 3\nprocs_blocked 0\n",
        )
        .unwrap();
        assert_eq!(s.cpus.iter().map(|c| c.0).collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(s.procs_running, Some(3));
        assert_eq!(s.total.unwrap().softirq, Some(2));
        // Pre-2.6.11 layout: no steal; 2.4: four fields.
        let old = parse_stat(b"cpu  1 2 3 4\ncpu0 1 2 3 4\n").unwrap();
        assert_eq!(old.total.unwrap().steal, None);
        assert!(parse_stat(b"cpu 1 2\n").is_err());
        assert!(parse_stat(b"cpu0 1 2 3 4\ncpu0 1 2 3 4\n").is_err());
        assert!(parse_stat(b"intr 0\n").is_err());
    }

    #[test]
    fn cpu_time_sums_saturate() {
        let m = u64::MAX.to_string();
        let line = format!("cpu {m} {m} {m} {m} {m} {m} {m} {m}\n");
        let s = parse_stat(line.as_bytes()).unwrap();
        assert_eq!(s.total.unwrap().total(), u64::MAX);
        assert_eq!(s.total.unwrap().busy(), 0);
    }

    #[test]
    fn pressure() {
        let p = parse_pressure(
            b"some avg10=1.50 avg60=0.00 avg300=0.00 total=1234\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=5\n",
        )
        .unwrap();
        assert_eq!(p.some.unwrap().total_us, 1234);
        assert_eq!(p.full.unwrap().total_us, 5);
        // cpu before 5.13: no full line.
        let cpu = parse_pressure(b"some avg10=0.10 avg60=2.00 avg300=3.85 total=15\n").unwrap();
        assert!(cpu.full.is_none());
        assert!(parse_pressure(b"some avg10=x avg60=0 avg300=0 total=1\n").is_err());
        assert!(parse_pressure(b"some avg10=inf avg60=0 avg300=0 total=1\n").is_err());
        assert!(parse_pressure(b"").is_err());
    }
}
