//! Which interfaces a profile means (name, glob, driver, default route), and what belongs to
//! an interface: its queues and its interrupts. Everything is read through the Host.

use std::fmt;
use std::sync::Arc;

use crate::host::{Host, InterruptLine};

/// How a profile names interfaces: the key of an entry under `network.interfaces`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Selector {
    /// Exactly this interface, virtual or not; it must exist.
    Name(String),
    /// Physical interfaces whose name matches (`*`, `?`, `[a-z]`).
    Glob(String),
    /// Physical interfaces bound to this driver (`driver:ixgbe`).
    Driver(String),
    /// The interface(s) carrying the default route.
    DefaultRoute,
}

impl Selector {
    pub fn parse(key: &str) -> Result<Self, String> {
        if key == "default-route" {
            return Ok(Selector::DefaultRoute);
        }
        if let Some(driver) = key.strip_prefix("driver:") {
            if driver.is_empty() || driver.contains('/') {
                return Err(format!(
                    "{key:?}: name a driver after \"driver:\", e.g. driver:ixgbe"
                ));
            }
            return Ok(Selector::Driver(driver.to_string()));
        }
        let valid = !key.is_empty()
            && key.len() <= 15
            && key != "."
            && key != ".."
            && !key.contains(['/', ':'])
            && !key.contains(char::is_whitespace);
        if !valid {
            return Err(format!(
                "{key:?} is not an interface selector: use a name (eth0), a glob (\"en*\"), driver:NAME or default-route"
            ));
        }
        if key.contains(['*', '?', '[']) {
            Ok(Selector::Glob(key.to_string()))
        } else {
            Ok(Selector::Name(key.to_string()))
        }
    }

    /// The interfaces this selector picks on `host`, with notes on what it skipped. A name
    /// is looked up directly; the other selectors go through the run's one listing.
    pub fn resolve(&self, host: &Host) -> Result<(Vec<String>, Vec<String>), String> {
        let mut notes = Vec::new();
        let picked: Vec<String> = match self {
            Selector::Name(name) => {
                if !exists(host, name) {
                    return Err(format!(
                        "no interface named {name} (this host has: {})",
                        list(host)?.join(", ")
                    ));
                }
                vec![name.clone()]
            }
            Selector::Glob(pattern) => {
                let matched: Vec<String> = list(host)?
                    .iter()
                    .filter(|i| glob(pattern, i))
                    .cloned()
                    .collect();
                physical_only(host, matched, &mut notes)
            }
            Selector::Driver(driver) => list(host)?
                .iter()
                .filter(|i| driver_of(host, i).as_deref() == Some(driver.as_str()))
                .cloned()
                .collect(),
            Selector::DefaultRoute => physical_only(host, default_route(host)?, &mut notes),
        };
        if picked.is_empty() {
            let why = match self {
                Selector::DefaultRoute => {
                    " (no default route here, or it leaves through a virtual interface, as in a network namespace or container)"
                }
                _ => "",
            };
            notes.push(format!(
                "{self} matches no physical interface on this host{why}: the profile's settings for it are left out"
            ));
        }
        Ok((picked, notes))
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Name(n) | Selector::Glob(n) => f.write_str(n),
            Selector::Driver(d) => write!(f, "driver:{d}"),
            Selector::DefaultRoute => f.write_str("default-route"),
        }
    }
}

fn physical_only(host: &Host, ifaces: Vec<String>, notes: &mut Vec<String>) -> Vec<String> {
    let (physical, virt): (Vec<String>, Vec<String>) =
        ifaces.into_iter().partition(|i| is_physical(host, i));
    for v in virt {
        notes.push(format!(
            "{v} is a virtual device (no /sys/class/net/{v}/device); skipped, name it explicitly to tune it"
        ));
    }
    physical
}

