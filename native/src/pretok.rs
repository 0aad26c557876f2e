//! Pretokenization with Hugging Face `tokenizers` semantics, over raw text.
//!
//! A pipeline of steps (the data model's pretokenizer `Step`s) splits the text into pieces; each
//! step refines every piece of the previous one. Pieces are spans of the input plus an optional
//! prepended space (ByteLevel's `add_prefix_space`, Metaspace's prepend scheme), so counting
//! and encoding never copy the text. SentencePiece's `▁` is kept as a plain space, as in the
//! data model. Regexes use fancy-regex in Oniguruma mode (HF uses Oniguruma), which has the
//! lookahead and possessive/atomic constructs the GPT-2, Llama-3 and SuperBPE patterns need.

use crate::fastre::Re as Regex;
use serde::Deserialize;

pub const GPT2_PATTERN: &str =
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

/// HF's `SplitDelimiterBehavior` (tokenizer.json spells it in CamelCase; snake_case accepted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
pub enum Behavior {
    #[serde(alias = "removed")]
    Removed,
    #[default]
    #[serde(alias = "isolated")]
    Isolated,
    #[serde(alias = "merged_with_previous")]
    MergedWithPrevious,
    #[serde(alias = "merged_with_next")]
    MergedWithNext,
    #[serde(alias = "contiguous")]
    Contiguous,
}

/// One pretokenizer step as the data model (and tokenizer.json) spells it. Adding a kind: one
/// variant here and its compiled form in [`PretokStep::compile`] (most are a [`StepKind::Split`]
/// with a matcher and a behaviour).
#[derive(Deserialize, Debug, Clone)]
#[serde(tag = "kind", content = "params", rename_all = "snake_case")]
pub enum PretokStep {
    Split {
        #[serde(default)]
        regex: Option<String>,
        #[serde(default)]
        string: Option<String>,
        #[serde(default)]
        behavior: Behavior,
        #[serde(default)]
        invert: bool,
    },
    ByteLevel {
        #[serde(default)]
        add_prefix_space: bool,
        #[serde(default = "yes")]
        use_regex: bool,
    },
    Digits {
        #[serde(default)]
        individual_digits: bool,
    },
    Metaspace {
        #[serde(default)]
        prepend_scheme: Option<String>,
        #[serde(default)]
        add_prefix_space: Option<bool>,
        #[serde(default)]
        replacement: Option<String>,
        #[serde(default = "yes")]
        split: bool,
    },
    WhitespaceSplit {},
    Whitespace {},
    Punctuation {
        #[serde(default)]
        behavior: Behavior,
    },
    CharDelimiterSplit {
        #[serde(default)]
        delimiter: Option<String>,
    },
    Bert {},
}

fn yes() -> bool {
    true
}

