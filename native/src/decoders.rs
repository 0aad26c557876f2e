//! Decoding ids to text with Hugging Face `tokenizers` semantics, typed decoder steps.
//!
//! HF decodes by mapping every id to its token string (an added token's content, or its
//! normalized form when the token is normalized; the model's spelling otherwise; unknown ids are
//! dropped), dropping special tokens when asked, running the decoder steps over the list of
//! strings (`decode_chain`) and joining the result. [`Decoder`] does the same, with a fast path
//! for a lone `byte_level` decoder (precomputed bytes per id). A step arrives as
//! `{"kind": snake_case, "params": {HF-named params}}` and deserializes into [`DecoderStep`];
//! adding a kind is one variant and one arm of [`DecoderStep::apply`].

use fancy_regex::Regex;
use serde::Deserialize;

use crate::bytelevel;

#[derive(Deserialize, Debug, Clone)]
#[serde(tag = "kind", content = "params", rename_all = "snake_case")]
pub enum DecoderStep {
    ByteLevel {},
    Replace {
        #[serde(default)]
        regex: Option<String>,
        #[serde(default)]
        string: Option<String>,
        #[serde(default)]
        content: String,
    },
    ByteFallback {},
    Fuse {},
    Strip {
        content: char,
        #[serde(default)]
        start: usize,
        #[serde(default)]
        stop: usize,
    },
    Wordpiece {
        #[serde(default = "hashes")]
        prefix: String,
        #[serde(default = "yes")]
        cleanup: bool,
    },
    Metaspace {
        #[serde(default)]
        replacement: Option<char>,
        #[serde(default)]
        prepend_scheme: Option<String>,
        #[serde(default)]
        add_prefix_space: Option<bool>,
    },
    BpeDecoder {
        #[serde(default = "end_of_word")]
        suffix: String,
    },
    Ctc {
        #[serde(default = "pad")]
        pad_token: String,
        #[serde(default = "bar")]
        word_delimiter_token: String,
        #[serde(default = "yes")]
        cleanup: bool,
    },
}

fn yes() -> bool {
    true
}
fn hashes() -> String {
    "##".into()
}
fn end_of_word() -> String {
    "</w>".into()
}
fn pad() -> String {
    "<pad>".into()
}
fn bar() -> String {
    "|".into()
}

/// A compiled step.
enum Step {
    ByteLevel,
    ReplaceStr(String, String),
    ReplaceRegex(Regex, String),
    ByteFallback,
    Fuse,
    Strip { content: char, start: usize, stop: usize },
    WordPiece { prefix: String, cleanup: bool },
    Metaspace { replacement: char, prepend: bool },
    Bpe { suffix: String },
    Ctc { pad: String, delimiter: String, cleanup: bool },
}

impl DecoderStep {
    fn compile(&self) -> Result<Step, String> {
        Ok(match self {
            DecoderStep::ByteLevel {} => Step::ByteLevel,
            DecoderStep::Replace { regex: Some(r), content, .. } => Step::ReplaceRegex(
                fancy_regex::RegexBuilder::new(r).oniguruma_mode(true).build().map_err(|e| format!("bad regex {r:?}: {e}"))?,
                content.clone(),
            ),
            DecoderStep::Replace { regex: None, string, content } => Step::ReplaceStr(string.clone().unwrap_or_default(), content.clone()),
            DecoderStep::ByteFallback {} => Step::ByteFallback,
            DecoderStep::Fuse {} => Step::Fuse,
            DecoderStep::Strip { content, start, stop } => Step::Strip { content: *content, start: *start, stop: *stop },
            DecoderStep::Wordpiece { prefix, cleanup } => Step::WordPiece { prefix: prefix.clone(), cleanup: *cleanup },
            DecoderStep::Metaspace { replacement, prepend_scheme, add_prefix_space } => {
                let never = match prepend_scheme.as_deref() {
                    Some("never") => true,
                    Some("always") | Some("first") => false,
                    Some(other) => return Err(format!("unknown prepend_scheme {other:?}")),
                    None => *add_prefix_space == Some(false),
                };
                Step::Metaspace { replacement: replacement.unwrap_or('\u{2581}'), prepend: !never }
            }
            DecoderStep::BpeDecoder { suffix } => Step::Bpe { suffix: suffix.clone() },
            DecoderStep::Ctc { pad_token, word_delimiter_token, cleanup } => {
                Step::Ctc { pad: pad_token.clone(), delimiter: word_delimiter_token.clone(), cleanup: *cleanup }
            }
        })
    }
}

