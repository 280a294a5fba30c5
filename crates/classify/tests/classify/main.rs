//! Integration tests for farguard-classify: the compiled-in CAMEO table
//! against the lookup file the project ships, and the text classifier scored
//! on ACLED notes read in place.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cameo_lookup;
mod text_acled;