/// Interface names on the host, sorted; listed once per run (the Host's network cache).
pub fn list(host: &Host) -> Result<Arc<Vec<String>>, String> {
    if let Some(names) = &host.net_cache().interfaces {
        return Ok(Arc::clone(names));
    }
    let names: Arc<Vec<String>> = Arc::new(
        host.list_dir("/sys/class/net")
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|n| n != "bonding_masters")
            .collect(),
    );
    host.net_cache().interfaces = Some(Arc::clone(&names));
    Ok(names)
}

pub fn exists(host: &Host, iface: &str) -> bool {
    host.exists(format!("/sys/class/net/{iface}"))
}

/// Backed by a device (PCI, virtio, ...) rather than purely virtual (veth, bridge, lo).
pub fn is_physical(host: &Host, iface: &str) -> bool {
    host.exists(format!("/sys/class/net/{iface}/device"))
}

pub fn driver_of(host: &Host, iface: &str) -> Option<String> {
    host.read_link(format!("/sys/class/net/{iface}/device/driver"))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
}

/// Interfaces with a default route (destination and mask 0) in /proc/net/route.
pub fn default_route(host: &Host) -> Result<Vec<String>, String> {
    // No routing table (a capture without it): no default route, reported as no match.
    let Some(bytes) = host
        .read_optional("/proc/net/route")
        .map_err(|e| e.to_string())?
    else {
        return Ok(Vec::new());
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut out: Vec<String> = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() >= 8
            && f[1] == "00000000"
            && f[7] == "00000000"
            && !out.iter().any(|i| i == f[0])
        {
            out.push(f[0].to_string());
        }
    }
    Ok(out)
}

/// Queue indexes of `iface` with prefix "rx" or "tx", ascending.
pub fn queues(host: &Host, iface: &str, prefix: &str) -> Vec<u32> {
    let (rx, tx) = rx_tx_queues(host, iface);
    if prefix == "rx" { rx } else { tx }
}

/// The rx and the tx queue indexes of `iface`, ascending, from one listing.
pub fn rx_tx_queues(host: &Host, iface: &str) -> (Vec<u32>, Vec<u32>) {
    let names = host
        .list_dir(format!("/sys/class/net/{iface}/queues"))
        .unwrap_or_default();
    let pick = |prefix: &str| {
        let mut q: Vec<u32> = names
            .iter()
            .filter_map(|n| n.strip_prefix(prefix)?.strip_prefix('-')?.parse().ok())
            .collect();
        q.sort_unstable();
        q
    };
    (pick("rx"), pick("tx"))
}

/// What a queue interrupt serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Rx,
    Tx,
    /// One vector for a queue pair (`TxRx`, `Tx-Rx`, mlx5 `comp`), or unknown.
    Combined,
}

/// One interrupt vector of a NIC's queues.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueIrq {
    pub irq: u32,
    /// The action name in /proc/interrupts ("eth0-TxRx-3"); empty when it lists none.
    pub name: String,
    /// The queue it serves, from the number in its name; `None` for a single vector that
    /// serves the whole device ("eth0").
    pub queue: Option<u32>,
    pub role: Role,
}

