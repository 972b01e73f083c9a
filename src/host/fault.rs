//! Explicitly injected failures for the Host seam.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A list of "the next operation `op` on `path` fails with `errno`" rules, each used once.
#[derive(Debug, Default)]
pub struct FaultPlan {
    rules: Mutex<Vec<(String, PathBuf, i32)>>,
}

impl FaultPlan {
    pub fn new() -> Self {
        FaultPlan::default()
    }

    /// The next `op` ("read", "write", "prlimit", ...) on `path` fails with `errno`.
    pub fn fail(self, op: &str, path: impl Into<PathBuf>, errno: i32) -> Self {
        self.rules
            .lock()
            .expect("fault plan lock")
            .push((op.to_string(), path.into(), errno));
        self
    }

    pub(super) fn take(&self, op: &str, path: &Path) -> Option<i32> {
        let mut rules = self.rules.lock().ok()?;
        let index = rules.iter().position(|(o, p, _)| o == op && p == path)?;
        Some(rules.remove(index).2)
    }
}