impl PretokStep {
    fn compile(&self) -> Result<StepKind, String> {
        Ok(match self {
            PretokStep::Split { regex, string, behavior, invert } => {
                let m = match (regex, string) {
                    (Some(r), _) => Matcher::Regex(build_regex(r)?),
                    (None, Some(lit)) => Matcher::Literal(lit.clone()),
                    (None, None) => return Err("split step needs a regex or a string".into()),
                };
                StepKind::Split { m, behavior: *behavior, invert: *invert }
            }
            PretokStep::ByteLevel { add_prefix_space, use_regex } => StepKind::ByteLevel {
                add_prefix_space: *add_prefix_space,
                regex: if *use_regex { Some(Matcher::Regex(build_regex(GPT2_PATTERN)?)) } else { None },
            },
            PretokStep::Digits { individual_digits } => StepKind::Split {
                m: Matcher::Numeric,
                behavior: if *individual_digits { Behavior::Isolated } else { Behavior::Contiguous },
                invert: false,
            },
            PretokStep::Metaspace { prepend_scheme, add_prefix_space, replacement, split } => {
                let scheme = match prepend_scheme.as_deref() {
                    Some("always") => Prepend::Always,
                    Some("never") => Prepend::Never,
                    Some("first") => Prepend::First,
                    Some(other) => return Err(format!("unknown prepend_scheme {other:?}")),
                    None => if add_prefix_space.unwrap_or(true) { Prepend::Always } else { Prepend::Never },
                };
                let replacement = replacement.as_deref().unwrap_or("\u{2581}");
                if replacement != "\u{2581}" {
                    return Err(format!("metaspace replacement {replacement:?} is not supported (only ▁)"));
                }
                StepKind::Metaspace { prepend: scheme, split: *split }
            }
            PretokStep::WhitespaceSplit {} => StepKind::Split { m: Matcher::Whitespace, behavior: Behavior::Removed, invert: false },
            PretokStep::Whitespace {} => StepKind::Split {
                m: Matcher::Regex(build_regex(r"\w+|[^\w\s]+")?), behavior: Behavior::Removed, invert: true,
            },
            PretokStep::Punctuation { behavior } => StepKind::Split { m: Matcher::Punctuation, behavior: *behavior, invert: false },
            PretokStep::CharDelimiterSplit { delimiter } => {
                let d = delimiter.as_deref().and_then(|s| s.chars().next()).ok_or("char_delimiter_split needs a delimiter")?;
                StepKind::Split { m: Matcher::Char(d), behavior: Behavior::Removed, invert: false }
            }
            PretokStep::Bert {} => StepKind::Bert,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prepend {
    Always,
    First,
    Never,
}

/// What a step matches on.
enum Matcher {
    Regex(Regex),
    Literal(String),
    Numeric,     // char::is_numeric (HF Digits)
    Whitespace,  // char::is_whitespace
    Punctuation, // ASCII punctuation or Unicode P* (HF Punctuation / Bert)
    Char(char),
}

enum StepKind {
    Split { m: Matcher, behavior: Behavior, invert: bool },
    ByteLevel { add_prefix_space: bool, regex: Option<Matcher> },
    Metaspace { prepend: Prepend, split: bool },
    Bert,
}

pub struct Pretokenizer {
    steps: Vec<StepKind>,
}

/// A piece: `text[start..end]`, preceded by one space when `prefix_space`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    pub start: usize,
    pub end: usize,
    pub prefix_space: bool,
}

impl Piece {
    pub fn bytes(&self, text: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.end - self.start + self.prefix_space as usize);
        if self.prefix_space {
            out.push(b' ');
        }
        out.extend_from_slice(&text.as_bytes()[self.start..self.end]);
        out
    }
}

fn build_regex(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern)
}

/// HF's notion of punctuation: ASCII punctuation or a Unicode P* general category.
fn is_punct(c: char) -> bool {
    use unicode_categories::UnicodeCategories;
    c.is_ascii_punctuation() || c.is_punctuation()
}

impl Pretokenizer {
    /// Build from the data model's steps: a JSON list of `{"kind": ..., "params": {...}}`.
    pub fn from_json(spec: &str) -> Result<Self, String> {
        Self::from_steps(&crate::normalizers::parse_steps::<PretokStep>(spec, "pretokenizer")?)
    }

    pub fn from_steps(steps: &[PretokStep]) -> Result<Self, String> {
        Ok(Pretokenizer { steps: steps.iter().map(PretokStep::compile).collect::<Result<_, _>>()? })
    }

