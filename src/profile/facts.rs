//! What a host is, read once through the Host seam: virtualization and containers, kernel
//! release, online CPUs, NUMA nodes, memory, systemd, and the NICs with their drivers and
//! queues. Profile conditions (`when:`) and `hostperf recommend` decide from these facts, so
//! a fixture root answers from its files exactly as a live host does.
//!
//! A fact the host does not show is `None` (or empty), never a guess: a condition on an
//! unknown fact is not met, and says so.
//!
//! Virtualization follows systemd-detect-virt (systemd `src/basic/virt.c` @
//! 0099e5589762f2ef72d9c69b7e7032138d410979): the x86 CPUID hypervisor bit (the `hypervisor`
//! flag of /proc/cpuinfo), /proc/device-tree/hypervisor/compatible on arm, the DMI vendor
//! table (product_name, sys_vendor, board_vendor, bios_vendor, product_version; `Amazon EC2`
//! with a `.metal` product is bare metal), and Xen's /sys/hypervisor/type (dom0, with
//! `control_d` in /proc/xen/capabilities, is not a guest). Containers are told by the
//! markers their managers leave in the file system: /run/systemd/container (systemd-nspawn
//! and others, holding the manager's name), /.dockerenv (Docker) and /run/.containerenv
//! (Podman). PID 1's environment is not read.

use schemars::JsonSchema;
use serde::Serialize;

use crate::host::Host;

/// The facts of one host.
#[derive(Clone, Debug, Default, PartialEq, Serialize, JsonSchema)]
pub struct HostFacts {
    /// The hypervisor this host runs under, with the evidence; `None` when none is seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guest: Option<Evidence>,
    /// The container manager this host runs under, with the evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<Evidence>,
    /// Whether anything about virtualization could be read at all (/proc/cpuinfo, DMI,
    /// device tree, /sys/hypervisor). A bare capture of /proc/sys cannot say "none".
    pub virtualization_known: bool,
    /// /proc/sys/kernel/osrelease, e.g. `6.18.44-fc-v657`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_release: Option<String>,
    /// Online CPUs (/sys/devices/system/cpu/online).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<u32>,
    /// NUMA nodes with CPUs or memory (/sys/devices/system/node/online, else the nodeN
    /// directories).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numa_nodes: Option<u32>,
    /// MemTotal of /proc/meminfo, bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// systemd is the service manager (/run/systemd/system exists, as sd_booted(3) tests).
    pub systemd: bool,
    /// Network interfaces backed by a device (not lo, bridges or veths).
    pub nics: Vec<Nic>,
}

/// What was found and where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Evidence {
    /// kvm, xen, amazon, vmware, docker, podman, ... (`vm-other` when unnamed).
    pub kind: String,
    /// The file that said so, e.g. `/proc/cpuinfo flags: hypervisor`.
    pub source: String,
}

/// One network interface with a device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Nic {
    pub name: String,
    /// The bound driver (/sys/class/net/IF/device/driver).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    pub rx_queues: u32,
    pub tx_queues: u32,
    /// Link speed in Mb/s (/sys/class/net/IF/speed); absent when down or unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed_mbps: Option<u32>,
    /// Carries the default route.
    pub default_route: bool,
}

/// A kernel version as numbers, from a release such as `5.15.0-126-generic`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
pub struct KernelVersion(pub u32, pub u32, pub u32);

impl KernelVersion {
    /// The leading `MAJOR.MINOR[.PATCH]` of a release or version text; `None` when it does
    /// not start with two numbers.
    pub fn parse(text: &str) -> Option<KernelVersion> {
        let mut parts = text.trim().split(['.', '-', '+', '_', ' ']);
        let mut number = |required: bool| -> Option<u32> {
            let part = parts.next()?;
            let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
            match digits.parse::<u32>() {
                Ok(n) => Some(n),
                Err(_) if !required => Some(0),
                Err(_) => None,
            }
        };
        let major = number(true)?;
        let minor = number(true)?;
        let patch = number(false).unwrap_or(0);
        Some(KernelVersion(major, minor, patch))
    }
}

impl std::fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

