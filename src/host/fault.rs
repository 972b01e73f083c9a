//! Explicitly injected failures for the Host seam.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug)]
struct Rule {
    op: String,
    path: PathBuf,
    /// Matching operations to let through before failing.
    skip: usize,
    errno: i32,
}

/// A list of "the next operation `op` on `path` fails with `errno`" rules, each used once.
#[derive(Debug, Default)]
pub struct FaultPlan {
    rules: Mutex<Vec<Rule>>,
}

impl FaultPlan {
    pub fn new() -> Self {
        FaultPlan::default()
    }

    /// The next `op` ("read", "write", "prlimit", ...) on `path` fails with `errno`.
    pub fn fail(self, op: &str, path: impl Into<PathBuf>, errno: i32) -> Self {
        self.fail_after(op, path, 0, errno)
    }

    /// Lets `skip` matching operations succeed, then fails the next one with `errno`.
    pub fn fail_after(self, op: &str, path: impl Into<PathBuf>, skip: usize, errno: i32) -> Self {
        self.rules.lock().expect("fault plan lock").push(Rule {
            op: op.to_string(),
            path: path.into(),
            skip,
            errno,
        });
        self
    }

    /// Consumes the first matching rule: `Some(errno)` when this operation must fail.
    pub(crate) fn take(&self, op: &str, path: &Path) -> Option<i32> {
        let mut rules = self.rules.lock().ok()?;
        let index = rules.iter().position(|r| r.op == op && r.path == path)?;
        if rules[index].skip > 0 {
            rules[index].skip -= 1;
            return None;
        }
        Some(rules.remove(index).errno)
    }
}
