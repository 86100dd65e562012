//! Concord: a Redis-compatible database that does not lose acknowledged writes.
//!
//! See `docs/architecture.md` for the bird's-eye view and the code map. The modules below are
//! listed from the bottom layer up; a module never imports one listed after it.

pub mod error;
pub mod resp;
pub mod command;
pub mod store;
pub mod state_machine;
pub mod log;
pub mod config;
pub mod logging;
pub mod metrics;
pub mod raft;
pub mod node;
pub mod server;
pub mod maelstrom;
pub mod cli;
