//! pop3spec: replays POP3 scenario files against a server and judges the answers.

pub mod outcome;
pub mod scenario;