/// The interrupts of `iface`'s queues, ascending by IRQ. Found from the MSI vectors of its
/// device (or the bus device above a virtio device) and from every /proc/interrupts line
/// whose action names the interface, its device (virtioN, a PCI address as in
/// `mlx5_comp0@pci:0000:81:00.0`) or its Xen vif (`vif0-q0-tx`) — whatever the layout before
/// the name. Control vectors (config, async, misc, mailbox, link state, error, management)
/// are left out; when some vectors name a queue, a vector without a queue number is the
/// device's "other" vector (ixgbe's plain "eth0") and is left out too.
pub fn queue_irqs(host: &Host, iface: &str) -> Vec<QueueIrq> {
    let device = host
        .read_link(format!("/sys/class/net/{iface}/device"))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    let mut msi: Vec<u32> = Vec::new();
    for dir in [
        format!("/sys/class/net/{iface}/device/msi_irqs"),
        format!("/sys/class/net/{iface}/device/../msi_irqs"),
    ] {
        msi.extend(
            host.list_dir(&dir)
                .unwrap_or_default()
                .iter()
                .filter_map(|n| n.parse::<u32>().ok()),
        );
    }
    // Xen netfront names its queues after the vif's xenstore id: device/vif/0 -> "vif0".
    let vif = host
        .read_string(format!("/sys/class/net/{iface}/device/nodename"))
        .ok()
        .and_then(|n| n.trim().rsplit('/').next().map(|id| format!("vif{id}")));
    // The PCI function under the device (itself, or the one a virtio device sits on): the
    // last PCI address in /sys/class/net/IF's link into /sys/devices.
    let parent_pci = host
        .read_link(format!("/sys/class/net/{iface}"))
        .ok()
        .and_then(|p| {
            p.components()
                .filter_map(|c| c.as_os_str().to_str().map(str::to_string))
                .rfind(|n| is_pci_address(n))
        });
    let mut prefixes: Vec<&str> = vec![iface];
    prefixes.extend(device.as_deref());
    prefixes.extend(vif.as_deref());
    let addresses: Vec<&str> = parent_pci.as_deref().into_iter().collect();
    // Where the owner's name ends in an action name: "eth0-TxRx-0", "virtio2-input.0",
    // "vif0-q0-tx", Intel's "i40e-eth0-TxRx-0"; 0 for a name that carries the PCI address
    // ("mlx5_comp0@pci:0000:81:00.0").
    let owner = |name: &str| -> Option<usize> {
        let boundary = |rest: &str| rest.is_empty() || rest.starts_with(['-', '@', '_', ':', '.']);
        prefixes
            .iter()
            .filter(|p| name.strip_prefix(**p).is_some_and(boundary))
            .map(|p| p.len())
            .max()
            .or_else(|| {
                let infix = format!("-{iface}-");
                name.find(&infix).map(|at| at + infix.len() - 1)
            })
            .or_else(|| addresses.iter().any(|a| name.contains(a)).then_some(0))
    };
    let mut found: Vec<(QueueIrq, bool)> = Vec::new();
    let lines = interrupt_lines(host);
    for (irq, chip, names) in lines.iter() {
        let chip_is_ours = addresses.iter().any(|a| chip.contains(a));
        let mut matched = false;
        for name in names {
            if let Some(skip) = owner(name) {
                found.push(classify(*irq, name, skip));
                matched = true;
            }
        }
        if !matched && (chip_is_ours || msi.contains(irq)) {
            let name = names.first().map(String::as_str).unwrap_or("");
            found.push(classify(*irq, name, owner(name).unwrap_or(0)));
        }
    }
    for irq in msi {
        if !lines.iter().any(|(i, _, _)| *i == irq) {
            found.push((
                QueueIrq {
                    irq,
                    name: String::new(),
                    queue: None,
                    role: Role::Combined,
                },
                false,
            ));
        }
    }
    found.sort_by_key(|(q, _)| q.irq);
    found.dedup_by_key(|(q, _)| q.irq);
    let mut queues: Vec<QueueIrq> = found
        .into_iter()
        .filter(|(_, control)| !control)
        .map(|(q, _)| q)
        .collect();
    if queues.iter().any(|q| q.queue.is_some()) {
        queues.retain(|q| q.queue.is_some());
    }
    queues
}

fn is_pci_address(name: &str) -> bool {
    // dddd:bb:dd.f
    let b = name.as_bytes();
    b.len() == 12 && b[4] == b':' && b[7] == b':' && b[10] == b'.'
}

