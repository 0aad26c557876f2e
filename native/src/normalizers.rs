//! Normalizer steps with Hugging Face `tokenizers` semantics, typed.
//!
//! A step arrives as the data model writes it, `{"kind": snake_case, "params": {HF-named
//! params}}`, and deserializes into [`NormalizerStep`] (one variant per kind, typed fields with
//! HF's defaults). Adding a kind: one variant here, its compiled form in [`Norm`], and its two
//! implementations below (plain string for ids, aligned for offsets).
//!
//! Two ways to run a normalizer over text:
//! - [`Normalizer::normalize`]: the normalized string only (the ids path);
//! - [`Normalizer::normalize_aligned`]: the string plus, for every normalized byte, the range
//!   of original bytes it comes from, as HF's `NormalizedString` keeps it (every byte of a
//!   normalized char carries its char's range; prepended text aligns to the first char; a
//!   replacement aligns to the last char of what it replaced; NFC/NFKC/lowercase through the
//!   same `unicode-normalization-alignments` change list HF uses). Offsets of tokens follow.

use fancy_regex::Regex;
use serde::Deserialize;
use unicode_normalization_alignments::UnicodeNormalization;

/// One normalizer step as the data model (and tokenizer.json) spells it.
#[derive(Deserialize, Debug, Clone)]
#[serde(tag = "kind", content = "params", rename_all = "snake_case")]
pub enum NormalizerStep {
    Nfc {},
    Nfd {},
    Nfkc {},
    Nfkd {},
    Lowercase {},
    Prepend {
        #[serde(default)]
        prepend: String,
    },
    Replace {
        #[serde(default)]
        regex: Option<String>,
        #[serde(default)]
        string: Option<String>,
        #[serde(default)]
        content: String,
    },
    Strip {
        #[serde(default = "yes")]
        strip_left: bool,
        #[serde(default = "yes")]
        strip_right: bool,
    },
}

fn yes() -> bool {
    true
}

/// A compiled step.
enum Norm {
    Nfc,
    Nfd,
    Nfkc,
    Nfkd,
    Lowercase,
    Prepend(String),
    ReplaceStr(String, String),
    ReplaceRegex(Regex, String),
    Strip { left: bool, right: bool },
}

/// A compiled normalizer pipeline.
pub struct Normalizer {
    norms: Vec<Norm>,
}

/// Parse a JSON list of steps of one family, turning serde's "unknown variant" into a clear
/// "not supported" message.
pub fn parse_steps<T: serde::de::DeserializeOwned>(json: &str, family: &str) -> Result<Vec<T>, String> {
    serde_json::from_str::<Vec<T>>(json).map_err(|e| step_error(&e.to_string(), family))
}

pub fn step_error(msg: &str, family: &str) -> String {
    if let Some(rest) = msg.strip_prefix("unknown variant `") {
        let kind = rest.split('`').next().unwrap_or("");
        format!("{family} step {kind:?} is not supported by the native core")
    } else {
        format!("bad {family} step: {msg}")
    }
}

impl Normalizer {
    /// The steps as HF runs them (a SentencePiece-style `▁` stays `▁`: the encoder turns it into
    /// the data model's space afterwards).
    pub fn new(steps: &[NormalizerStep]) -> Result<Self, String> {
        let mut norms = Vec::with_capacity(steps.len());
        for s in steps {
            norms.push(match s {
                NormalizerStep::Nfc {} => Norm::Nfc,
                NormalizerStep::Nfd {} => Norm::Nfd,
                NormalizerStep::Nfkc {} => Norm::Nfkc,
                NormalizerStep::Nfkd {} => Norm::Nfkd,
                NormalizerStep::Lowercase {} => Norm::Lowercase,
                NormalizerStep::Prepend { prepend } => Norm::Prepend(prepend.clone()),
                NormalizerStep::Replace { regex: Some(r), content, .. } => {
                    let re = fancy_regex::RegexBuilder::new(r).oniguruma_mode(true).build()
                        .map_err(|e| format!("bad regex {r:?}: {e}"))?;
                    Norm::ReplaceRegex(re, content.clone())
                }
                NormalizerStep::Replace { regex: None, string, content } => {
                    let (pat, content) = (string.clone().unwrap_or_default(), content.clone());
                    if pat == content {
                        continue;
                    }
                    Norm::ReplaceStr(pat, content)
                }
                NormalizerStep::Strip { strip_left, strip_right } => Norm::Strip { left: *strip_left, right: *strip_right },
            });
        }
        Ok(Normalizer { norms })
    }

