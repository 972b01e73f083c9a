//! What a driver refuses although it reports the parameter, wherever the kernel tells
//! beforehand: the plan then says "unsupported by this driver" instead of "change", and apply
//! never meets the refusal at write time.
//!
//! virtio_net (drivers/net/virtio_net.c) reports rx-usecs, tx-usecs, rx-frames, tx-frames
//! and adaptive-rx on every device, but acts on them only when the device offers
//! notification coalescing: without VIRTIO_NET_F_NOTF_COAL (feature bit 53) a non-zero
//! usecs value is EOPNOTSUPP and frames other than 1 are EINVAL; adaptive-rx needs per-queue
//! coalescing, VIRTIO_NET_F_VQ_NOTF_COAL (bit 52) — without it the kernel answers
//! EOPNOTSUPP or silently keeps it off. The negotiated features are the
//! `/sys/class/net/IF/device/features` string, one character per bit.

use crate::host::Host;

use super::ethtool::{Group, Param};
use super::iface;

/// virtio feature bit: per-virtqueue notification coalescing.
pub const VIRTIO_NET_F_VQ_NOTF_COAL: usize = 52;
/// virtio feature bit: device-wide notification coalescing.
pub const VIRTIO_NET_F_NOTF_COAL: usize = 53;

/// Why the driver of `iface` will refuse to set `param` to `value`, when the kernel shows
/// it before any write; `None` when nothing is known against it.
pub fn refuses(host: &Host, iface: &str, param: Param, value: u32) -> Option<String> {
    if param.group != Group::Coalesce {
        return None;
    }
    match iface::driver_of(host, iface).as_deref() {
        Some("virtio_net") => virtio_coalesce(host, iface, param, value),
        _ => None,
    }
}

fn virtio_coalesce(host: &Host, iface: &str, param: Param, value: u32) -> Option<String> {
    let path = format!("/sys/class/net/{iface}/device/features");
    let features = host.read_string(&path).ok()?;
    let bit = |n: usize| features.trim().as_bytes().get(n) == Some(&b'1');
    let (needed, name, errno) = match param.name {
        "rx-usecs" | "tx-usecs" if value != 0 => (
            VIRTIO_NET_F_NOTF_COAL,
            "VIRTIO_NET_F_NOTF_COAL",
            "EOPNOTSUPP",
        ),
        "rx-frames" if value != 1 => (VIRTIO_NET_F_NOTF_COAL, "VIRTIO_NET_F_NOTF_COAL", "EINVAL"),
        "tx-frames" if value > 1 => (VIRTIO_NET_F_NOTF_COAL, "VIRTIO_NET_F_NOTF_COAL", "EINVAL"),
        "adaptive-rx" if value != 0 => (
            VIRTIO_NET_F_VQ_NOTF_COAL,
            "VIRTIO_NET_F_VQ_NOTF_COAL",
            "EOPNOTSUPP or no effect",
        ),
        _ => return None,
    };
    if bit(needed) {
        return None;
    }
    Some(format!(
        "virtio_net sets {} only when the device offers {name} (feature bit {needed} of {path}), which this one does not; the kernel would answer {errno}",
        param.name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::net::ethtool::param;

    fn virtio(features: &str) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        let dev = tmp.path().join("sys/devices/virtio2");
        std::fs::create_dir_all(dev.join("driver-target")).unwrap();
        std::os::unix::fs::symlink("driver-target/virtio_net", dev.join("driver")).unwrap();
        std::fs::create_dir_all(dev.join("driver-target/virtio_net")).unwrap();
        std::fs::write(dev.join("features"), features).unwrap();
        std::fs::create_dir_all(tmp.path().join("sys/class/net/eth0")).unwrap();
        std::os::unix::fs::symlink(&dev, tmp.path().join("sys/class/net/eth0/device")).unwrap();
        tmp
    }

    #[test]
    fn virtio_without_notification_coalescing_refuses_what_it_reports() {
        // This VM's string: bits 52 and 53 clear.
        let none = virtio("1100010110111011000000000000010010000000000000000000000000000000\n");
        let host = Host::with_root(none.path());
        let p = |n| param(Group::Coalesce, n).unwrap();
        let why = refuses(&host, "eth0", p("rx-usecs"), 8).unwrap();
        assert!(why.contains("feature bit 53"), "{why}");
        assert!(refuses(&host, "eth0", p("rx-usecs"), 0).is_none());
        assert!(
            refuses(&host, "eth0", p("adaptive-rx"), 1)
                .unwrap()
                .contains("bit 52")
        );
        assert!(refuses(&host, "eth0", p("adaptive-rx"), 0).is_none());
        assert!(refuses(&host, "eth0", p("rx-frames"), 1).is_none());
        assert!(refuses(&host, "eth0", p("rx-frames"), 8).is_some());
        let mut bits = vec![b'0'; 64];
        bits[52] = b'1';
        bits[53] = b'1';
        let both = virtio(&String::from_utf8(bits).unwrap());
        let host = Host::with_root(both.path());
        assert!(refuses(&host, "eth0", p("rx-usecs"), 8).is_none());
        assert!(refuses(&host, "eth0", p("adaptive-rx"), 1).is_none());
    }
}