/// Queue number and role from an action name, after the `skip` bytes that name its owner,
/// and whether it is a control vector.
fn classify(irq: u32, name: &str, skip: usize) -> (QueueIrq, bool) {
    let rest = name.get(skip..).unwrap_or("");
    let control = is_control(rest);
    // "mlx5_comp3@pci:0000:81:00.0": what follows '@' is the device, not the queue.
    let rest = rest.split('@').next().unwrap_or("");
    let lower = rest.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let stem = |w: &str| w.trim_end_matches(|c: char| c.is_ascii_digit()).to_string();
    let has = |k: &str| words.iter().any(|w| stem(w) == k);
    let role = if has("txrx") || has("rxtx") || (has("tx") && has("rx")) {
        Role::Combined
    } else if has("rx") || has("input") {
        Role::Rx
    } else if has("tx") || has("output") {
        Role::Tx
    } else {
        Role::Combined
    };
    // The last number in what remains is the queue ("-TxRx-3", "-input.3", "-q3-tx",
    // "mlx5_comp3").
    let queue = lower
        .rsplit(|c: char| !c.is_ascii_digit())
        .find(|d| !d.is_empty())
        .and_then(|d| d.parse::<u32>().ok());
    (
        QueueIrq {
            irq,
            name: name.to_string(),
            queue,
            role,
        },
        control,
    )
}

/// Configuration, mailbox, link-state, error and management vectors of NIC drivers
/// (virtio `-config`, mlx5 `_async`/`_pages`/`_cmd`, Intel `-misc`/`-mbx`/`-lsc`, ENA
/// `-mgmnt`, enic `-err`, ...): they carry no packets.
fn is_control(name: &str) -> bool {
    const CONTROL: &[&str] = &[
        "config", "async", "lsc", "mbx", "misc", "mgmnt", "mgmt", "ctrl", "ctrlq", "err", "error",
        "pages", "cmd", "adminq", "aeq", "fw", "other", "event", "unused",
    ];
    name.split('@')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .map(|w| w.trim_end_matches(|c: char| c.is_ascii_digit()))
        .any(|w| CONTROL.contains(&w))
}

/// (irq, chip, action names) of the numbered lines of /proc/interrupts, for every layout
/// the kernel has printed: one word before the names on old kernels (`PCI-MSI-edge eth0`,
/// `xen-dyn-event eth0`), chip and hwirq-trigger on x86 since 3.19 (`IR-PCI-MSI
/// 409600-edge enp0s25`), chip, hwirq and trigger on arm64 (`ITS-MSI 81921 Edge
/// eth0-Tx-Rx-0`), and the split Xen chip (`xen-dyn -event vif0-q0-tx`). Shared IRQs list
/// several names separated by ", ".
/// Read once per run (the Host's network cache).
pub fn interrupt_lines(host: &Host) -> Arc<Vec<InterruptLine>> {
    if let Some(lines) = &host.net_cache().interrupts {
        return Arc::clone(lines);
    }
    let lines: Arc<Vec<(u32, String, Vec<String>)>> = Arc::new(
        host.read("/proc/interrupts")
            .ok()
            .and_then(|bytes| crate::parse::parse_interrupts(&bytes).ok())
            .map(|table| {
                table
                    .rows
                    .iter()
                    .filter_map(|row| {
                        let irq = row.id.parse::<u32>().ok()?;
                        let (chip, names) = split_description(&row.desc);
                        Some((irq, chip, names))
                    })
                    .collect()
            })
            .unwrap_or_default(),
    );
    host.net_cache().interrupts = Some(Arc::clone(&lines));
    lines
}

/// The chip and the action names of a /proc/interrupts description (what follows the
/// per-CPU counts).
pub fn split_description(desc: &str) -> (String, Vec<String>) {
    let words: Vec<&str> = desc.split_whitespace().collect();
    let Some(chip) = words.first() else {
        return (String::new(), Vec::new());
    };
    let is_trigger = |w: &str| {
        matches!(
            w.to_ascii_lowercase().as_str(),
            "edge" | "level" | "fasteoi" | "simple" | "none" | "percpu" | "eoi"
        )
    };
    let mut i = 1;
    if let Some(w) = words.get(i) {
        if w.bytes().all(|b| b.is_ascii_digit()) {
            // hwirq, then maybe the trigger: "ITS-MSI 81921 Edge", "GICv3 27 Level".
            i += 1;
            if words.get(i).is_some_and(|w| is_trigger(w)) {
                i += 1;
            }
        } else if w.starts_with('-')
            || w.split_once('-').is_some_and(|(n, t)| {
                n.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty() && is_trigger(t)
            })
        {
            // "xen-dyn -event", or hwirq-trigger: "409600-edge", "1-edge".
            i += 1;
        }
    }
    let rest = words.get(i..).map(|w| w.join(" ")).unwrap_or_default();
    let names = rest
        .split(", ")
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    (chip.to_string(), names)
}

