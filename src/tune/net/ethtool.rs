//! NIC channels, rings and interrupt coalescing over ethtool's generic netlink family
//! (CHANNELS/RINGS/COALESCE _GET and _SET). The kernel sends only the attributes a device
//! supports, so "absent" means "this device does not have it": no text parsing, no guessing.
//! [`get`] and [`set`] go to the kernel on a live host and to the fixture's double below a
//! fixture root (the Host's [`NetlinkBackend`]).

use std::collections::BTreeMap;

use crate::host::netlink::{self as nl, Msg, NlError, Socket};
use crate::host::{Host, NetlinkBackend};

const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const ETHTOOL_GENL_VERSION: u8 = 1;
const HEADER: u16 = 1;
const HEADER_DEV_NAME: u16 = 2;

/// A group of ethtool settings fetched and set by one message pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Channels,
    Rings,
    Coalesce,
}

impl Group {
    fn get_cmd(self) -> u8 {
        match self {
            Group::Rings => 15,
            Group::Channels => 17,
            Group::Coalesce => 19,
        }
    }

    fn set_cmd(self) -> u8 {
        self.get_cmd() + 1
    }

    pub fn name(self) -> &'static str {
        match self {
            Group::Channels => "channels",
            Group::Rings => "rings",
            Group::Coalesce => "coalesce",
        }
    }

    /// The `ethtool` option that shows this group, for messages.
    pub fn ethtool_flag(self) -> &'static str {
        match self {
            Group::Channels => "-l",
            Group::Rings => "-g",
            Group::Coalesce => "-c",
        }
    }
}

/// One parameter: its profile name, value attribute, the attribute holding its maximum
/// (channels, rings), and whether it is an on/off flag.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub group: Group,
    pub name: &'static str,
    pub attr: u16,
    pub max_attr: Option<u16>,
    pub flag: bool,
}

const fn p(
    group: Group,
    name: &'static str,
    attr: u16,
    max_attr: Option<u16>,
    flag: bool,
) -> Param {
    Param {
        group,
        name,
        attr,
        max_attr,
        flag,
    }
}

/// Every parameter hostperf knows, named as `ethtool -L/-G/-C` names them.
pub const PARAMS: &[Param] = &[
    p(Group::Channels, "rx", 6, Some(2), false),
    p(Group::Channels, "tx", 7, Some(3), false),
    p(Group::Channels, "other", 8, Some(4), false),
    p(Group::Channels, "combined", 9, Some(5), false),
    p(Group::Rings, "rx", 6, Some(2), false),
    p(Group::Rings, "rx-mini", 7, Some(3), false),
    p(Group::Rings, "rx-jumbo", 8, Some(4), false),
    p(Group::Rings, "tx", 9, Some(5), false),
    p(Group::Coalesce, "rx-usecs", 2, None, false),
    p(Group::Coalesce, "rx-frames", 3, None, false),
    p(Group::Coalesce, "rx-usecs-irq", 4, None, false),
    p(Group::Coalesce, "rx-frames-irq", 5, None, false),
    p(Group::Coalesce, "tx-usecs", 6, None, false),
    p(Group::Coalesce, "tx-frames", 7, None, false),
    p(Group::Coalesce, "tx-usecs-irq", 8, None, false),
    p(Group::Coalesce, "tx-frames-irq", 9, None, false),
    p(Group::Coalesce, "stats-block-usecs", 10, None, false),
    p(Group::Coalesce, "adaptive-rx", 11, None, true),
    p(Group::Coalesce, "adaptive-tx", 12, None, true),
    p(Group::Coalesce, "pkt-rate-low", 13, None, false),
    p(Group::Coalesce, "rx-usecs-low", 14, None, false),
    p(Group::Coalesce, "rx-frames-low", 15, None, false),
    p(Group::Coalesce, "tx-usecs-low", 16, None, false),
    p(Group::Coalesce, "tx-frames-low", 17, None, false),
    p(Group::Coalesce, "pkt-rate-high", 18, None, false),
    p(Group::Coalesce, "rx-usecs-high", 19, None, false),
    p(Group::Coalesce, "rx-frames-high", 20, None, false),
    p(Group::Coalesce, "tx-usecs-high", 21, None, false),
    p(Group::Coalesce, "tx-frames-high", 22, None, false),
    p(Group::Coalesce, "sample-interval", 23, None, false),
];

pub fn param(group: Group, name: &str) -> Option<Param> {
    PARAMS
        .iter()
        .copied()
        .find(|p| p.group == group && p.name == name)
}

pub fn names(group: Group) -> Vec<&'static str> {
    PARAMS
        .iter()
        .filter(|p| p.group == group)
        .map(|p| p.name)
        .collect()
}

/// A device's answer to a _GET: attribute id to value (u8 flags widened).
pub type Values = BTreeMap<u16, u32>;

/// A generic netlink socket bound to the ethtool family.
pub struct Ethtool {
    sock: Socket,
    family: u16,
}

