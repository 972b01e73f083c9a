//! CPU sets as the kernel writes them — lists ("0-3,8") and bitmaps ("ff,00000000") — and
//! the host's CPU topology: which CPUs are online, isolated, on which NUMA node, and which are
//! SMT siblings of one core. Spreading work over that topology follows the kernel
//! (`cpumask_local_spread`: NUMA-local CPUs first) and the NIC vendors' IRQ affinity scripts
//! (one queue per physical core before SMT siblings; never an isolated CPU).

use std::collections::{BTreeMap, BTreeSet};

use crate::host::Host;

pub type CpuSet = BTreeSet<u32>;

/// The highest CPU number accepted anywhere (the kernel's NR_CPUS tops out at 8192;
/// this leaves room without letting a typo allocate gigabytes).
pub const MAX_CPU: u32 = 65_535;

/// Parses a CPU list such as "0-3,8,10-11" (empty or whitespace: no CPU). Ranges may be
/// written with a stride as the kernel accepts them ("0-15:2" is not supported: rejected).
pub fn parse_list(text: &str) -> Result<CpuSet, String> {
    let mut set = CpuSet::new();
    let bad = || format!("{text:?} is not a CPU list (like \"0-3,8\")");
    for part in text
        .trim()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let number = |s: &str| -> Result<u32, String> {
            s.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n <= MAX_CPU)
                .ok_or_else(bad)
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (number(a)?, number(b)?);
                if a > b {
                    return Err(bad());
                }
                set.extend(a..=b);
            }
            None => {
                set.insert(number(part)?);
            }
        }
    }
    Ok(set)
}

/// The canonical list form: ascending ranges, "0-3,8".
pub fn format_list(set: &CpuSet) -> String {
    let mut parts = Vec::new();
    let mut iter = set.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end = iter.next().unwrap_or(end);
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    parts.join(",")
}

/// Parses a CPU bitmap as the kernel reads and prints it (`bitmap_parse`): comma-separated
/// groups of up to 8 hex digits, each a 32-bit word, most significant first ("ff,00000000"
/// is CPUs 32-39; "f,0" is CPUs 32-35). Leading zeros, upper case, an optional `0x` and the
/// empty string (no CPU) are accepted.
pub fn parse_mask(text: &str) -> Result<CpuSet, String> {
    let bad = |why: &str| {
        format!("{text:?} is not a hex CPU mask (like \"f\" or \"ff,00000000\"): {why}")
    };
    let trimmed = text.trim();
    let body = trimmed
        .strip_prefix("0x")
        .or_else(|| trimmed.strip_prefix("0X"))
        .unwrap_or(trimmed);
    let mut set = CpuSet::new();
    if body.is_empty() {
        return Ok(set);
    }
    let groups: Vec<&str> = body.split(',').collect();
    if groups.len() > (MAX_CPU as usize + 1) / 32 {
        return Err(bad("more CPUs than any kernel has"));
    }
    for (word, group) in groups.iter().rev().enumerate() {
        if group.is_empty() || group.len() > 8 {
            return Err(bad(
                "each comma-separated group holds 1 to 8 hex digits (32 CPUs)",
            ));
        }
        let value =
            u32::from_str_radix(group, 16).map_err(|_| bad("only hex digits and commas"))?;
        for bit in 0..32u32 {
            if value & (1 << bit) != 0 {
                set.insert(word as u32 * 32 + bit);
            }
        }
    }
    Ok(set)
}

/// The mask as the kernel takes it: 32-bit groups separated by commas, the leading group
/// without leading zeros ("3", "ff,ffffffff", "1,00000000"); "0" for no CPU. The kernel
/// refuses a group of more than 8 digits (EOVERFLOW), so a host with more than 32 CPUs needs
/// the commas.
pub fn format_mask(set: &CpuSet) -> String {
    let Some(&max) = set.iter().next_back() else {
        return "0".to_string();
    };
    let words = (max / 32 + 1) as usize;
    let mut value = vec![0u32; words];
    for cpu in set {
        value[(cpu / 32) as usize] |= 1 << (cpu % 32);
    }
    let mut out = format!("{:x}", value[words - 1]);
    for w in value[..words - 1].iter().rev() {
        out.push_str(&format!(",{w:08x}"));
    }
    out
}

