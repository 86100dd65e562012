//! The helpers every black-box test shares, each defined once:
//!
//! - processes: [`process`] is the one way a test starts the `concord` binary (and any other
//!   child); [`servers`] runs a single Concord node or a `redis-server` on it, and
//!   [`cluster`] runs a cluster of nodes behind fault-injecting proxies, with the
//!   linearizability-checked [`cluster::workload`];
//! - temporary directories: [`temp_dir`], removed on drop; a disk that fills: [`small_disk`];
//! - checking: the [`linearizability`] checker, and the differential harness that compares
//!   Concord's replies with Redis's byte for byte ([`reply`], [`script`], [`compare`],
//!   [`differ`], [`render`], [`command_arguments`]);
//! - [`maelstrom_services`], the services Maelstrom provides to a node under test;
//! - [`every_type`], keys of every type and encoding, and what a client reads of one.
//!
//! Each test binary declares `mod support;` and compiles all of this, using a part of it, so
//! unused items are expected and not warned about. For the same reason the helpers' own tests
//! are not here but in `tests/test_support.rs`, so that they run once.
#![allow(dead_code)]

pub mod cluster;
pub mod command_arguments;
pub mod compare;
pub mod differ;
pub mod every_type;
pub mod linearizability;
pub mod maelstrom_services;
pub mod process;
pub mod render;
pub mod reply;
pub mod script;
pub mod servers;
pub mod small_disk;

/// A fresh directory under the system's temporary directory, named after `label` so that a
/// kept one can be recognised; removed with everything in it when the handle drops.
pub fn temp_dir(label: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("concord-test-{label}-"))
        .tempdir()
        .unwrap_or_else(|error| panic!("cannot create a temporary directory: {error}"))
}
