//! The command-line words that `eductl` and `edu-rig` share: numbers, hex bytes and `HEX|@FILE`
//! data, parsed the same way by both so the scenarios can hand either tool the same arguments.
//! Errors are the message of a usage error; each tool wraps it in its own usage type.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// A decimal or `0x`-prefixed hexadecimal number.
pub fn parse_u64(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    r.map_err(|_| format!("not a number: {s:?}"))
}

/// A number that fits 32 bits.
pub fn parse_u32(s: &str) -> Result<u32, String> {
    u32::try_from(parse_u64(s)?).map_err(|_| format!("does not fit 32 bits: {s}"))
}

/// A length or count.
pub fn parse_usize(s: &str) -> Result<usize, String> {
    usize::try_from(parse_u64(s)?).map_err(|_| format!("out of range: {s}"))
}

/// Bytes as hex digits, two per byte.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex digits, two per byte.
pub fn unhex(s: &str) -> Result<Vec<u8>, String> {
    if s.len() % 2 != 0 || !s.is_ascii() {
        return Err(format!("not hex bytes (two digits each): {s:?}"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| format!("not hex: {s:?}")))
        .collect()
}

/// Bytes given on the command line, or the file to read them from.
#[derive(Debug, PartialEq, Eq)]
pub enum Data {
    /// Hex digits, decoded.
    Bytes(Vec<u8>),
    /// `@FILE`.
    File(String),
}

impl Data {
    /// `HEX` or `@FILE`.
    pub fn parse(s: &str) -> Result<Data, String> {
        match s.strip_prefix('@') {
            Some(path) => Ok(Data::File(path.to_string())),
            None => Ok(Data::Bytes(unhex(s)?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn numbers_hex_and_data() {
        assert_eq!(parse_u64("0x1F"), Ok(31));
        assert_eq!(parse_u64("12"), Ok(12));
        assert!(parse_u64("x").is_err());
        assert!(parse_u32("0x100000000").unwrap_err().contains("32 bits"));
        assert_eq!(unhex("cafe"), Ok(vec![0xca, 0xfe]));
        assert!(unhex("caf").is_err());
        assert!(unhex("zz").is_err());
        assert_eq!(hex(&[0, 0xab]), "00ab");
        assert_eq!(Data::parse("@/tmp/x"), Ok(Data::File("/tmp/x".into())));
        assert_eq!(Data::parse("00ff"), Ok(Data::Bytes(vec![0, 0xff])));
    }
}
