//! The `network` section of a profile (congestion control, qdiscs, NIC queues, steering,
//! IRQ affinity), expanded into knobs for a given host.

use serde::{Deserialize, Serialize};

use crate::host::Host;
use crate::tune::Setting;

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Network {}

impl Network {
    /// Folds a later profile's section over this one: later wins, key by key.
    pub fn merge(&mut self, _later: Network, _from: &str) {}

    pub fn is_empty(&self) -> bool {
        true
    }

    /// Things plan and check should warn about (e.g. irqbalance will undo IRQ affinity).
    pub fn warnings(&self, _host: &Host) -> Vec<String> {
        Vec::new()
    }

    /// The settings this section asks for on `host`, or why it cannot be expanded.
    pub fn expand(&self, _host: &Host) -> Result<Vec<Setting>, String> {
        Ok(Vec::new())
    }
}