/// The mask as the kernel prints it for `nr_cpu_ids` CPUs (`%*pb`): every 32-bit group,
/// zero-padded, the leading one to the digits the CPU count needs ("00000000,00000001" on a
/// 64-CPU host, "3" on a 2-CPU one), so that a value written back reads the same.
pub fn format_mask_width(set: &CpuSet, nr_cpu_ids: u32) -> String {
    let need = set
        .iter()
        .next_back()
        .map_or(0, |m| m + 1)
        .max(nr_cpu_ids)
        .max(1);
    let digits = need.div_ceil(4) as usize;
    let compact = format_mask(set).replace(',', "");
    let padded = format!("{compact:0>digits$}");
    let mut groups: Vec<&str> = Vec::new();
    let mut end = padded.len();
    while end > 0 {
        let start = end.saturating_sub(8);
        groups.push(&padded[start..end]);
        end = start;
    }
    groups.reverse();
    groups.join(",")
}

/// The number of CPU ids the kernel has room for (nr_cpu_ids): one past the highest
/// possible CPU, from /sys/devices/system/cpu/possible.
pub fn nr_cpu_ids(host: &Host) -> Option<u32> {
    let text = host.read_string("/sys/devices/system/cpu/possible").ok()?;
    parse_list(&text).ok()?.iter().next_back().map(|m| m + 1)
}

/// A mask in the form used for comparing: parsed as a bitmap and written back canonically,
/// so "00000000,0000000F", "f" and "0xf" are one value. Text that is not a mask stays as it
/// is (whitespace trimmed), so validation can say what is wrong with it.
pub fn normalize_mask(text: &str) -> String {
    match parse_mask(text) {
        Ok(set) => format_mask(&set),
        Err(_) => text.trim().to_string(),
    }
}

/// The CPUs that are online.
pub fn online(host: &Host) -> Result<CpuSet, String> {
    let text = host
        .read_string("/sys/devices/system/cpu/online")
        .map_err(|e| e.to_string())?;
    parse_list(&text)
}

/// The NUMA node a NIC reports (its device, or the parent bus device for virtio), if any.
pub fn nic_node(host: &Host, iface: &str) -> Option<u32> {
    for path in [
        format!("/sys/class/net/{iface}/device/numa_node"),
        format!("/sys/class/net/{iface}/device/../numa_node"),
    ] {
        if let Ok(Some(bytes)) = host.read_optional(&path) {
            let text = String::from_utf8_lossy(&bytes);
            // -1: no node (single-node machine or firmware did not say).
            return text
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| (0..=i64::from(MAX_CPU)).contains(n))
                .map(|n| n as u32);
        }
    }
    None
}

/// What the host's CPUs look like, read once: online, isolated from the scheduler or the
/// tick, the NUMA node of each CPU and the first SMT thread of each core.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Topology {
    pub online: CpuSet,
    /// `isolcpus` (/sys/devices/system/cpu/isolated) and `nohz_full`
    /// (/sys/devices/system/cpu/nohz_full): CPUs kept for latency-critical threads.
    pub isolated: CpuSet,
    /// NUMA node of each online CPU (from /sys/devices/system/node/nodeN/cpulist); empty on
    /// a machine without NUMA information.
    pub node_of: BTreeMap<u32, u32>,
    /// The first online thread of each online CPU's core (topology/core_cpus_list, or
    /// thread_siblings_list on kernels before 5.7); a CPU without topology is its own core.
    pub core_of: BTreeMap<u32, u32>,
    /// The online CPUs that are the first thread of their core.
    pub primary: CpuSet,
}

impl Topology {
    /// Reads the topology through the Host; missing files mean "no information" (every CPU
    /// its own core, no NUMA node, nothing isolated), never an error. Only the online list
    /// is required.
    pub fn read(host: &Host) -> Result<Topology, String> {
        let online = online(host)?;
        if online.is_empty() {
            return Err("no CPU is online (/sys/devices/system/cpu/online is empty)".into());
        }
        let list = |path: &str| {
            host.read_optional(path)
                .ok()
                .flatten()
                .and_then(|b| parse_list(&String::from_utf8_lossy(&b)).ok())
                .unwrap_or_default()
        };
        let mut isolated = list("/sys/devices/system/cpu/isolated");
        isolated.extend(list("/sys/devices/system/cpu/nohz_full"));
        let mut node_of = BTreeMap::new();
        for name in host
            .list_dir("/sys/devices/system/node")
            .unwrap_or_default()
        {
            let Some(node) = name
                .strip_prefix("node")
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            for cpu in list(&format!("/sys/devices/system/node/{name}/cpulist")) {
                node_of.insert(cpu, node);
            }
        }
        let mut core_of = BTreeMap::new();
        for &cpu in &online {
            let dir = format!("/sys/devices/system/cpu/cpu{cpu}/topology");
            let mut siblings = list(&format!("{dir}/core_cpus_list"));
            if siblings.is_empty() {
                siblings = list(&format!("{dir}/thread_siblings_list"));
            }
            let first = siblings
                .intersection(&online)
                .next()
                .copied()
                .unwrap_or(cpu);
            core_of.insert(cpu, first);
        }
        let primary = core_of
            .iter()
            .filter(|(cpu, first)| cpu == first)
            .map(|(cpu, _)| *cpu)
            .collect();
        Ok(Topology {
            online,
            isolated,
            node_of,
            core_of,
            primary,
        })
    }