    /// Split `text` into pieces.
    pub fn pieces(&self, text: &str) -> Vec<Piece> {
        let mut cur = vec![Piece { start: 0, end: text.len(), prefix_space: false }];
        if text.is_empty() {
            return Vec::new();
        }
        for step in &self.steps {
            let mut next = Vec::with_capacity(cur.len() * 2);
            for (k, piece) in cur.iter().enumerate() {
                apply(step, text, *piece, k == 0, &mut next);
            }
            cur = next;
        }
        cur.retain(|p| p.end > p.start || p.prefix_space);
        cur
    }
}

/// Segments (start, end, is_match) of `text[start..end]` covering it, for a matcher.
fn segments(m: &Matcher, text: &str, start: usize, end: usize, invert: bool) -> Vec<(usize, usize, bool)> {
    let s = &text[start..end];
    let mut out = Vec::new();
    let mut prev = 0;
    let push_match = |a: usize, b: usize, out: &mut Vec<(usize, usize, bool)>, prev: &mut usize| {
        if *prev < a {
            out.push((start + *prev, start + a, invert));
        }
        out.push((start + a, start + b, !invert));
        *prev = b;
    };
    match m {
        Matcher::Regex(re) => {
            let mut ms = Vec::new();
            let _ = re.matches(s, &mut ms); // backtrack limit: the rest stays one segment
            for (a, b) in ms {
                push_match(a, b, &mut out, &mut prev);
            }
        }
        Matcher::Literal(lit) => {
            if !lit.is_empty() {
                for (a, _) in s.match_indices(lit.as_str()) {
                    if a >= prev {
                        push_match(a, a + lit.len(), &mut out, &mut prev);
                    }
                }
            }
        }
        Matcher::Numeric | Matcher::Whitespace | Matcher::Punctuation | Matcher::Char(_) => {
            for (a, c) in s.char_indices() {
                let hit = match m {
                    Matcher::Numeric => c.is_numeric(),
                    Matcher::Whitespace => c.is_whitespace(),
                    Matcher::Punctuation => is_punct(c),
                    Matcher::Char(d) => c == *d,
                    _ => unreachable!(),
                };
                if hit {
                    push_match(a, a + c.len_utf8(), &mut out, &mut prev);
                }
            }
        }
    }
    if prev < s.len() {
        out.push((start + prev, end, invert));
    }
    out
}

/// Apply a split behaviour to segments (HF's semantics), producing (start, end) spans.
fn behave(segs: Vec<(usize, usize, bool)>, b: Behavior) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(segs.len());
    match b {
        Behavior::Isolated => out.extend(segs.iter().map(|&(a, e, _)| (a, e))),
        Behavior::Removed => out.extend(segs.iter().filter(|s| !s.2).map(|&(a, e, _)| (a, e))),
        Behavior::MergedWithPrevious => {
            let mut prev_match = false;
            for (a, e, m) in segs {
                match out.last_mut() {
                    Some(last) if m && !prev_match => last.1 = e,
                    _ => out.push((a, e)),
                }
                prev_match = m;
            }
        }
        Behavior::MergedWithNext => {
            let mut prev_match = false;
            for (a, e, m) in segs.into_iter().rev() {
                match out.last_mut() {
                    Some(last) if m && !prev_match => last.0 = a,
                    _ => out.push((a, e)),
                }
                prev_match = m;
            }
            out.reverse();
        }
        Behavior::Contiguous => {
            let mut prev_match: Option<bool> = None;
            for (a, e, m) in segs {
                match out.last_mut() {
                    Some(last) if prev_match == Some(m) => last.1 = e,
                    _ => out.push((a, e)),
                }
                prev_match = Some(m);
            }
        }
    }
    out.retain(|(a, e)| e > a);
    out
}

fn split_piece(p: Piece, m: &Matcher, text: &str, b: Behavior, invert: bool, out: &mut Vec<Piece>) {
    let spans = behave(segments(m, text, p.start, p.end, invert), b);
    for (k, (a, e)) in spans.into_iter().enumerate() {
        // a prepended space stays with the piece that starts where the original one started
        out.push(Piece { start: a, end: e, prefix_space: p.prefix_space && k == 0 && a == p.start });
    }
    if p.prefix_space && p.start == p.end {
        out.push(p);
    }
}