/// Is an irqbalance daemon running? It rewrites IRQ affinity every few seconds. Looked up
/// without reading every process: the socket irqbalance (1.4 and later) keeps in
/// /run/irqbalance/irqbalance<PID>.sock, or the systemd unit's cgroup. With `thorough`
/// (apply and plan, not check) every process's name is read as a last resort, for
/// daemons started some other way.
pub fn irqbalance_running(host: &Host, thorough: bool) -> bool {
    let is_irqbalance = |pid: u32| host.comm(pid).is_some_and(|c| c == "irqbalance");
    let by_socket = host
        .list_dir("/run/irqbalance")
        .unwrap_or_default()
        .iter()
        .filter_map(|n| {
            n.strip_prefix("irqbalance")?
                .strip_suffix(".sock")?
                .parse()
                .ok()
        })
        .any(is_irqbalance);
    if by_socket {
        return true;
    }
    let unit = "system.slice/irqbalance.service/cgroup.procs";
    for cgroup in [
        "/sys/fs/cgroup",
        "/sys/fs/cgroup/unified",
        "/sys/fs/cgroup/systemd",
    ] {
        if let Ok(Some(procs)) = host.read_optional(format!("{cgroup}/{unit}"))
            && String::from_utf8_lossy(&procs)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .any(is_irqbalance)
        {
            return true;
        }
    }
    thorough
        && host
            .pids()
            .unwrap_or_default()
            .into_iter()
            .any(is_irqbalance)
}

