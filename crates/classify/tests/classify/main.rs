//! Integration tests for farguard-classify: the compiled-in CAMEO table
//! against the lookup file the project ships.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cameo_lookup;
