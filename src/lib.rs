//! pop3spec: replays POP3 scenario files against a server and judges the answers.
//!
//! `scenario` reads and checks files, `runner` plays them against a target and
//! produces `outcome` values, and `report` renders those for people and CI.

pub mod bundled;
pub mod client;
pub mod outcome;
pub mod report;
pub mod runner;
pub mod scenario;

/// Longest line the harness reads before judging it over-long (RFC 2449 allows
/// 512 octets for a response line; message bodies may be longer).
pub const DEFAULT_MAX_LINE: usize = 1024 * 1024;
/// Largest multi-line body the harness accepts.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024 * 1024;
pub mod app;
pub mod authoring;
pub mod calendar;
pub mod certificates;
pub mod cli;
pub mod coverage;
pub mod exit;
pub mod select;
pub mod selftest;
pub mod stress;
pub mod suite;
pub mod targets;
