//! Pretokenizer regexes, searched faster with the same matches.
//!
//! fancy-regex runs a pattern that has a lookaround (`\s+(?!\S)` in GPT-2's, Llama-3's and
//! SuperBPE's regexes) in its backtracking VM at every start position, calling the regex crate
//! for the plain parts: text with few matches (SuperBPE's stage-2 regex splits off little) pays
//! that at every byte. A backtracking search for `A|B|C` returns, at the smallest start where
//! any branch matches, the first branch that matches there. So the branches can be searched on
//! their own, the plain ones with the regex crate's automata, and combined: the leftmost start
//! wins, ties go to the earlier branch. Each branch's next match is cached until the search
//! passes its start. This is written by hand because no crate combines the two engines this way.
//! An empty match from any branch sends the whole text back to the single fancy-regex search,
//! whose empty-match rules (which Hugging Face's splits follow) are kept untouched.

use fancy_regex::{Regex, RegexBuilder};

#[derive(Clone, Debug)]
pub struct Re {
    whole: Regex,
    branches: Option<Vec<Regex>>,
    scanner: Option<crate::scan::Scanner>,
    /// the pattern is SuperBPE's paper-era stage-2 split (an empty match before each group of
    /// 3 digits counted from the end of a digit run): found by one pass over the digit runs
    digit_groups: bool,
}

/// SuperBPE's paper-era stage-2 pattern: zero-width, so fancy-regex tries its lookahead at
/// every byte of text that is almost all non-digits (4-5x slower than the current stage-2 regex)
const DIGIT_GROUPS: &str = r"(?=(\d{3})+(?!\d))";

/// Empty matches where DIGIT_GROUPS matches: in each maximal run of `\d` characters, before
/// every character that has a positive multiple of 3 digits from it to the run's end.
fn digit_group_matches(s: &str, out: &mut Vec<(usize, usize)>) {
    static ND: std::sync::OnceLock<Vec<(u32, u32)>> = std::sync::OnceLock::new();
    let nd = ND.get_or_init(|| crate::scan::ranges(r"\d"));
    let mut run: Vec<usize> = Vec::new(); // byte offsets of the current run's digits
    let flush = |run: &mut Vec<usize>, out: &mut Vec<(usize, usize)>| {
        let n = run.len();
        for k in (0..n).filter(|k| (n - k) % 3 == 0) {
            out.push((run[k], run[k]));
        }
        run.clear();
    };
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let (digit, len) = if bytes[i] < 0x80 {
            (bytes[i].is_ascii_digit(), 1) // ASCII fast path: most text has no digits at all
        } else {
            let c = s[i..].chars().next().unwrap();
            (crate::scan::in_ranges(nd, c as u32), c.len_utf8())
        };
        if digit {
            run.push(i);
        } else if !run.is_empty() {
            flush(&mut run, out);
        }
        i += len;
    }
    flush(&mut run, out);
}

fn build(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .oniguruma_mode(true)
        .backtrack_limit(10_000_000)
        .build()
        .map_err(|e| format!("bad regex {pattern:?}: {e}"))
}

/// Whether a branch matches runs of letters (outside a negated class): such patterns match
/// nearly everywhere, where the single VM is as fast as the branch search (measured on GPT-2's,
/// Llama-3's and o200k's patterns), so only sparse patterns (SuperBPE's stage 2) use it.
fn matches_words(branch: &str) -> bool {
    let mut plain = String::new();
    let mut rest = branch;
    while let Some(i) = rest.find("[^") {
        plain.push_str(&rest[..i]);
        rest = rest[i..].find(']').map_or("", |j| &rest[i + j + 1..]);
    }
    plain.push_str(rest);
    plain.contains("\\p{L") || plain.contains("\\w")
}