    pub fn is_empty(&self) -> bool {
        self.norms.is_empty()
    }

    /// The normalized string.
    pub fn normalize(&self, text: &str) -> String {
        let mut s = text.to_string();
        for n in &self.norms {
            s = match n {
                Norm::Nfc => s.nfc().map(|(c, _)| c).collect(),
                Norm::Nfd => s.nfd().map(|(c, _)| c).collect(),
                Norm::Nfkc => s.nfkc().map(|(c, _)| c).collect(),
                Norm::Nfkd => s.nfkd().map(|(c, _)| c).collect(),
                Norm::Lowercase => s.to_lowercase(),
                Norm::Prepend(x) => {
                    if s.is_empty() { s } else { format!("{x}{s}") }
                }
                Norm::ReplaceStr(a, b) => if a.is_empty() { s } else { s.replace(a.as_str(), b) },
                Norm::ReplaceRegex(re, b) => replace_regex(re, &s, b),
                Norm::Strip { left, right } => {
                    let t = if *left { s.trim_start() } else { &s[..] };
                    let t = if *right { t.trim_end() } else { t };
                    t.to_string()
                }
            };
        }
        s
    }

    /// The normalized string with its alignments (see [`Aligned`]).
    pub fn normalize_aligned(&self, a: Aligned) -> Aligned {
        let mut a = a;
        for n in &self.norms {
            a = match n {
                Norm::Nfc => {
                    let d = a.s.nfc().collect::<Vec<_>>();
                    a.transform(d)
                }
                Norm::Nfd => {
                    let d = a.s.nfd().collect::<Vec<_>>();
                    a.transform(d)
                }
                Norm::Nfkc => {
                    let d = a.s.nfkc().collect::<Vec<_>>();
                    a.transform(d)
                }
                Norm::Nfkd => {
                    let d = a.s.nfkd().collect::<Vec<_>>();
                    a.transform(d)
                }
                Norm::Lowercase => {
                    let mut dest = Vec::with_capacity(a.s.len());
                    for c in a.s.chars() {
                        for (k, l) in c.to_lowercase().enumerate() {
                            dest.push((l, (k > 0) as isize));
                        }
                    }
                    a.transform(dest)
                }
                Norm::Prepend(x) => a.prepend(x),
                Norm::ReplaceStr(p, b) => {
                    if p.is_empty() {
                        a
                    } else {
                        let ms: Vec<(usize, usize)> = a.s.match_indices(p.as_str()).map(|(i, m)| (i, i + m.len())).collect();
                        a.replace(&ms, b)
                    }
                }
                Norm::ReplaceRegex(re, b) => {
                    let ms: Vec<(usize, usize)> = re.find_iter(&a.s).filter_map(|m| m.ok()).map(|m| (m.start(), m.end())).collect();
                    a.replace(&ms, b)
                }
                Norm::Strip { left, right } => a.strip(*left, *right),
            };
        }
        a
    }
}

fn replace_regex(re: &Regex, s: &str, content: &str) -> String {
    // the same matches the aligned path uses (a match that errors is skipped, as there)
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for m in re.find_iter(s).filter_map(|m| m.ok()) {
        out.push_str(&s[last..m.start()]);
        out.push_str(content);
        last = m.end();
    }
    out.push_str(&s[last..]);
    out
}

