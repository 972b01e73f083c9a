//! hostperf: tune Linux hosts for latency-sensitive APIs and diagnose them.
//!
//! Layers, each depending only on the ones above it:
//! - `host`: the one seam to the machine (files below a root, sysctls, rlimits, netlink).
//! - `parse`: pure parsers over bytes of /proc files.
//! - `profile`: the YAML profile format, includes and validation.
//! - `tune`: the kinds of setting (sysctl, ulimit, managed file, `tune::net` for NIC queues,
//!   qdiscs, steering and IRQs) as knobs that can be read and written.
//! - `plan`, `rules`, `apply`, `journal`, `persist`: the change pipeline.
//! - `diagnose`: measured checks for the fault lines.
//! - `probe`: timed requests to http(s) URLs: network or application?
//! - `bench`: what a profile does to latency and throughput, measured in throwaway namespaces.
//! - `recommend`: which built-in profile fits this host, from its facts.
//! - `report`: renderers, data in and text out.
//! - `commands`: one module per subcommand, gluing the above.

pub mod apply;
pub mod bench;
pub mod check;
pub mod cli;
pub mod commands;
pub mod diagnose;
pub mod exit;
pub mod host;
pub mod journal;
pub mod logging;
pub mod parse;
pub mod persist;
pub mod plan;
pub mod probe;
pub mod profile;
pub mod recommend;
pub mod report;
pub mod rules;
pub mod status;
pub mod tune;