/// The top-level alternatives of a pattern, or None when it has one, or global inline flags.
pub fn top_level_branches(pattern: &str) -> Option<Vec<&str>> {
    let b = pattern.as_bytes();
    let (mut depth, mut class, mut i, mut start) = (0i32, 0i32, 0usize, 0usize);
    let mut out = Vec::new();
    while i < b.len() {
        match b[i] {
            b'\\' => {
                i += 2;
                continue;
            }
            b'[' => {
                class += 1;
                // a `]` right after `[` or `[^` is a literal
                if b.get(i + 1) == Some(&b'^') && b.get(i + 2) == Some(&b']') {
                    i += 2;
                } else if b.get(i + 1) == Some(&b']') {
                    i += 1;
                }
            }
            b']' if class > 0 => class -= 1,
            b'(' if class == 0 => {
                // `(?i)` at the top level changes every later branch: do not split
                if depth == 0 && b.get(i + 1) == Some(&b'?') {
                    let rest = &pattern[i + 2..];
                    let flags: String = rest.chars().take_while(|c| c.is_ascii_alphabetic() || *c == '-').collect();
                    if !flags.is_empty() && rest[flags.len()..].starts_with(')') {
                        return None;
                    }
                }
                depth += 1;
            }
            b')' if class == 0 => depth -= 1,
            b'|' if class == 0 && depth == 0 => {
                out.push(&pattern[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&pattern[start..]);
    if out.len() < 2 || depth != 0 || class != 0 || out.iter().any(|s| s.is_empty()) {
        return None;
    }
    Some(out)
}

impl Re {
    pub fn new(pattern: &str) -> Result<Re, String> {
        let whole = build(pattern)?;
        let branches = top_level_branches(pattern)
            .filter(|bs| !bs.iter().any(|b| matches_words(b)))
            .and_then(|bs| bs.iter().map(|b| build(b).ok()).collect());
        let check = |t: &str| -> Vec<(usize, usize)> {
            whole.find_iter(t).filter_map(|m| m.ok()).map(|m| (m.start(), m.end())).collect()
        };
        let scanner = crate::scan::Scanner::for_pattern(pattern, &check);
        // used only if it agrees with the regex on a battery (as the scanners are)
        let digit_groups = pattern == DIGIT_GROUPS
            && ["", "1", "12", "123", "1234", "a1234567b12 x 123456 ٣٤٥٦ 1٢3 ¹²³ 1,234 0000000"].iter().all(|t| {
                let mut got = Vec::new();
                digit_group_matches(t, &mut got);
                got == check(t)
            });
        Ok(Re { whole, branches, scanner, digit_groups })
    }

    /// Every match of the pattern in `s`, in order, as fancy-regex's `find_iter` gives them;
    /// Err when the backtracking limit is hit (the matches so far are in `out`).
    pub fn matches(&self, s: &str, out: &mut Vec<(usize, usize)>) -> Result<(), ()> {
        if let Some(sc) = &self.scanner {
            sc.matches(s, out);
            return Ok(());
        }
        if self.digit_groups {
            digit_group_matches(s, out);
            return Ok(());
        }
        let n0 = out.len();
        if let Some(bs) = &self.branches {
            match branch_matches(bs, s, out) {
                Ok(true) => return Ok(()),
                Ok(false) | Err(()) => out.truncate(n0),
            }
        }
        for m in self.whole.find_iter(s) {
            match m {
                Ok(m) => out.push((m.start(), m.end())),
                Err(_) => return Err(()),
            }
        }
        Ok(())
    }
}

/// Ok(false): a branch matched the empty string (the caller falls back to the whole regex).
fn branch_matches(bs: &[Regex], s: &str, out: &mut Vec<(usize, usize)>) -> Result<bool, ()> {
    const NONE: (usize, usize) = (usize::MAX, usize::MAX);
    // next[k]: branch k's leftmost match at or after the position it was searched from;
    // searched_from[k]: that position (the cache is valid while the search is not past start)
    let mut next = vec![NONE; bs.len()];
    let mut valid = vec![false; bs.len()];
    let mut pos = 0;
    while pos < s.len() {
        let mut best: Option<(usize, usize, usize)> = None; // (start, end, branch)
        for (k, re) in bs.iter().enumerate() {
            if !valid[k] || (next[k] != NONE && next[k].0 < pos) {
                next[k] = match re.find_from_pos(s, pos) {
                    Ok(Some(m)) => (m.start(), m.end()),
                    Ok(None) => NONE,
                    Err(_) => return Err(()),
                };
                valid[k] = true;
            }
            let (a, e) = next[k];
            if a == usize::MAX {
                continue;
            }
            if a == e {
                return Ok(false);
            }
            if best.is_none_or(|(ba, _, _)| a < ba) {
                best = Some((a, e, k));
            }
        }
        let Some((a, e, _)) = best else { break };
        out.push((a, e));
        pos = e;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_groups_match_the_regex() {
        let re = Re::new(DIGIT_GROUPS).unwrap();
        assert!(re.digit_groups);
        let texts = ["", "7", "a 1234567890 b 12 c 123", "٠١٢٣٤ and 12٣45", "x1,000,000y 99999\n0", "ab  cd"];
        for t in texts {
            let mut fast = Vec::new();
            re.matches(t, &mut fast).unwrap();
            let slow: Vec<_> = re.whole.find_iter(t).map(|m| m.unwrap()).map(|m| (m.start(), m.end())).collect();
            assert_eq!(fast, slow, "{t:?}");
        }
    }

    #[test]
    fn splits_top_level_only() {
        assert_eq!(top_level_branches("a|b(c|d)|[|]|\\|x"), Some(vec!["a", "b(c|d)", "[|]", "\\|x"]));
        assert_eq!(top_level_branches("(?i)a|b"), None);
        assert_eq!(top_level_branches("(?i:a|b)|c"), Some(vec!["(?i:a|b)", "c"]));
        assert_eq!(top_level_branches("[]|]|a"), Some(vec!["[]|]", "a"]));
        assert_eq!(top_level_branches("abc"), None);
    }

    #[test]
    fn same_matches_as_the_whole_regex() {
        let pats = [
            r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
            r"\p{N}{1,3}| ?[^\s\p{L}\p{N}]{2,}[\r\n/]*| +(?!\S)",
            r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
        ];
        let texts = ["Hello world!!  It's 12345 ok...\n\n  x", "   a  b\t\n c:// d", "", " ", "ééé 1 2 3 ,,, ::\r\n"];
        for p in pats {
            let re = Re::new(p).unwrap();
            assert_eq!(re.branches.is_some(), !p.contains("\\p{L}+"));
            let re = Re { branches: top_level_branches(p).map(|bs| bs.iter().map(|b| build(b).unwrap()).collect()), ..re };
            for t in texts {
                let mut fast = Vec::new();
                re.matches(t, &mut fast).unwrap();
                let slow: Vec<_> = re.whole.find_iter(t).map(|m| m.unwrap()).map(|m| (m.start(), m.end())).collect();
                assert_eq!(fast, slow, "{p:?} on {t:?}");
            }
        }
    }
}