/// A normalized string and, per normalized byte, the original byte range it comes from
/// (HF's `NormalizedString` alignments, in the coordinates of the text being encoded).
#[derive(Clone, Debug)]
pub struct Aligned {
    pub s: String,
    pub align: Vec<(u32, u32)>,
    /// where an insertion at the very start aligns (HF: the start of the slice, (0, 0))
    pub base: u32,
}

impl Aligned {
    /// `text` as the slice starting at byte `base` of the encoded text: every byte of a char
    /// carries the char's range.
    pub fn new(text: &str, base: usize) -> Self {
        let mut align = Vec::with_capacity(text.len());
        for (b, c) in text.char_indices() {
            let (s, e) = ((base + b) as u32, (base + b + c.len_utf8()) as u32);
            for _ in 0..c.len_utf8() {
                align.push((s, e));
            }
        }
        Aligned { s: text.to_string(), align, base: base as u32 }
    }

    /// HF's `NormalizedString::transform` over the whole string: `dest` is (char, change) with
    /// change 0 = replaces the next char, > 0 = inserted, < 0 = replaces the next char and
    /// removes -change more.
    fn transform(self, dest: Vec<(char, isize)>) -> Aligned {
        let old: Vec<char> = self.s.chars().collect();
        let mut it = old.into_iter();
        let mut offset: usize = 0;
        let mut s = String::with_capacity(self.s.len());
        let mut align = Vec::with_capacity(self.align.len());
        for (c, changes) in dest {
            let a = if changes > 0 {
                if offset < 1 { (self.base, self.base) } else { self.align[offset - 1] }
            } else {
                self.align[offset]
            };
            if changes <= 0 {
                offset += it.next().map_or(0, |r| r.len_utf8());
            }
            if changes < 0 {
                for _ in 0..(-changes) {
                    offset += it.next().map_or(0, |r| r.len_utf8());
                }
            }
            for _ in 0..c.len_utf8() {
                align.push(a);
            }
            s.push(c);
        }
        Aligned { s, align, base: self.base }
    }

    fn prepend(self, x: &str) -> Aligned {
        if self.s.is_empty() || x.is_empty() {
            return self;
        }
        let first = self.align[0];
        let mut align = Vec::with_capacity(self.align.len() + x.len());
        align.extend(std::iter::repeat_n(first, x.len()));
        align.extend_from_slice(&self.align);
        Aligned { s: format!("{x}{}", self.s), align, base: self.base }
    }

    /// Replace the (non-overlapping, increasing) byte ranges `ms` by `content`: the new chars
    /// align to the last byte of what they replace (HF's `replace`).
    fn replace(self, ms: &[(usize, usize)], content: &str) -> Aligned {
        if ms.is_empty() {
            return self;
        }
        let mut s = String::with_capacity(self.s.len());
        let mut align = Vec::with_capacity(self.align.len());
        let mut last = 0;
        for &(a, e) in ms {
            s.push_str(&self.s[last..a]);
            align.extend_from_slice(&self.align[last..a]);
            let al = if e < 1 { (self.base, self.base) } else { self.align[e - 1] };
            s.push_str(content);
            align.extend(std::iter::repeat_n(al, content.len()));
            last = e;
        }
        s.push_str(&self.s[last..]);
        align.extend_from_slice(&self.align[last..]);
        Aligned { s, align, base: self.base }
    }

    /// Every `▁` as a space (the data model's spelling), aligned to the `▁` it was.
    pub fn metaspace_to_spaces(self) -> Aligned {
        let ms: Vec<(usize, usize)> = self.s.match_indices('\u{2581}').map(|(i, m)| (i, i + m.len())).collect();
        self.replace(&ms, " ")
    }

