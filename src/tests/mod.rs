//! Tests that span the crate's modules rather than belong to one.

mod golden;
