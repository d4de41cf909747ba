//! `pop3spec selftest`: proves the suite and the reference server against each
//! other. (Being written.)

use crate::cli::SelftestArgs;

pub async fn selftest(_args: SelftestArgs) -> u8 {
    eprintln!("selftest is not implemented yet");
    crate::app::EXIT_FAILED
}
