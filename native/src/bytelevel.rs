//! The byte <-> unicode mapping of byte-level BPE (GPT-2): printable bytes map to themselves,
//! the 68 others to U+0100.. in increasing byte order, so every byte string is printable text.

use std::sync::OnceLock;

/// Bytes that stand for themselves: '!'..='~', '¡'..='¬', '®'..='ÿ'.
fn is_direct(b: u8) -> bool {
    (33..=126).contains(&b) || (161..=172).contains(&b) || b >= 174
}

struct Tables {
    to_char: [char; 256],
    // chars used are all below U+0144, so a dense table inverts the mapping
    from_char: [i16; 0x144],
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        let mut to_char = ['\0'; 256];
        let mut next = 256u32;
        for b in 0..=255u8 {
            to_char[b as usize] = if is_direct(b) {
                b as char
            } else {
                let c = char::from_u32(next).unwrap();
                next += 1;
                c
            };
        }
        let mut from_char = [-1i16; 0x144];
        for (b, c) in to_char.iter().enumerate() {
            from_char[*c as usize] = b as i16;
        }
        Tables { to_char, from_char }
    })
}

pub fn bytes_to_unicode_table() -> [char; 256] {
    tables().to_char
}

pub fn encode_bytes(bytes: &[u8]) -> String {
    let t = tables();
    bytes.iter().map(|&b| t.to_char[b as usize]).collect()
}

#[derive(Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub ch: char,
    /// character index in the input string
    pub position: usize,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "character {:?} (U+{:04X}) at position {} is not in the byte-level alphabet",
               self.ch, self.ch as u32, self.position)
    }
}

/// The byte a byte-level char stands for (None: not in the alphabet).
#[inline]
pub fn char_to_byte(c: char) -> Option<u8> {
    match tables().from_char.get(c as usize) {
        Some(&b) if b >= 0 => Some(b as u8),
        _ => None,
    }
}

pub fn decode_str(s: &str) -> Result<Vec<u8>, DecodeError> {
    let t = tables();
    let mut out = Vec::with_capacity(s.len());
    for (position, ch) in s.chars().enumerate() {
        let code = ch as usize;
        match t.from_char.get(code) {
            Some(&b) if b >= 0 => out.push(b as u8),
            _ => return Err(DecodeError { ch, position }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_gpt2_values() {
        let t = bytes_to_unicode_table();
        assert_eq!(t[b' ' as usize], '\u{0120}'); // Ġ
        assert_eq!(t[b'\n' as usize], '\u{010A}'); // Ċ
        assert_eq!(t[0], '\u{0100}'); // Ā
        assert_eq!(t[b'a' as usize], 'a');
        assert_eq!(t[255], 'ÿ');
        assert_eq!(t[173], '\u{0143}'); // soft hyphen is the last remapped byte
    }

    #[test]
    fn bijection_and_round_trip() {
        let t = bytes_to_unicode_table();
        let mut seen = std::collections::HashSet::new();
        for c in t.iter() {
            assert!(seen.insert(*c));
        }
        let all: Vec<u8> = (0..=255u8).collect();
        assert_eq!(decode_str(&encode_bytes(&all)).unwrap(), all);
    }

    #[test]
    fn bad_char_is_reported() {
        let e = decode_str("ab\u{200d}").unwrap_err();
        assert_eq!(e, DecodeError { ch: '\u{200d}', position: 2 });
        assert!(decode_str(" ").is_err()); // a raw space is not byte-level text
    }
}