/// Where decoded bytes are not valid UTF-8 (for errors="strict"): the bytes concerned and the
/// invalid range in them.
#[derive(Debug)]
pub struct Utf8Error {
    pub bytes: Vec<u8>,
    pub start: usize,
    pub end: usize,
}

fn lossy(bytes: Vec<u8>, strict: bool) -> Result<String, Utf8Error> {
    match String::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) => {
            let bytes = e.into_bytes();
            if strict {
                let err = std::str::from_utf8(&bytes).unwrap_err();
                let start = err.valid_up_to();
                let end = start + err.error_len().unwrap_or(bytes.len() - start);
                return Err(Utf8Error { bytes, start, end });
            }
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        }
    }
}

fn wordpiece_cleanup(s: &str) -> String {
    s.replace(" .", ".")
        .replace(" ?", "?")
        .replace(" !", "!")
        .replace(" ,", ",")
        .replace(" ' ", "'")
        .replace(" n't", "n't")
        .replace(" 'm", "'m")
        .replace(" do not", " don't")
        .replace(" 's", "'s")
        .replace(" 've", "'ve")
        .replace(" 're", "'re")
}

/// The byte `<0xXX>` spells (HF's ByteFallback test: six bytes, `<0x`, two hex digits, `>`).
fn fallback_byte(t: &str) -> Option<u8> {
    if t.len() == 6 && t.starts_with("<0x") && t.ends_with('>') {
        u8::from_str_radix(&t[3..5], 16).ok()
    } else {
        None
    }
}

impl Step {
    fn apply(&self, tokens: Vec<String>, strict: bool) -> Result<Vec<String>, Utf8Error> {
        Ok(match self {
            Step::ByteLevel => {
                let mut bytes = Vec::new();
                for t in &tokens {
                    bytelevel_bytes(t, &mut bytes);
                }
                vec![lossy(bytes, strict)?]
            }
            Step::ReplaceStr(p, c) => {
                if p.is_empty() { tokens } else { tokens.into_iter().map(|t| t.replace(p.as_str(), c)).collect() }
            }
            Step::ReplaceRegex(re, c) => tokens
                .into_iter()
                .map(|t| {
                    let mut out = String::with_capacity(t.len());
                    let mut last = 0;
                    for m in re.find_iter(&t).filter_map(|m| m.ok()) {
                        out.push_str(&t[last..m.start()]);
                        out.push_str(c);
                        last = m.end();
                    }
                    out.push_str(&t[last..]);
                    out
                })
                .collect(),
            Step::ByteFallback => {
                let mut out = Vec::with_capacity(tokens.len());
                let mut run: Vec<u8> = Vec::new();
                let flush = |run: &mut Vec<u8>, out: &mut Vec<String>| -> Result<(), Utf8Error> {
                    if run.is_empty() {
                        return Ok(());
                    }
                    match String::from_utf8(std::mem::take(run)) {
                        Ok(s) => out.push(s),
                        Err(e) => {
                            if strict {
                                lossy(e.into_bytes(), true)?;
                                unreachable!();
                            }
                            // HF: one U+FFFD per byte token of the run
                            out.extend(std::iter::repeat_n("\u{fffd}".to_string(), e.as_bytes().len()));
                        }
                    }
                    Ok(())
                };
                for t in tokens {
                    if let Some(b) = fallback_byte(&t) {
                        run.push(b);
                    } else {
                        flush(&mut run, &mut out)?;
                        out.push(t);
                    }
                }
                flush(&mut run, &mut out)?;
                out
            }
            Step::Fuse => vec![tokens.concat()],
            Step::Strip { content, start, stop } => tokens
                .into_iter()
                .map(|t| {
                    let chars: Vec<char> = t.chars().collect();
                    let mut a = 0;
                    for (i, &c) in chars.iter().enumerate().take(*start) {
                        if c == *content { a = i + 1 } else { break }
                    }
                    let mut e = chars.len();
                    for i in 0..*stop {
                        if i >= chars.len() {
                            break;
                        }
                        let k = chars.len() - i - 1;
                        if chars[k] == *content { e = k } else { break }
                    }
                    if e < a { String::new() } else { chars[a..e].iter().collect() }
                })
                .collect(),
            Step::WordPiece { prefix, cleanup } => tokens
                .into_iter()
                .enumerate()
                .map(|(i, t)| {
                    let t = if i == 0 {
                        t
                    } else if let Some(rest) = t.strip_prefix(prefix.as_str()) {
                        rest.to_string()
                    } else {
                        format!(" {t}")
                    };
                    if *cleanup { wordpiece_cleanup(&t) } else { t }
                })
                .collect(),
            Step::Metaspace { replacement, prepend } => tokens
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    t.chars()
                        .filter_map(|c| {
                            if c == *replacement {
                                if i == 0 && *prepend { None } else { Some(' ') }
                            } else {
                                Some(c)
                            }
                        })
                        .collect()
                })
                .collect(),
            Step::Bpe { suffix } => {
                let n = tokens.len();
                tokens
                    .into_iter()
                    .enumerate()
                    .map(|(i, t)| t.replace(suffix.as_str(), if i + 1 == n { "" } else { " " }))
                    .collect()
            }
            Step::Ctc { pad, delimiter, cleanup } => {
                let mut out = Vec::new();
                let mut prev: Option<String> = None;
                for t in tokens {
                    if prev.as_ref() == Some(&t) {
                        continue;
                    }
                    prev = Some(t.clone());
                    let mut r = t.replace(pad.as_str(), "");
                    if *cleanup {
                        r = wordpiece_cleanup(&r).replace(delimiter.as_str(), " ");
                    }
                    if !r.is_empty() {
                        out.push(r);
                    }
                }
                out
            }
        })
    }
}

