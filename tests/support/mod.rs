//! Helpers shared by the black-box tests: server processes ([`servers`], on [`process`]) and the differential
//! harness that compares Concord's replies with Redis's byte for byte ([`reply`], [`script`],
//! [`compare`], [`differ`], [`render`]).
//!
//! Each test binary that declares `mod support;` compiles all of this and uses a part of it,
//! so unused items are expected and not warned about.
#![allow(dead_code)]

pub mod command_arguments;
pub mod compare;
pub mod differ;
pub mod process;
pub mod render;
pub mod reply;
pub mod script;
pub mod servers;