impl HostFacts {
    /// The facts of a 2-socket bare-metal server (64 CPUs, an mlx5 NIC at 25 Gb/s, Linux
    /// 5.15, 512 GiB), for the tests of what decides from facts.
    #[cfg(test)]
    pub fn example_server() -> HostFacts {
        HostFacts {
            virtualization_known: true,
            kernel_release: Some("5.15.0-126-generic".into()),
            cpus: Some(64),
            numa_nodes: Some(2),
            memory_bytes: Some(512 << 30),
            systemd: true,
            nics: vec![Nic {
                name: "eth2".into(),
                driver: Some("mlx5_core".into()),
                rx_queues: 16,
                tx_queues: 16,
                speed_mbps: Some(25000),
                default_route: true,
            }],
            ..HostFacts::default()
        }
    }
}

/// DMI files systemd reads, in its order (product_name first, to tell KVM from QEMU).
const DMI_FILES: &[&str] = &[
    "/sys/class/dmi/id/product_name",
    "/sys/class/dmi/id/sys_vendor",
    "/sys/class/dmi/id/board_vendor",
    "/sys/class/dmi/id/bios_vendor",
    "/sys/class/dmi/id/product_version",
];

/// DMI vendor prefixes of hypervisors (systemd's dmi_vendor_table).
const DMI_VENDORS: &[(&str, &str)] = &[
    ("KVM", "kvm"),
    ("OpenStack", "kvm"),
    ("KubeVirt", "kvm"),
    ("Amazon EC2", "amazon"),
    ("QEMU", "qemu"),
    ("VMware", "vmware"),
    ("VMW", "vmware"),
    ("innotek GmbH", "oracle"),
    ("VirtualBox", "oracle"),
    ("Oracle Corporation", "oracle"),
    ("Xen", "xen"),
    ("Bochs", "bochs"),
    ("Parallels", "parallels"),
    ("BHYVE", "bhyve"),
    ("Hyper-V", "microsoft"),
    ("Apple Virtualization", "apple"),
    ("Google Compute Engine", "google"),
];

impl HostFacts {
    /// Reads every fact. Costs a handful of small reads (and /proc/cpuinfo up to its first
    /// `flags` line's worth of parsing).
    pub fn read(host: &Host) -> HostFacts {
        let text = |path: &str| -> Option<String> {
            host.read_optional(path)
                .ok()
                .flatten()
                .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        };
        let cpuinfo = text("/proc/cpuinfo");
        let dmi: Vec<(&str, String)> = DMI_FILES
            .iter()
            .filter_map(|f| text(f).map(|t| (*f, t)))
            .collect();
        let device_tree = text("/proc/device-tree/hypervisor/compatible");
        let hypervisor_type = text("/sys/hypervisor/type");
        let xen_caps = text("/proc/xen/capabilities");
        let virtualization_known = cpuinfo.is_some()
            || !dmi.is_empty()
            || device_tree.is_some()
            || hypervisor_type.is_some();
        let guest = detect_guest(
            cpuinfo.as_deref(),
            &dmi,
            device_tree.as_deref(),
            hypervisor_type.as_deref(),
            xen_caps.as_deref(),
        );
        let container = detect_container(
            text("/run/systemd/container"),
            host.exists("/.dockerenv"),
            host.exists("/run/.containerenv"),
        );
        let cpus = text("/sys/devices/system/cpu/online")
            .and_then(|t| crate::tune::net::cpus::parse_list(&t).ok())
            .map(|set| set.len() as u32)
            .filter(|n| *n > 0);
        let numa_nodes = text("/sys/devices/system/node/online")
            .and_then(|t| crate::tune::net::cpus::parse_list(&t).ok())
            .map(|set| set.len() as u32)
            .or_else(|| {
                let n = host
                    .list_dir("/sys/devices/system/node")
                    .ok()?
                    .iter()
                    .filter(|d| {
                        d.strip_prefix("node")
                            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                    })
                    .count() as u32;
                (n > 0).then_some(n)
            });
        HostFacts {
            guest,
            container,
            virtualization_known,
            kernel_release: text("/proc/sys/kernel/osrelease"),
            cpus,
            numa_nodes,
            memory_bytes: text("/proc/meminfo").and_then(|t| mem_total(&t)),
            systemd: host.exists("/run/systemd/system"),
            nics: nics(host),
        }
    }

    /// The kernel version, when the release can be read.
    pub fn kernel(&self) -> Option<KernelVersion> {
        self.kernel_release
            .as_deref()
            .and_then(KernelVersion::parse)
    }