/// HF's ByteLevel decoder on one token: its chars through the byte-level map, or its own UTF-8
/// bytes when a char is outside the map.
fn bytelevel_bytes(t: &str, out: &mut Vec<u8>) {
    let n0 = out.len();
    for c in t.chars() {
        match bytelevel::char_to_byte(c) {
            Some(b) => out.push(b),
            None => {
                out.truncate(n0);
                out.extend_from_slice(t.as_bytes());
                return;
            }
        }
    }
}

/// Ids -> text. `strings[id]`: the string HF's decoder sees for the id (None: HF drops it);
/// `skip[id]`: a special token (dropped with skip_special_tokens); `raw`: the bytes each id
/// spells in the data model (decode_bytes).
pub struct Decoder {
    strings: Vec<Option<String>>,
    skip: Vec<bool>,
    raw: Vec<u8>,
    raw_ends: Vec<usize>,
    steps: Result<Vec<Step>, String>,
    /// a lone byte_level decoder: every id's decoded bytes, precomputed
    fast_bytes: Option<(Vec<u8>, Vec<usize>)>,
}

impl Decoder {
    /// `normalize`: ids whose string HF keeps normalized for decoding (normalized added
    /// tokens) and the normalizer to apply, when there is one; `special`: the contents of the
    /// special added tokens (HF skips any token whose string is one of them).
    pub fn new(
        strings: Vec<Option<String>>,
        special: &[String],
        raw: &[Vec<u8>],
        steps_json: &str,
        normalize: Option<(&[u32], &crate::normalizers::Normalizer)>,
    ) -> Self {
        let mut strings = strings;
        if let Some((ids, n)) = normalize {
            for &i in ids {
                if let Some(Some(s)) = strings.get_mut(i as usize) {
                    *s = n.normalize(s);
                }
            }
        }
        let special: std::collections::HashSet<&str> = special.iter().map(|s| s.as_str()).collect();
        let skip = strings.iter().map(|s| s.as_deref().is_some_and(|s| special.contains(s))).collect();
        let mut flat = Vec::new();
        let mut raw_ends = Vec::with_capacity(raw.len());
        for r in raw {
            flat.extend_from_slice(r);
            raw_ends.push(flat.len());
        }
        let steps = crate::normalizers::parse_steps::<DecoderStep>(steps_json, "decoder")
            .and_then(|v| v.iter().map(DecoderStep::compile).collect::<Result<Vec<_>, _>>());
        let fast_bytes = match &steps {
            Ok(s) if s.len() == 1 && matches!(s[0], Step::ByteLevel) => {
                let mut b = Vec::new();
                let mut ends = Vec::with_capacity(strings.len());
                for s in &strings {
                    if let Some(s) = s {
                        bytelevel_bytes(s, &mut b);
                    }
                    ends.push(b.len());
                }
                Some((b, ends))
            }
            _ => None,
        };
        Decoder { strings, skip, raw: flat, raw_ends, steps, fast_bytes }
    }

    /// Why decode() cannot run natively (a decoder step the native core does not know).
    pub fn unsupported(&self) -> Option<&str> {
        self.steps.as_ref().err().map(|s| s.as_str())
    }

