//! Integration tests of `farguard-notify` against real sockets: a local HTTP
//! receiver (webhooks, SMS gateway) that can fail and hang, a local SMTP
//! sink that can drop the connection, and the CAP documents validated with
//! `xmllint` against the shipped OASIS schema.

// Test helpers outside #[test] fns are not covered by allow-unwrap-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cap;
mod channels;
mod receivers;
mod support;