    /// Online CPUs that are not isolated; every online CPU when all are isolated (a
    /// misconfiguration, but then the kernel itself runs everything there).
    pub fn usable(&self) -> CpuSet {
        let usable: CpuSet = self.online.difference(&self.isolated).copied().collect();
        if usable.is_empty() {
            self.online.clone()
        } else {
            usable
        }
    }

    /// The usable CPUs of `node`, or every usable CPU when the node is unknown or has none.
    pub fn local(&self, node: Option<u32>) -> CpuSet {
        let usable = self.usable();
        let local: CpuSet = match node {
            Some(n) => usable
                .iter()
                .copied()
                .filter(|c| self.node_of.get(c) == Some(&n))
                .collect(),
            None => CpuSet::new(),
        };
        if local.is_empty() { usable } else { local }
    }

    /// The order in which queues take CPUs: usable CPUs of the NIC's node first (one thread
    /// per core, then the SMT siblings), then the other nodes' the same way. Isolated CPUs
    /// never appear.
    pub fn spread_order(&self, node: Option<u32>) -> Vec<u32> {
        let usable = self.usable();
        let local = self.local(node);
        let mut order = Vec::with_capacity(usable.len());
        for pool in [&local, &usable.difference(&local).copied().collect()] {
            order.extend(pool.iter().copied().filter(|c| self.primary.contains(c)));
            order.extend(pool.iter().copied().filter(|c| !self.primary.contains(c)));
        }
        order
    }

    /// Physical cores (first threads) among the usable CPUs of `node`.
    pub fn local_cores(&self, node: Option<u32>) -> usize {
        self.local(node)
            .iter()
            .filter(|c| self.primary.contains(c))
            .count()
    }

    /// Usable CPUs on the same node as `cpu` (all usable CPUs when nodes are unknown).
    pub fn same_node(&self, cpu: u32) -> CpuSet {
        self.local(self.node_of.get(&cpu).copied())
    }