fn apply(step: &StepKind, text: &str, p: Piece, first: bool, out: &mut Vec<Piece>) {
    match step {
        StepKind::Split { m, behavior, invert } => split_piece(p, m, text, *behavior, *invert, out),
        StepKind::ByteLevel { add_prefix_space, regex } => {
            let starts_with_space = p.prefix_space || text[p.start..p.end].starts_with(' ');
            let p = Piece { prefix_space: p.prefix_space || (*add_prefix_space && !starts_with_space), ..p };
            match regex {
                None => out.push(p),
                Some(m) if !p.prefix_space => {
                    // (a regex is never cloned: a clone starts with empty DFA caches)
                    split_piece(p, m, text, Behavior::Isolated, false, out)
                }
                Some(m) => {
                    let Matcher::Regex(re) = m else { unreachable!() };
                    // the regex sees the prepended space: run it on " " + piece, then map back
                    let owned = format!(" {}", &text[p.start..p.end]);
                    let mut ms = Vec::new();
                    let _ = re.matches(&owned, &mut ms);
                    for (a, e) in ms {
                        if a == 0 {
                            out.push(Piece { start: p.start, end: p.start + e - 1, prefix_space: true });
                        } else {
                            out.push(Piece { start: p.start + a - 1, end: p.start + e - 1, prefix_space: false });
                        }
                    }
                }
            }
        }
        StepKind::Metaspace { prepend, split } => {
            let s = &text[p.start..p.end];
            let add = match prepend {
                Prepend::Always => !p.prefix_space && !s.starts_with(' '),
                Prepend::First => first && p.start == 0 && !p.prefix_space && !s.starts_with(' '),
                Prepend::Never => false,
            };
            let p = Piece { prefix_space: p.prefix_space || add, ..p };
            if *split {
                split_piece(p, &Matcher::Char(' '), text, Behavior::MergedWithNext, false, out)
            } else {
                out.push(p)
            }
        }
        StepKind::Bert => {
            let mut tmp = Vec::new();
            split_piece(p, &Matcher::Whitespace, text, Behavior::Removed, false, &mut tmp);
            for q in tmp {
                split_piece(q, &Matcher::Punctuation, text, Behavior::Isolated, false, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(spec: &str, text: &str) -> Vec<String> {
        let p = Pretokenizer::from_json(spec).unwrap();
        p.pieces(text).iter().map(|x| String::from_utf8(x.bytes(text)).unwrap()).collect()
    }

    #[test]
    fn gpt2_regex() {
        let spec = r#"[{"kind":"byte_level","params":{"add_prefix_space":false,"use_regex":true}}]"#;
        assert_eq!(run(spec, "Hello world!  It's 42"), vec!["Hello", " world", "!", " ", " It", "'s", " 42"]);
        let spec = r#"[{"kind":"byte_level","params":{"add_prefix_space":true,"use_regex":true}}]"#;
        assert_eq!(run(spec, "Hi there"), vec![" Hi", " there"]);
    }

    #[test]
    fn digits_then_regex() {
        let spec = r#"[{"kind":"digits","params":{"individual_digits":true}},
                       {"kind":"byte_level","params":{"use_regex":true}}]"#;
        assert_eq!(run(spec, "a 123."), vec!["a", " ", "1", "2", "3", "."]);
    }

    #[test]
    fn zero_width_lookahead_splits() {
        // SuperBPE's right-to-left digit grouping: boundaries only
        let spec = r#"[{"kind":"split","params":{"regex":"(?=(\\d{3})+(?!\\d))","behavior":"Isolated"}}]"#;
        assert_eq!(run(spec, "1234567"), vec!["1", "234", "567"]);
    }

    #[test]
    fn behaviors() {
        let mk = |b: &str| format!(r#"[{{"kind":"split","params":{{"string":"-","behavior":"{b}"}}}}]"#);
        assert_eq!(run(&mk("Removed"), "a-b--c"), vec!["a", "b", "c"]);
        assert_eq!(run(&mk("Isolated"), "a-b"), vec!["a", "-", "b"]);
        assert_eq!(run(&mk("MergedWithPrevious"), "a-b-"), vec!["a-", "b-"]);
        assert_eq!(run(&mk("MergedWithNext"), "a-b-"), vec!["a", "-b", "-"]);
        assert_eq!(run(&mk("Contiguous"), "a--b"), vec!["a", "--", "b"]);
    }

    #[test]
    fn metaspace() {
        let spec = r#"[{"kind":"metaspace","params":{"prepend_scheme":"always","split":true}}]"#;
        assert_eq!(run(spec, "Hey  you"), vec![" Hey", " ", " you"]);
        let spec = r#"[{"kind":"metaspace","params":{"prepend_scheme":"first","split":false}}]"#;
        assert_eq!(run(spec, "a b"), vec![" a b"]);
    }

    #[test]
    fn bad_specs_are_errors() {
        assert!(Pretokenizer::from_json(r#"[{"kind":"nope"}]"#).is_err());
        assert!(Pretokenizer::from_json(r#"[{"kind":"split","params":{"regex":"("}}]"#).is_err());
    }
}
