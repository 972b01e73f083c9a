//! A NIC driver's own statistics, what `ethtool -S IFACE` prints (per-queue drop counters
//! among them), through the SIOCETHTOOL ioctl: ETHTOOL_GSSET_INFO for the count,
//! ETHTOOL_GSTRINGS for the names, ETHTOOL_GSTATS for the values. The netlink ethtool
//! interface has only the standard statistics groups, not these driver counters.
//!
//! Like netlink, an ioctl has no file: it runs only on a live host (refused below a fixture
//! root) and honours injected faults (op `ethtool`, path `/ethtool/IFACE`).

use std::io;
use std::path::PathBuf;

use super::{Host, HostError};

const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_GSTRINGS: u32 = 0x1b;
const ETHTOOL_GSTATS: u32 = 0x1d;
const ETHTOOL_GSSET_INFO: u32 = 0x37;
const ETH_SS_STATS: u32 = 1;
const ETH_GSTRING_LEN: usize = 32;
/// More counters than any driver has (mlx5 has a few thousand): a bound on what is allocated.
const MAX_STATS: usize = 1 << 16;

/// `struct ifreq` with `ifr_data` (linux/if.h): 16 name bytes, a pointer, padding to 40.
#[repr(C)]
struct IfReq {
    name: [u8; 16],
    data: *mut libc::c_void,
    _pad: [u8; 16],
}

/// An AF_INET datagram socket for the ioctl, closed on drop.
struct IoctlSocket(libc::c_int);

impl Drop for IoctlSocket {
    fn drop(&mut self) {
        // SAFETY: the descriptor was opened by `socket` below and is closed once.
        unsafe { libc::close(self.0) };
    }
}

impl IoctlSocket {
    fn open() -> io::Result<Self> {
        // SAFETY: plain socket(2) call; the result is checked.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(IoctlSocket(fd))
    }

    /// SIOCETHTOOL on `iface` with `buf` as the ethtool command structure.
    fn ethtool(&self, iface: &[u8; 16], buf: *mut libc::c_void) -> io::Result<()> {
        let mut req = IfReq {
            name: *iface,
            data: buf,
            _pad: [0; 16],
        };
        // SAFETY: `req` is a valid ifreq whose data points at a buffer sized by the caller
        // for the command in it; the kernel writes within that size.
        let rc = unsafe { libc::ioctl(self.0, SIOCETHTOOL as _, &mut req as *mut IfReq) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

fn iface_name(iface: &str) -> io::Result<[u8; 16]> {
    let b = iface.as_bytes();
    if b.is_empty() || b.len() >= 16 || b.contains(&b'/') || b.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{iface:?} is not an interface name"),
        ));
    }
    let mut name = [0u8; 16];
    name[..b.len()].copy_from_slice(b);
    Ok(name)
}

fn query(iface: &str) -> io::Result<Vec<(String, u64)>> {
    let name = iface_name(iface)?;
    let socket = IoctlSocket::open()?;
    // ETHTOOL_GSSET_INFO: cmd, reserved, sset_mask (u64), then one u32 per set in the mask.
    // The kernel copies these structures in and out byte-wise: no alignment is needed.
    let mut info = [0u8; 20];
    info[0..4].copy_from_slice(&ETHTOOL_GSSET_INFO.to_ne_bytes());
    info[8..16].copy_from_slice(&(1u64 << ETH_SS_STATS).to_ne_bytes());
    socket.ethtool(&name, info.as_mut_ptr().cast())?;
    let mask = u64::from_ne_bytes(info[8..16].try_into().unwrap_or([0; 8]));
    if mask & (1u64 << ETH_SS_STATS) == 0 {
        return Ok(Vec::new());
    }
    let count = u32::from_ne_bytes(info[16..20].try_into().unwrap_or([0; 4]));
    let count = (count as usize).min(MAX_STATS);
    if count == 0 {
        return Ok(Vec::new());
    }
    // ETHTOOL_GSTRINGS: cmd, string_set, len, then len names of 32 bytes.
    let mut strings = vec![0u8; 12 + count * ETH_GSTRING_LEN];
    strings[0..4].copy_from_slice(&ETHTOOL_GSTRINGS.to_ne_bytes());
    strings[4..8].copy_from_slice(&ETH_SS_STATS.to_ne_bytes());
    strings[8..12].copy_from_slice(&(count as u32).to_ne_bytes());
    socket.ethtool(&name, strings.as_mut_ptr().cast())?;
    // ETHTOOL_GSTATS: cmd, n_stats, then n_stats u64 values.
    let mut stats = vec![0u8; 8 + count * 8];
    stats[0..4].copy_from_slice(&ETHTOOL_GSTATS.to_ne_bytes());
    stats[4..8].copy_from_slice(&(count as u32).to_ne_bytes());
    socket.ethtool(&name, stats.as_mut_ptr().cast())?;
    let returned = u32::from_ne_bytes(stats[4..8].try_into().unwrap_or([0; 4]));
    let n = count.min(returned as usize);
    let names = strings[12..].chunks(ETH_GSTRING_LEN);
    let values = stats[8..]
        .chunks(8)
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])));
    Ok(names
        .zip(values)
        .take(n)
        .map(|(raw, v)| {
            let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
            (String::from_utf8_lossy(&raw[..end]).into_owned(), v)
        })
        .collect())
}

/// The driver statistics of `iface` as (name, value) pairs, in the driver's order. A driver
/// without statistics gives an empty list or EOPNOTSUPP.
pub fn read(host: &Host, iface: &str) -> Result<Vec<(String, u64)>, HostError> {
    let target = PathBuf::from(format!("/ethtool/{iface}"));
    if !host.is_live() {
        let why = format!(
            "ethtool statistics need a live host, not a fixture root {}",
            host.root().display()
        );
        return Err(HostError::new(
            "ethtool",
            target,
            io::Error::new(io::ErrorKind::Unsupported, why),
        ));
    }
    host.check_fault("ethtool", &target)?;
    query(iface).map_err(|e| HostError::new("ethtool", target, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_names_and_fixture_roots_are_refused() {
        assert!(iface_name("").is_err());
        assert!(iface_name("a/b").is_err());
        assert!(iface_name("0123456789abcdef").is_err());
        let tmp = tempfile::tempdir().unwrap();
        let e = read(&Host::with_root(tmp.path()), "eth0").unwrap_err();
        assert!(e.to_string().contains("need a live host"), "{e}");
    }

    #[test]
    fn loopback_has_no_driver_statistics() {
        match read(&Host::live(), "lo") {
            Ok(stats) => assert!(stats.is_empty()),
            Err(e) => assert_eq!(e.errno(), Some(libc::EOPNOTSUPP), "{e}"),
        }
    }
}
