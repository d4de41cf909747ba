//! The prohibition step of SASLprep (RFC 4013 §2.3) for USER and PASS.
//!
//! The server announces `UTF8 USER`, so it accepts UTF-8 credentials, and RFC
//! 6856 §2.2 then has it reject any that holds a character SASLprep
//! prohibits. The accounts are ASCII, so the mapping and normalisation steps
//! (§2.1, §2.2) could never make a presented name or password match one;
//! only the prohibition is enforced, and it is what a client can see.

/// Whether SASLprep prohibits `c` in its output (RFC 4013 §2.3, the tables
/// of RFC 3454 appendix C it names). Non-ASCII spaces (C.1.2) and the
/// characters mapped to nothing (B.1) are left out: §2.1 maps them away
/// before the check, so they never reach it.
pub fn prohibited(c: char) -> bool {
    let u = c as u32;
    // C.2.1, C.2.2: control characters, ASCII and not.
    c.is_control()
        || matches!(u, 0x06DD | 0x070F | 0x180E | 0x2028 | 0x2029 | 0x2061..=0x2063)
        || (0x1D173..=0x1D17A).contains(&u)
        // C.3: private use.
        || (0xE000..=0xF8FF).contains(&u)
        || (0xF0000..=0xFFFFD).contains(&u)
        || (0x100000..=0x10FFFD).contains(&u)
        // C.4: non-character code points.
        || (0xFDD0..=0xFDEF).contains(&u)
        || (u & 0xFFFE) == 0xFFFE
        // C.6 (FFF9..FFFD), C.7: inappropriate for plain text or canonical form.
        || (0xFFF9..=0xFFFD).contains(&u)
        || (0x2FF0..=0x2FFB).contains(&u)
        // C.8: change display properties, or deprecated.
        || matches!(u, 0x0340 | 0x0341 | 0x200E | 0x200F | 0x202A..=0x202E | 0x206A..=0x206F)
        // C.9: tagging characters.
        || u == 0xE0001
        || (0xE0020..=0xE007F).contains(&u)
}

#[cfg(test)]
mod tests {
    use super::prohibited;

    #[test]
    fn prohibits_the_rfc4013_tables_and_keeps_mapped_and_plain_characters() {
        for c in [
            '\u{7}',
            '\u{7F}',
            '\u{85}',
            '\u{E000}',
            '\u{F8FF}',
            '\u{FFFF}',
            '\u{FDD0}',
            '\u{FFFD}',
            '\u{2FF0}',
            '\u{200E}',
            '\u{202E}',
            '\u{E0001}',
            '\u{10FFFD}',
        ] {
            assert!(prohibited(c), "U+{:04X}", c as u32);
        }
        // B.1 (mapped to nothing), C.1.2 (mapped to SPACE) and ordinary text.
        for c in [
            'a', ' ', 'é', '\u{AD}', '\u{200B}', '\u{FEFF}', '\u{A0}', '\u{3000}',
        ] {
            assert!(!prohibited(c), "U+{:04X}", c as u32);
        }
    }
}