    /// One line for messages: "a kvm guest (…)", "bare metal", "virtualization unknown".
    pub fn describe_virtualization(&self) -> String {
        let mut parts = Vec::new();
        let article = |word: &str| {
            if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            }
        };
        if let Some(g) = &self.guest {
            parts.push(format!(
                "{} {} guest ({})",
                article(&g.kind),
                g.kind,
                g.source
            ));
        }
        if let Some(c) = &self.container {
            parts.push(format!(
                "in {} {} container ({})",
                article(&c.kind),
                c.kind,
                c.source
            ));
        }
        if parts.is_empty() {
            if self.virtualization_known {
                "bare metal (no hypervisor in /proc/cpuinfo, DMI or the device tree, no container marker)".to_string()
            } else {
                "of unknown virtualization (no /proc/cpuinfo, DMI or device tree to read)"
                    .to_string()
            }
        } else {
            parts.join(", ")
        }
    }
}

/// The hypervisor, by systemd's order of evidence: Xen's own files, the CPUID flag, the
/// device tree, then DMI.
fn detect_guest(
    cpuinfo: Option<&str>,
    dmi: &[(&str, String)],
    device_tree: Option<&str>,
    hypervisor_type: Option<&str>,
    xen_caps: Option<&str>,
) -> Option<Evidence> {
    let found = |kind: &str, source: String| {
        Some(Evidence {
            kind: kind.to_string(),
            source,
        })
    };
    if hypervisor_type == Some("xen") {
        let dom0 = xen_caps.is_some_and(|c| c.split(',').any(|cap| cap.trim() == "control_d"));
        if !dom0 {
            return found("xen", "/sys/hypervisor/type: xen".into());
        }
    }
    let flags = cpuinfo.and_then(|text| {
        text.lines()
            .find(|l| l.starts_with("flags") || l.starts_with("Features"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.to_string())
    });
    let cpuid = flags
        .as_deref()
        .is_some_and(|f| f.split_whitespace().any(|w| w == "hypervisor"));
    // DMI names the hypervisor where CPUID only says there is one.
    let vendor = dmi.iter().find_map(|(file, value)| {
        DMI_VENDORS
            .iter()
            .find(|(prefix, _)| value.starts_with(prefix))
            .map(|(_, kind)| (*kind, *file, value.as_str()))
    });
    if let Some(compatible) = device_tree {
        let kind = if compatible == "linux,kvm" {
            "kvm"
        } else if compatible.contains("xen") {
            "xen"
        } else if compatible.contains("vmware") {
            "vmware"
        } else {
            "vm-other"
        };
        return found(
            kind,
            format!("/proc/device-tree/hypervisor/compatible: {compatible}"),
        );
    }
    match vendor {
        Some(("amazon", _, _)) => {
            let product = dmi
                .iter()
                .find(|(f, _)| *f == "/sys/class/dmi/id/product_name")
                .map(|(_, v)| v.as_str())
                .unwrap_or("");
            let metal = product
                .split_once(".metal")
                .is_some_and(|(_, rest)| rest.is_empty() || rest.starts_with('-'));
            if metal && !cpuid {
                None
            } else {
                found(
                    "amazon",
                    format!("/sys/class/dmi/id: Amazon EC2 ({product})"),
                )
            }
        }
        Some((kind, file, value)) => found(kind, format!("{file}: {value}")),
        None if cpuid => found("vm-other", "/proc/cpuinfo flags: hypervisor".into()),
        None => None,
    }
}

fn detect_container(
    systemd_container: Option<String>,
    dockerenv: bool,
    containerenv: bool,
) -> Option<Evidence> {
    if let Some(kind) = systemd_container.filter(|k| !k.is_empty() && k.len() < 64) {
        let kind: String = kind.chars().filter(|c| !c.is_control()).collect();
        return Some(Evidence {
            source: format!("/run/systemd/container: {kind}"),
            kind,
        });
    }
    if containerenv {
        return Some(Evidence {
            kind: "podman".into(),
            source: "/run/.containerenv".into(),
        });
    }
    dockerenv.then(|| Evidence {
        kind: "docker".into(),
        source: "/.dockerenv".into(),
    })
}

/// MemTotal in bytes from /proc/meminfo text.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line["MemTotal:".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

/// Interfaces with a device, their drivers, queue counts and speed.
fn nics(host: &Host) -> Vec<Nic> {
    use crate::tune::net::iface;
    let Ok(names) = iface::list(host) else {
        return Vec::new();
    };
    let routes = iface::default_route(host).unwrap_or_default();
    names
        .iter()
        .filter(|n| iface::is_physical(host, n))
        .map(|name| {
            let (rx, tx) = iface::rx_tx_queues(host, name);
            let speed = host
                .read_string(format!("/sys/class/net/{name}/speed"))
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .filter(|s| *s > 0)
                .and_then(|s| u32::try_from(s).ok());
            Nic {
                name: name.clone(),
                driver: iface::driver_of(host, name),
                rx_queues: rx.len() as u32,
                tx_queues: tx.len() as u32,
                speed_mbps: speed,
                default_route: routes.contains(name),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_versions_parse_from_every_release_style() {
        assert_eq!(
            KernelVersion::parse("6.18.44-fc-v657"),
            Some(KernelVersion(6, 18, 44))
        );
        assert_eq!(
            KernelVersion::parse("2.6.32-754.el6.x86_64"),
            Some(KernelVersion(2, 6, 32))
        );
        assert_eq!(
            KernelVersion::parse("4.13-rc1"),
            Some(KernelVersion(4, 13, 0))
        );
        assert_eq!(KernelVersion::parse("6.1"), Some(KernelVersion(6, 1, 0)));
        assert_eq!(KernelVersion::parse("garbage"), None);
        assert_eq!(KernelVersion::parse(""), None);
        assert!(KernelVersion(4, 12, 99) < KernelVersion(4, 13, 0));
    }

    #[test]
    fn guests_are_told_like_systemd_does() {
        let dmi = |f: &'static str, v: &str| vec![(f, v.to_string())];
        let product = "/sys/class/dmi/id/product_name";
        let vendor = "/sys/class/dmi/id/sys_vendor";
        let kvm = detect_guest(None, &dmi(product, "KVM"), None, None, None).unwrap();
        assert_eq!(kvm.kind, "kvm");
        let metal = detect_guest(
            Some("flags\t: fpu sse"),
            &[(product, "m5.metal".into()), (vendor, "Amazon EC2".into())],
            None,
            None,
            None,
        );
        assert_eq!(metal, None, "an EC2 .metal instance is bare metal");
        let nitro = detect_guest(
            Some("flags\t: fpu hypervisor"),
            &[
                (product, "c6i.2xlarge".into()),
                (vendor, "Amazon EC2".into()),
            ],
            None,
            None,
            None,
        )
        .unwrap();
        assert_eq!(nitro.kind, "amazon");
        let firecracker = detect_guest(
            Some("flags\t\t: fpu vme hypervisor lahf_lm"),
            &[],
            None,
            None,
            None,
        )
        .unwrap();
        assert_eq!(firecracker.kind, "vm-other");
        let dom0 = detect_guest(None, &[], None, Some("xen"), Some("control_d"));
        assert_eq!(dom0, None, "Xen dom0 is not a guest");
        let domu = detect_guest(None, &[], None, Some("xen"), None).unwrap();
        assert_eq!(domu.kind, "xen");
        let arm = detect_guest(None, &[], Some("linux,kvm"), None, None).unwrap();
        assert_eq!(arm.kind, "kvm");
        assert_eq!(
            detect_guest(
                Some("flags\t: fpu sse2"),
                &dmi(vendor, "Dell Inc."),
                None,
                None,
                None
            ),
            None
        );
    }

    #[test]
    fn containers_are_told_by_their_markers() {
        assert_eq!(
            detect_container(Some("lxc".into()), false, false)
                .unwrap()
                .kind,
            "lxc"
        );
        assert_eq!(detect_container(None, true, false).unwrap().kind, "docker");
        assert_eq!(detect_container(None, true, true).unwrap().kind, "podman");
        assert_eq!(detect_container(None, false, false), None);
    }

    #[test]
    fn mem_total_is_in_bytes() {
        assert_eq!(
            mem_total("MemTotal:       24576000 kB\nMemFree: 1 kB\n"),
            Some(24_576_000 * 1024)
        );
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
    }
}