    pub fn len(&self) -> usize {
        self.raw_ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.raw_ends.is_empty()
    }

    /// The bytes the ids spell; Err(position) for an id out of range.
    pub fn decode_bytes(&self, ids: &[u32]) -> Result<Vec<u8>, usize> {
        let mut out = Vec::with_capacity(ids.len() * 4);
        for (k, &i) in ids.iter().enumerate() {
            let i = i as usize;
            if i >= self.raw_ends.len() {
                return Err(k);
            }
            let a = if i == 0 { 0 } else { self.raw_ends[i - 1] };
            out.extend_from_slice(&self.raw[a..self.raw_ends[i]]);
        }
        Ok(out)
    }

    /// HF's `decode(ids, skip_special_tokens)`; `strict`: invalid UTF-8 is an error instead of
    /// U+FFFD. Ids out of range are dropped, as HF does.
    pub fn decode(&self, ids: &[u32], skip_special: bool, strict: bool) -> Result<String, Utf8Error> {
        let keep = |i: usize| i < self.strings.len() && self.strings[i].is_some() && !(skip_special && self.skip[i]);
        if let Some((b, ends)) = &self.fast_bytes {
            let mut out = Vec::with_capacity(ids.len() * 4);
            for &i in ids {
                let i = i as usize;
                if keep(i) {
                    let a = if i == 0 { 0 } else { ends[i - 1] };
                    out.extend_from_slice(&b[a..ends[i]]);
                }
            }
            return lossy(out, strict);
        }
        let steps = match &self.steps {
            Ok(s) => s,
            Err(_) => panic!("decode() called on an unsupported decoder"),
        };
        let mut tokens: Vec<String> = ids
            .iter()
            .map(|&i| i as usize)
            .filter(|&i| keep(i))
            .map(|i| self.strings[i].clone().unwrap())
            .collect();
        if steps.is_empty() {
            return Ok(tokens.join(" "));
        }
        for s in steps {
            tokens = s.apply(tokens, strict)?;
        }
        Ok(tokens.concat())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(strings: &[&str], steps: &str) -> Decoder {
        let strings = strings.iter().map(|s| Some(s.to_string())).collect::<Vec<_>>();
        let raw = strings.iter().map(|s| s.as_ref().unwrap().as_bytes().to_vec()).collect::<Vec<_>>();
        Decoder::new(strings, &["<s>".to_string()], &raw, steps, None)
    }

    #[test]
    fn metaspace_chain_with_byte_fallback() {
        let steps = r#"[{"kind":"replace","params":{"string":"▁","content":" "}},{"kind":"byte_fallback","params":{}},
                        {"kind":"fuse","params":{}},{"kind":"strip","params":{"content":" ","start":1,"stop":0}}]"#;
        let d = dec(&["<s>", "▁Hello", "▁w", "<0xC3>", "<0xA9>", "<0xE6>"], steps);
        assert_eq!(d.decode(&[0, 1, 2, 3, 4], true, false).unwrap(), "Hello wé");
        assert_eq!(d.decode(&[0, 1, 2, 3, 4], false, false).unwrap(), "<s> Hello wé");
        // an invalid run: one U+FFFD per byte token (HF's ByteFallback)
        assert_eq!(d.decode(&[1, 5, 3], false, false).unwrap(), "Hello\u{fffd}\u{fffd}");
        assert!(d.decode(&[1, 5, 3], false, true).is_err());
    }

    #[test]
    fn bytelevel_fast_path_and_unknown_steps() {
        let d = dec(&["Hello", "Ġw", "Ã", "©"], r#"[{"kind":"byte_level","params":{"add_prefix_space":true}}]"#);
        assert_eq!(d.decode(&[0, 1, 2, 3, 99], false, false).unwrap(), "Hello wé");
        assert_eq!(d.decode(&[0, 2], false, false).unwrap(), "Hello\u{fffd}");
        let d = dec(&["a"], r#"[{"kind":"hf:Nope","params":{}}]"#);
        assert!(d.unsupported().unwrap().contains("not supported by the native core"));
    }

    #[test]
    fn wordpiece() {
        let d = dec(&["hello", "##s", ",", "world", "."], r###"[{"kind":"wordpiece","params":{"prefix":"##","cleanup":true}}]"###);
        assert_eq!(d.decode(&[0, 1, 2, 3, 4], false, false).unwrap(), "hellos, world.");
    }
}
