//! Command parser: arbitrary bytes through every parser must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Whole input as one line, and every LF-separated piece of it.
    pop3_reference_server::fuzzing::parse_command(data);
    for line in data.split(|b| *b == b'\n') {
        pop3_reference_server::fuzzing::parse_command(line);
    }
});