    fn strip(self, left: bool, right: bool) -> Aligned {
        let a = if left { self.s.len() - self.s.trim_start().len() } else { 0 };
        let e = if right { self.s.trim_end().len() } else { self.s.len() };
        if a == 0 && e == self.s.len() {
            return self;
        }
        let e = e.max(a);
        Aligned { s: self.s[a..e].to_string(), align: self.align[a..e].to_vec(), base: self.base }
    }

    /// Original start of the normalized byte `x` (a token starts there): the char's own start,
    /// or, inside a char that is an unchanged copy of its original (same length), the exact
    /// byte.
    #[inline]
    pub fn start_of(&self, x: usize) -> u32 {
        if self.s.is_char_boundary(x) {
            return self.align[x].0;
        }
        let cs = (0..x).rev().find(|&i| self.s.is_char_boundary(i)).unwrap_or(0);
        let (o0, o1) = self.align[cs];
        let clen = self.s[cs..].chars().next().map_or(1, |c| c.len_utf8());
        if (o1 - o0) as usize == clen { o0 + (x - cs) as u32 } else { o0 }
    }

    /// Original end of a token whose last normalized byte is `x`.
    #[inline]
    pub fn end_of(&self, x: usize) -> u32 {
        if self.s.is_char_boundary(x + 1) {
            return self.align[x].1;
        }
        let cs = (0..=x).rev().find(|&i| self.s.is_char_boundary(i)).unwrap_or(0);
        let (o0, o1) = self.align[cs];
        let clen = self.s[cs..].chars().next().map_or(1, |c| c.len_utf8());
        if (o1 - o0) as usize == clen { o0 + (x + 1 - cs) as u32 } else { o1 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(json: &str) -> Normalizer {
        Normalizer::new(&parse_steps::<NormalizerStep>(json, "normalizer").unwrap()).unwrap()
    }

    #[test]
    fn aligned_and_plain_agree() {
        let specs = [
            r#"[{"kind":"nfkc","params":{}},{"kind":"lowercase","params":{}}]"#,
            r#"[{"kind":"prepend","params":{"prepend":"▁"}},{"kind":"replace","params":{"string":" ","content":"▁"}}]"#,
            r#"[{"kind":"nfd","params":{}},{"kind":"replace","params":{"regex":"\\p{Mn}","content":""}},{"kind":"strip","params":{}}]"#,
        ];
        for spec in specs {
            let n = norm(spec);
            for t in ["", " Héllo  Wörld ", "ﬁ İ Σ ẞ", "e\u{301}\u{302}x 日本"] {
                let a = n.normalize_aligned(Aligned::new(t, 0));
                assert_eq!(a.s, n.normalize(t), "{spec} {t:?}");
                assert_eq!(a.align.len(), a.s.len());
            }
        }
    }

    #[test]
    fn hf_alignments() {
        // prepend aligns to the first char, a replacement to what it replaced
        let n = norm(r#"[{"kind":"prepend","params":{"prepend":"▁"}},{"kind":"replace","params":{"string":" ","content":"▁"}}]"#);
        let a = n.normalize_aligned(Aligned::new("ab c", 0));
        assert_eq!(a.s, "▁ab▁c");
        assert_eq!(a.align, vec![(0, 1), (0, 1), (0, 1), (0, 1), (1, 2), (2, 3), (2, 3), (2, 3), (3, 4)]);
        // NFC composition aligns to the first char it replaces (HF)
        let n = norm(r#"[{"kind":"nfc","params":{}}]"#);
        let a = n.normalize_aligned(Aligned::new("e\u{301}x", 0));
        assert_eq!(a.s, "\u{e9}x");
        assert_eq!(a.align, vec![(0, 1), (0, 1), (3, 4)]);
    }

    #[test]
    fn unknown_kinds_are_clear_errors() {
        let e = parse_steps::<NormalizerStep>(r#"[{"kind":"precompiled","params":{}}]"#, "normalizer").unwrap_err();
        assert!(e.contains("\"precompiled\" is not supported by the native core"), "{e}");
    }
}
