//! Concord: a Redis-compatible database that does not lose acknowledged writes.
//!
//! See `docs/architecture.md` for the bird's-eye view and the code map.

pub mod resp;
