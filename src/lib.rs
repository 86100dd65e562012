//! Concord: a Redis-compatible database that does not lose acknowledged writes.
//!
//! See `docs/architecture.md` for the bird's-eye view and the code map. The modules below are
//! listed from the bottom layer up; a module never imports one listed after it.
//!
//! The crate's own rules, as lints the compiler checks in every line of shipped code: nothing
//! unwraps (a panic says why with `expect`, or the error is returned; tests may unwrap, see
//! `clippy.toml`), and `unsafe` appears only in a function that allows it, each block with a
//! `SAFETY:` comment that says why it holds. Every public item carries a doc comment
//! (`missing_docs` warns).
#![deny(unsafe_code)]
#![warn(missing_docs)]
#![deny(clippy::unwrap_used)]
#![deny(clippy::undocumented_unsafe_blocks)]

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
#[cfg(test)]
mod tests;