    /// Per-queue transmit CPU sets (XPS) around the CPUs that take each queue's interrupt
    /// (`irq_cpus[i]` for tx queue i): every usable CPU maps onto exactly one queue — its
    /// own, else the queue whose interrupt CPU shares its core, else one on its NUMA node,
    /// else any, the least loaded first (Documentation/networking/scaling.rst, "XPS:
    /// suggested configuration").
    pub fn xps_sets(&self, irq_cpus: &[u32]) -> Vec<CpuSet> {
        let mut sets: Vec<CpuSet> = irq_cpus
            .iter()
            .map(|c| [*c].into_iter().collect())
            .collect();
        if sets.is_empty() {
            return sets;
        }
        let taken: CpuSet = irq_cpus.iter().copied().collect();
        for cpu in self.usable().difference(&taken) {
            let core = self.core_of.get(cpu);
            let node = self.node_of.get(cpu);
            let pick = |same: &dyn Fn(u32) -> bool, sets: &[CpuSet]| {
                (0..irq_cpus.len())
                    .filter(|i| same(irq_cpus[*i]))
                    .min_by_key(|i| (sets[*i].len(), *i))
            };
            let i = pick(&|c| core.is_some() && self.core_of.get(&c) == core, &sets)
                .or_else(|| pick(&|c| node.is_some() && self.node_of.get(&c) == node, &sets))
                .or_else(|| pick(&|_| true, &sets));
            if let Some(i) = i {
                sets[i].insert(*cpu);
            }
        }
        sets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip_canonically() {
        let set = parse_list("8,0-3, 10-11\n").unwrap();
        assert_eq!(format_list(&set), "0-3,8,10-11");
        assert!(parse_list("3-1").is_err());
        assert!(parse_list("a").is_err());
        assert!(parse_list("99999999").is_err(), "beyond any kernel");
        assert!(parse_list("").unwrap().is_empty());
    }

    #[test]
    fn masks_are_bitmaps_in_32_bit_groups() {
        // The kernel's grouping, leading zeros, upper case, 0x.
        let set = parse_mask("00000001,00000003").unwrap();
        assert_eq!(format_list(&set), "0-1,32");
        assert_eq!(format_mask(&set), "1,00000003");
        // A short group in a low position is a whole 32-bit word, not 4 bits.
        assert_eq!(format_list(&parse_mask("f,0").unwrap()), "32-35");
        assert_eq!(parse_mask("0xF").unwrap(), parse_mask("0000000f").unwrap());
        // "0" and the empty string: no CPU.
        assert!(parse_mask("0").unwrap().is_empty());
        assert!(parse_mask("00000000,00000000").unwrap().is_empty());
        assert!(parse_mask("").unwrap().is_empty());
        assert_eq!(format_mask(&CpuSet::new()), "0");
        for bad in ["xyz", "123456789", "f,,0", "f,"] {
            assert!(parse_mask(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn masks_for_33_64_and_1024_plus_cpus() {
        let cpus = |n: u32| (0..n).collect::<CpuSet>();
        assert_eq!(format_mask(&cpus(33)), "1,ffffffff");
        assert_eq!(format_mask(&cpus(64)), "ffffffff,ffffffff");
        assert_eq!(format_mask(&cpus(40)), "ff,ffffffff");
        let big = cpus(1040);
        let text = format_mask(&big);
        assert_eq!(text.split(',').count(), 33);
        assert!(text.split(',').all(|g| g.len() <= 8));
        assert_eq!(parse_mask(&text).unwrap(), big);
        let high: CpuSet = [1027].into_iter().collect();
        assert_eq!(parse_mask(&format_mask(&high)).unwrap(), high);
    }

    #[test]
    fn masks_are_written_as_wide_as_the_kernel_prints_them() {
        let one: CpuSet = [0].into_iter().collect();
        assert_eq!(format_mask_width(&one, 64), "00000000,00000001");
        assert_eq!(format_mask_width(&one, 2), "1");
        assert_eq!(format_mask_width(&one, 8), "01");
        assert_eq!(format_mask_width(&CpuSet::new(), 16), "0000");
        assert_eq!(format_mask_width(&(0..40).collect(), 40), "ff,ffffffff");
        let high: CpuSet = [35].into_iter().collect();
        assert_eq!(
            format_mask_width(&high, 4),
            "8,00000000",
            "never narrower than the set"
        );
        assert_eq!(parse_mask(&format_mask_width(&one, 1024)).unwrap(), one);
    }

    #[test]
    fn masks_compare_as_bitmaps() {
        assert_eq!(normalize_mask("00000000,0000000F\n"), "f");
        assert_eq!(normalize_mask("00000000"), "0");
        assert_eq!(normalize_mask("0"), normalize_mask(""));
        assert_eq!(normalize_mask("ff"), normalize_mask("000000ff"));
        assert_eq!(
            normalize_mask("00000000,00000000,000000ff,ffffffff"),
            "ff,ffffffff"
        );
    }

    /// 2 nodes, 4 cores each with 2 threads (siblings n and n+8), CPU 3 and its sibling
    /// 11 isolated.
    fn two_sockets() -> Topology {
        let mut node_of = BTreeMap::new();
        for c in (0..4).chain(8..12) {
            node_of.insert(c, 0);
        }
        for c in (4..8).chain(12..16) {
            node_of.insert(c, 1);
        }
        Topology {
            online: (0..16).collect(),
            isolated: [3, 11].into_iter().collect(),
            node_of,
            core_of: (0..16).map(|c| (c, c % 8)).collect(),
            primary: (0..8).collect(),
        }
    }

    #[test]
    fn every_usable_cpu_transmits_on_one_queue_near_its_interrupt() {
        let t = two_sockets();
        // Two queues with interrupts on CPUs 4 and 5 (node 1).
        let sets = t.xps_sets(&[4, 5]);
        assert!(sets[0].contains(&4) && sets[1].contains(&5));
        assert!(
            sets[0].contains(&12),
            "the SMT sibling of 4 shares its queue"
        );
        assert!(sets[1].contains(&13));
        let all: CpuSet = sets.iter().flatten().copied().collect();
        assert_eq!(all, t.usable(), "each usable CPU once");
        assert_eq!(sets[0].len() + sets[1].len(), t.usable().len());
        assert!(!all.contains(&3), "never an isolated CPU");
    }

    #[test]
    fn spread_takes_local_cores_then_siblings_then_remote_never_isolated() {
        let t = two_sockets();
        assert_eq!(
            t.spread_order(Some(1)),
            [4, 5, 6, 7, 12, 13, 14, 15, 0, 1, 2, 8, 9, 10]
        );
        assert_eq!(t.spread_order(None)[..7], [0, 1, 2, 4, 5, 6, 7]);
        assert_eq!(t.local_cores(Some(0)), 3);
        assert_eq!(format_list(&t.same_node(5)), "4-7,12-15");
        // Everything isolated: the kernel runs everything there anyway.
        let mut all = t.clone();
        all.isolated = all.online.clone();
        assert_eq!(all.usable(), all.online);
    }
}