impl Ethtool {
    pub fn open(host: &Host) -> Result<Self, NlError> {
        let mut sock = host.netlink(libc::NETLINK_GENERIC)?;
        let mut msg = Msg::new(GENL_ID_CTRL, 0, &[CTRL_CMD_GETFAMILY, 1, 0, 0]);
        msg.str(CTRL_ATTR_FAMILY_NAME, "ethtool");
        let mut family = None;
        sock.dump(&mut msg, |_, payload| {
            family = family.or_else(|| {
                nl::attrs(payload.get(4..).unwrap_or(&[]))
                    .into_iter()
                    .find(|(k, _)| *k == CTRL_ATTR_FAMILY_ID)
                    .and_then(|(_, v)| nl::as_u16(v))
            });
            Ok(())
        })
        .map_err(|mut e| {
            if e.errno == libc::ENOENT {
                e.message = Some(
                    "the kernel has no ethtool netlink family (CONFIG_ETHTOOL_NETLINK)".into(),
                );
            }
            e
        })?;
        let family = family.ok_or(NlError::malformed(
            "no family id in the reply for \"ethtool\"",
        ))?;
        Ok(Ethtool { sock, family })
    }

    fn msg(&self, cmd: u8, flags: u16, iface: &str) -> Msg {
        let mut msg = Msg::new(self.family, flags, &[cmd, ETHTOOL_GENL_VERSION, 0, 0]);
        msg.begin_nest(HEADER)
            .str(HEADER_DEV_NAME, iface)
            .end_nest();
        msg
    }

    pub fn get(&mut self, iface: &str, group: Group) -> Result<Values, NlError> {
        let mut msg = self.msg(group.get_cmd(), 0, iface);
        let mut values = Values::new();
        self.sock.dump(&mut msg, |_, payload| {
            for (kind, v) in nl::attrs(payload.get(4..).unwrap_or(&[])) {
                if kind == HEADER {
                    continue;
                }
                let n = match v.len() {
                    1 => Some(v[0] as u32),
                    4 => nl::as_u32(v),
                    _ => None,
                };
                if let Some(n) = n {
                    values.insert(kind, n);
                }
            }
            Ok(())
        })?;
        Ok(values)
    }

    pub fn set(&mut self, iface: &str, param: Param, value: u32) -> Result<(), NlError> {
        let mut msg = self.msg(param.group.set_cmd(), nl::NLM_F_ACK, iface);
        if param.flag {
            msg.u8(param.attr, value as u8);
        } else {
            msg.u32(param.attr, value);
        }
        self.sock.ack(&mut msg)
    }
}

/// The values `iface` reports for `group`, from whichever netlink the Host has.
pub fn get(host: &Host, iface: &str, group: Group) -> Result<Values, NlError> {
    match host.netlink_backend()? {
        NetlinkBackend::Fixture(double) => {
            let mut values = Values::new();
            for v in double.ethtool_get(iface, group.name())? {
                let Some(p) = param(group, &v.name) else {
                    continue;
                };
                values.insert(p.attr, v.value);
                if let (Some(max_attr), Some(max)) = (p.max_attr, v.max) {
                    values.insert(max_attr, max);
                }
            }
            Ok(values)
        }
        _ => Ethtool::open(host)?.get(iface, group),
    }
}

/// Sets one parameter of `iface`.
pub fn set(host: &Host, iface: &str, param: Param, value: u32) -> Result<(), NlError> {
    match host.netlink_backend()? {
        NetlinkBackend::Fixture(double) => {
            double.ethtool_set(iface, param.group.name(), param.name, value)
        }
        _ => Ethtool::open(host)?.set(iface, param, value),
    }
}

/// A parameter's value as the profile and the journal write it: numbers, or on/off flags.
pub fn format(param: Param, v: u32) -> String {
    if param.flag {
        if v != 0 { "on" } else { "off" }.to_string()
    } else {
        v.to_string()
    }
}

/// Parses a value for `param`; `None` when it is not one. Flags (adaptive-rx, adaptive-tx)
/// take on/off, true/false or 1/0 in any case; the rest are unsigned 32-bit numbers.
pub fn parse(param: Param, text: &str) -> Option<u32> {
    let text = text.trim();
    if param.flag {
        match text.to_ascii_lowercase().as_str() {
            "on" | "1" | "true" => Some(1),
            "off" | "0" | "false" => Some(0),
            _ => None,
        }
    } else {
        text.parse().ok()
    }
}

/// The comparable form of a value for `param`: "on"/"off" for flags, a number without
/// leading zeros otherwise; text that is neither stays as it is for validation to name
/// ("max" before it is resolved).
pub fn normalize(param: Param, text: &str) -> String {
    match parse(param, text) {
        Some(v) => format(param, v),
        None => text.trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_on_off_and_numbers_are_numbers() {
        let adaptive = param(Group::Coalesce, "adaptive-rx").unwrap();
        for on in ["on", "ON", "true", "1", " True "] {
            assert_eq!(normalize(adaptive, on), "on", "{on}");
        }
        for off in ["off", "false", "0", "Off"] {
            assert_eq!(normalize(adaptive, off), "off", "{off}");
        }
        assert_eq!(parse(adaptive, "2"), None);
        let usecs = param(Group::Coalesce, "rx-usecs").unwrap();
        assert_eq!(normalize(usecs, "08"), "8");
        assert_eq!(parse(usecs, "on"), None);
        assert_eq!(parse(usecs, "-1"), None);
        assert_eq!(normalize(usecs, "max"), "max");
    }
}
