//! Hand-written scanners for the pretokenizer regexes everyone uses (GPT-2; Llama-3, Qwen2 and
//! cl100k), giving exactly the regex's matches several times faster.
//!
//! These patterns are alternations of simple branches over three character classes (letters
//! `\p{L}`, numbers `\p{N}`, white space `\s`) and match at every position, so a backtracking
//! search reduces to: at position i, the first branch that matches there. Each branch is a few
//! lines below. The classes are read from regex-syntax, the tables the regex engine itself uses,
//! so a new Unicode version cannot make the two disagree. This is hand-written because no crate
//! compiles a lookahead regex into a scanner; a scanner is only used for a pattern string it is
//! known to implement, after a self-check against the regex at construction
//! (`tests/test_pretok.py` compares the result with Hugging Face on random strings).

use regex_syntax::hir::{Class, HirKind};
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Prefix {
    Space,     // ` ?\p{L}+`
    NotCrLfLN, // `[^\r\n\p{L}\p{N}]?\p{L}+`
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Numbers {
    SpaceRun, // ` ?\p{N}+`
    Max(u8),  // `\p{N}{1,k}`
}

#[derive(Clone, Debug)]
pub struct Scanner {
    contractions_ci: bool,
    prefix: Prefix,
    numbers: Numbers,
    punct_crlf: bool, // ` ?[^\s\p{L}\p{N}]+[\r\n]*` (else without the suffix)
    ws_end_first: bool, // `\s++$` before the newline branch (cl100k)
    ws_newline: bool, // `\s*[\r\n]+`
}

const GPT2: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
const LLAMA3: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// tiktoken's cl100k_base, possessive quantifiers rewritten as atomic groups (tiktoken_io.py)
const CL100K: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|(?>\p{N}{1,3})| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";

struct Classes {
    letter: Vec<(u32, u32)>,
    number: Vec<(u32, u32)>,
    space: Vec<(u32, u32)>,
    /// class bits of every Basic Multilingual Plane character (bit 1 letter, 2 number, 4
    /// space): one load instead of three binary searches for the text of most scripts
    bmp: Vec<u8>,
}

/// The code point ranges of a Unicode class, as the regex engine reads it.
pub(crate) fn ranges(pattern: &str) -> Vec<(u32, u32)> {
    let hir = regex_syntax::Parser::new().parse(pattern).expect("a Unicode class");
    match hir.kind() {
        HirKind::Class(Class::Unicode(c)) => c.ranges().iter().map(|r| (r.start() as u32, r.end() as u32)).collect(),
        _ => unreachable!("{pattern} is a Unicode class"),
    }
}

fn classes() -> &'static Classes {
    static C: OnceLock<Classes> = OnceLock::new();
    C.get_or_init(|| {
        let (letter, number, space) = (ranges(r"\p{L}"), ranges(r"\p{N}"), ranges(r"\s"));
        let bmp = (0..0x10000u32)
            .map(|u| (in_ranges(&letter, u) as u8) | ((in_ranges(&number, u) as u8) << 1)
                | ((in_ranges(&space, u) as u8) << 2))
            .collect();
        Classes { letter, number, space, bmp }
    })
}

