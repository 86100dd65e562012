//! Tests that span the crate's modules rather than belong to one.

pub(crate) mod golden;
