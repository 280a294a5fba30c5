//! The server's integration tests, one binary: a fixture store built from
//! the real data the project ships (GDELT export, World Port Index) plus one
//! user per role, then the role × route matrix, data scoping, bad input,
//! audited writes, a real socket with graceful shutdown, and the browser
//! tests in headless Chromium.

// Test helpers outside #[test] fns are not covered by allow-unwrap-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod bad_input;
mod browser;
mod fixture;
mod live;
mod matrix;
mod reconnect;
mod respond;
mod socket;