#[inline]
pub(crate) fn in_ranges(rs: &[(u32, u32)], c: u32) -> bool {
    rs.binary_search_by(|&(a, e)| {
        if e < c {
            std::cmp::Ordering::Less
        } else if a > c {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    })
    .is_ok()
}

/// class bits of a character: 1 letter, 2 number, 4 white space
#[inline]
fn class(c: char) -> u8 {
    let cl = classes();
    let u = c as u32;
    if u < 0x10000 {
        return cl.bmp[u as usize];
    }
    (in_ranges(&cl.letter, u) as u8) | ((in_ranges(&cl.number, u) as u8) << 1) | ((in_ranges(&cl.space, u) as u8) << 2)
}

const L: u8 = 1;
const N: u8 = 2;
const S: u8 = 4;

impl Scanner {
    /// A scanner for `pattern`, when it is one of the known ones and agrees with `check` (the
    /// regex) on a battery of tricky strings.
    pub fn for_pattern(pattern: &str, check: &dyn Fn(&str) -> Vec<(usize, usize)>) -> Option<Scanner> {
        let llama = Scanner {
            contractions_ci: true, prefix: Prefix::NotCrLfLN, numbers: Numbers::Max(3), punct_crlf: true,
            ws_end_first: false, ws_newline: true,
        };
        let s = match pattern {
            GPT2 => Scanner {
                contractions_ci: false, prefix: Prefix::Space, numbers: Numbers::SpaceRun, punct_crlf: false,
                ws_end_first: false, ws_newline: false,
            },
            LLAMA3 => llama,
            QWEN2 => Scanner { numbers: Numbers::Max(1), ..llama },
            CL100K => Scanner { ws_end_first: true, ..llama },
            _ => return None,
        };
        const BATTERY: &[&str] = &[
            "Hello, world! It's 12345 o'clock... 'LL 'Re 'ſ\n\n  end  ",
            " \t\n \r\n x  y   z\u{a0}\u{3000}日本語 ١٢٣ 1٢3 $$ ,,\n\n",
            "a\n", "a \n", "a  ", " ", "\n", "  \n  ", "x'", "'", "''s", "- -- --\r\n\r\nb", "é̈ 𝔘𝔫𝔦 😀😀 ..",
            "   12 x 1234567 , 'd'D'M", "\u{2028}a\u{85}b\u{b}c\u{c}",
        ];
        for t in BATTERY {
            let mut got = Vec::new();
            s.matches(t, &mut got);
            if got != check(t) {
                return None;
            }
        }
        Some(s)
    }

    pub fn matches(&self, s: &str, out: &mut Vec<(usize, usize)>) {
        let mut i = 0;
        while i < s.len() {
            let e = self.match_at(s, i);
            out.push((i, e));
            i = e;
        }
    }

    #[inline]
    fn run(s: &str, mut i: usize, want: u8) -> usize {
        for c in s[i..].chars() {
            if class(c) & want == 0 {
                break;
            }
            i += c.len_utf8();
        }
        i
    }

    fn contraction(&self, s: &str, i: usize) -> Option<usize> {
        let fold = |c: char| -> char {
            if self.contractions_ci {
                if c == '\u{17f}' { 's' } else { c.to_ascii_lowercase() }
            } else {
                c
            }
        };
        let mut it = s[i + 1..].chars();
        let c1 = fold(it.next()?);
        let one = |c: char| if c == '\u{17f}' { 2 } else { 1 };
        let first = s[i + 1..].chars().next().unwrap();
        match c1 {
            's' | 't' | 'm' | 'd' => Some(i + 1 + one(first)),
            'r' | 'v' | 'l' => {
                let c2 = fold(it.next()?);
                let ok = matches!((c1, c2), ('r', 'e') | ('v', 'e') | ('l', 'l'));
                ok.then(|| i + 1 + one(first) + 1)
            }
            _ => None,
        }
    }

    fn match_at(&self, s: &str, i: usize) -> usize {
        let mut chars = s[i..].chars();
        let c = chars.next().unwrap();
        let cl = class(c);
        let next = chars.next();
        let ncl = next.map_or(0, class);
        let after_c = i + c.len_utf8();
        // contractions
        if c == '\'' {
            if let Some(e) = self.contraction(s, i) {
                return e;
            }
        }
        // letters
        if cl & L != 0 {
            return Self::run(s, after_c, L);
        }
        let prefix_ok = match self.prefix {
            Prefix::Space => c == ' ',
            Prefix::NotCrLfLN => c != '\r' && c != '\n' && cl & (L | N) == 0,
        };
        if prefix_ok && ncl & L != 0 {
            return Self::run(s, after_c, L);
        }
        // numbers
        match self.numbers {
            Numbers::SpaceRun => {
                if cl & N != 0 {
                    return Self::run(s, after_c, N);
                }
                if c == ' ' && ncl & N != 0 {
                    return Self::run(s, after_c, N);
                }
            }
            Numbers::Max(k) => {
                if cl & N != 0 {
                    let mut e = after_c;
                    for d in s[after_c..].chars().take(k as usize - 1) {
                        if class(d) & N == 0 {
                            break;
                        }
                        e += d.len_utf8();
                    }
                    return e;
                }
            }
        }
        // punctuation (anything not a letter, number or space)
        let punct = |x: u8| x & (L | N | S) == 0;
        let start = if punct(cl) {
            Some(i)
        } else if c == ' ' && next.is_some() && punct(ncl) {
            Some(after_c)
        } else {
            None
        };
        if let Some(j) = start {
            let mut e = j;
            for d in s[j..].chars() {
                if !punct(class(d)) {
                    break;
                }
                e += d.len_utf8();
            }
            if self.punct_crlf {
                e += s[e..].bytes().take_while(|&b| b == b'\r' || b == b'\n').count();
            }
            return e;
        }
        // white space: c is white space here
        let end = Self::run(s, i, S);
        if self.ws_end_first && end == s.len() {
            return end;
        }
        if self.ws_newline {
            if let Some(k) = s[i..end].rfind(['\r', '\n']) {
                return i + k + 1;
            }
        }
        if end == s.len() {
            return end;
        }
        // `\s+(?!\S)`: all but the last white-space character, when there are two or more
        let last = s[i..end].chars().next_back().unwrap();
        if end - last.len_utf8() > i {
            return end - last.len_utf8();
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fancy_regex::RegexBuilder;

    #[test]
    fn every_known_pattern_gets_its_scanner_and_agrees() {
        for p in [GPT2, LLAMA3, QWEN2, CL100K] {
            let re = RegexBuilder::new(p).oniguruma_mode(true).build().unwrap();
            let check = |t: &str| re.find_iter(t).map(|m| m.unwrap()).map(|m| (m.start(), m.end())).collect::<Vec<_>>();
            let sc = Scanner::for_pattern(p, &check).expect(p);
            let text = "Mixed: 'Tis the   season\u{a0}— 1,234,567.89 ¾ Ⅻ 日本語テキスト\r\n\r\n\t x's  y'LL \n";
            let mut got = Vec::new();
            sc.matches(text, &mut got);
            assert_eq!(got, check(text), "{p}");
        }
    }
}