/// Shell-style matching of `*`, `?` and `[...]` (with ranges and `!` negation).
pub fn glob(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|i| go(&p[1..], &n[i..])),
            Some('?') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some('[') => {
                let Some(close) = p.iter().skip(2).position(|c| *c == ']').map(|i| i + 2) else {
                    return n.first() == Some(&'[') && go(&p[1..], &n[1..]);
                };
                let Some(&c) = n.first() else { return false };
                let (negate, set) = match p[1] {
                    '!' | '^' => (true, &p[2..close]),
                    _ => (false, &p[1..close]),
                };
                let mut hit = false;
                let mut i = 0;
                while i < set.len() {
                    if i + 2 < set.len() && set[i + 1] == '-' {
                        hit |= set[i] <= c && c <= set[i + 2];
                        i += 3;
                    } else {
                        hit |= set[i] == c;
                        i += 1;
                    }
                }
                hit != negate && go(&p[close + 1..], &n[1..])
            }
            Some(c) => n.first() == Some(c) && go(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_by_shape() {
        assert_eq!(
            Selector::parse("eth0").unwrap(),
            Selector::Name("eth0".into())
        );
        assert_eq!(
            Selector::parse("en*").unwrap(),
            Selector::Glob("en*".into())
        );
        assert_eq!(
            Selector::parse("driver:ixgbe").unwrap(),
            Selector::Driver("ixgbe".into())
        );
        assert_eq!(
            Selector::parse("default-route").unwrap(),
            Selector::DefaultRoute
        );
        for bad in [
            "",
            "../etc",
            "a/b",
            "driver:",
            "waytoolonginterfacename",
            "x y",
        ] {
            assert!(Selector::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn descriptions_of_every_layout_give_the_action_names() {
        let cases = [
            ("PCI-MSI-edge      eth0-rx-0", "PCI-MSI-edge", "eth0-rx-0"),
            ("IR-PCI-MSI-edge      eth0", "IR-PCI-MSI-edge", "eth0"),
            (
                "IR-PCI-MSI 409600-edge      enp0s25",
                "IR-PCI-MSI",
                "enp0s25",
            ),
            (
                "ITS-MSI 81921 Edge      eth0-Tx-Rx-0",
                "ITS-MSI",
                "eth0-Tx-Rx-0",
            ),
            ("GICv3  27 Level     arch_timer", "GICv3", "arch_timer"),
            ("xen-dyn    -event     vif0-q0-tx", "xen-dyn", "vif0-q0-tx"),
            (
                "xen-dyn-event     eth0-q0-tx",
                "xen-dyn-event",
                "eth0-q0-tx",
            ),
            (
                "PCI-MSIX-0000:00:03.0   1-edge      virtio2-input.0",
                "PCI-MSIX-0000:00:03.0",
                "virtio2-input.0",
            ),
            ("IR-PCI-MSI 524288-edge", "IR-PCI-MSI", ""),
        ];
        for (desc, chip, name) in cases {
            let (c, names) = split_description(desc);
            assert_eq!(c, chip, "{desc}");
            assert_eq!(
                names.first().map(String::as_str).unwrap_or(""),
                name,
                "{desc}"
            );
        }
        let (_, shared) = split_description("IR-IO-APIC  16-fasteoi   ehci_hcd:usb1, mmc0");
        assert_eq!(shared, ["ehci_hcd:usb1", "mmc0"]);
        let (_, spaced) = split_description("PCI-MSI 458752-edge      PCIe PME, aerdrv");
        assert_eq!(spaced, ["PCIe PME", "aerdrv"]);
    }

    #[test]
    fn vectors_are_classified_by_queue_and_role() {
        let c = |name: &str, skip: usize| {
            let (q, control) = classify(1, name, skip);
            assert!(!control, "{name}");
            (q.queue, q.role)
        };
        assert_eq!(c("eth0-TxRx-3", 4), (Some(3), Role::Combined));
        assert_eq!(c("eth0-Tx-Rx-7", 4), (Some(7), Role::Combined));
        assert_eq!(c("eth0-rx-2", 4), (Some(2), Role::Rx));
        assert_eq!(c("eth0-tx-2", 4), (Some(2), Role::Tx));
        assert_eq!(c("virtio2-input.5", 7), (Some(5), Role::Rx));
        assert_eq!(c("virtio2-output.5", 7), (Some(5), Role::Tx));
        assert_eq!(c("vif0-q3-rx", 4), (Some(3), Role::Rx));
        assert_eq!(
            c("mlx5_comp12@pci:0000:81:00.0", 0),
            (Some(12), Role::Combined)
        );
        assert_eq!(c("i40e-eth0-TxRx-1", 0), (Some(1), Role::Combined));
        assert_eq!(c("eth0", 4), (None, Role::Combined));
        for control in [
            "virtio2-config",
            "mlx5_async0@pci:0000:81:00.0",
            "mlx5_pages_eq@pci:0000:81:00.0",
            "ena-mgmnt@pci:0000:00:05.0",
            "i40e-0000:3b:00.0:misc",
            "eth0-lsc",
            "enic-err",
        ] {
            assert!(is_control(control), "{control}");
        }
        for queue in ["-TxRx-0", "mlx5_comp0@pci:0000:81:00.0", "-q0-tx", ""] {
            assert!(!is_control(queue), "{queue}");
        }
        // The owner's name is not read for control words: an interface called mgmt0.
        assert!(!classify(1, "mgmt0-TxRx-0", 5).1);
    }

    #[test]
    fn globs_match_like_the_shell() {
        assert!(glob("en*", "enp3s0"));
        assert!(glob("eth?", "eth1"));
        assert!(!glob("eth?", "eth10"));
        assert!(glob("eth[0-2]", "eth2"));
        assert!(!glob("eth[!0-2]", "eth2"));
        assert!(!glob("en*", "eth0"));
    }
}
