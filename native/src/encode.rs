//! BPE encoding with Hugging Face `tokenizers` semantics (ids identical for the same vocabulary).
//!
//! Pipeline: added tokens split out (Aho-Corasick, leftmost-longest; first on the raw text for
//! non-normalized tokens, then on the normalized text for normalized ones) -> normalizer ->
//! pretokenizer -> BPE per piece. The merge loop keeps a heap of candidate merges over a linked
//! list of symbols, so a piece of n bytes costs O(n log n) (SuperBPE pretokens and 1 MB strings
//! without spaces stay fast), with HF's rule for stale heap entries so ties resolve the same way.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rustc_hash::FxHashMap as HashMap;

use aho_corasick::{AhoCorasick, MatchKind};
use fancy_regex::Regex;
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use crate::pretok::Pretokenizer;

#[derive(Clone, Debug)]
pub struct AddedToken {
    pub id: u32,
    pub content: String,
    pub lstrip: bool,
    pub rstrip: bool,
    pub single_word: bool,
    pub normalized: bool,
}

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

pub struct Encoder {
    /// string spelling -> id for the model's own vocabulary (what HF's BPE looks up)
    vocab: HashMap<Vec<u8>, u32>,
    /// the single-symbol id of a one-byte or one-char string, for the initial split
    merges: HashMap<(u32, u32), (u32, u32)>,
    byte_fallback: Option<[Option<u32>; 256]>,
    unk: Option<u32>,
    fuse_unk: bool,
    ignore_merges: bool,
    /// byte-level models start from bytes, others from characters
    byte_level: bool,
    /// byte-level: the id of each single byte (None: not in the vocabulary)
    byte_ids: [Option<u32>; 256],
    norms: Vec<Norm>,
    pretok: Pretokenizer,
    raw_added: Option<(AhoCorasick, Vec<AddedToken>)>,
    norm_added: Option<(AhoCorasick, Vec<AddedToken>)>,
}

fn get_bool(p: &Value, key: &str, default: bool) -> bool {
    p.get(key).and_then(Value::as_bool).unwrap_or(default)
}

fn build_norms(steps: &[Value], metaspace: bool) -> Result<Vec<Norm>, String> {
    let mut out = Vec::new();
    for s in steps {
        let kind = s.get("kind").and_then(Value::as_str).ok_or("normalizer step without a kind")?;
        let empty = Value::Object(Default::default());
        let p = s.get("params").unwrap_or(&empty);
        // In the data model a SentencePiece ▁ is a space: Replace(" ", "▁") is the identity and
        // Prepend("▁") prepends a space.
        let ms = |x: &str| if metaspace { x.replace('\u{2581}', " ") } else { x.to_string() };
        out.push(match kind {
            "nfc" => Norm::Nfc,
            "nfd" => Norm::Nfd,
            "nfkc" => Norm::Nfkc,
            "nfkd" => Norm::Nfkd,
            "lowercase" => Norm::Lowercase,
            "prepend" => Norm::Prepend(ms(p.get("prepend").and_then(Value::as_str).unwrap_or(""))),
            "replace" => {
                let content = ms(p.get("content").and_then(Value::as_str).unwrap_or(""));
                if let Some(r) = p.get("regex").and_then(Value::as_str) {
                    let re = fancy_regex::RegexBuilder::new(r).oniguruma_mode(true).build()
                        .map_err(|e| format!("bad regex {r:?}: {e}"))?;
                    Norm::ReplaceRegex(re, content)
                } else {
                    let pat = ms(p.get("string").and_then(Value::as_str).unwrap_or(""));
                    if pat == content {
                        continue;
                    }
                    Norm::ReplaceStr(pat, content)
                }
            }
            "strip" => Norm::Strip { left: get_bool(p, "strip_left", true), right: get_bool(p, "strip_right", true) },
            other => return Err(format!("normalizer step {other:?} is not supported by the native encoder")),
        });
    }
    Ok(out)
}

fn normalize(norms: &[Norm], text: &str) -> String {
    let mut s = text.to_string();
    for n in norms {
        s = match n {
            Norm::Nfc => s.nfc().collect(),
            Norm::Nfd => s.nfd().collect(),
            Norm::Nfkc => s.nfkc().collect(),
            Norm::Nfkd => s.nfkd().collect(),
            Norm::Lowercase => s.to_lowercase(),
            Norm::Prepend(x) => {
                if s.is_empty() { s } else { format!("{x}{s}") }
            }
            Norm::ReplaceStr(a, b) => if a.is_empty() { s } else { s.replace(a.as_str(), b) },
            Norm::ReplaceRegex(re, b) => re.replace_all(&s, b.as_str()).into_owned(),
            Norm::Strip { left, right } => {
                let t = if *left { s.trim_start() } else { &s[..] };
                let t = if *right { t.trim_end() } else { t };
                t.to_string()
            }
        };
    }
    s
}

/// Added tokens of one kind, matched leftmost-longest. A normalized token is matched by its
/// normalized content (HF normalizes the pattern too: Mistral's `[REFERENCE_DOC_1]` becomes
/// `▁[REFERENCE_DOC_1]`, which takes the dummy-prefix space with it).
fn build_added(tokens: &[AddedToken], normalized: bool, norms: &[Norm])
    -> Result<Option<(AhoCorasick, Vec<AddedToken>)>, String> {
    let sel: Vec<AddedToken> = tokens.iter().filter(|t| t.normalized == normalized && !t.content.is_empty())
        .map(|t| if normalized { AddedToken { content: normalize(norms, &t.content), ..t.clone() } } else { t.clone() })
        .collect();
    if sel.is_empty() {
        return Ok(None);
    }
    let ac = AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest)
        .build(sel.iter().map(|t| t.content.as_str()))
        .map_err(|e| e.to_string())?;
    Ok(Some((ac, sel)))
}

/// A segment of text: either an added token's id or text to encode.
enum Seg<'a> {
    Added(u32),
    Text(&'a str),
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Split `text` on added tokens with HF's rules (single_word, lstrip, rstrip).
fn split_added<'a>(text: &'a str, added: &Option<(AhoCorasick, Vec<AddedToken>)>) -> Vec<Seg<'a>> {
    let Some((ac, toks)) = added else { return vec![Seg::Text(text)] };
    let mut out = Vec::new();
    let mut offset = 0;
    for m in ac.find_iter(text) {
        let t = &toks[m.pattern().as_usize()];
        let (mut start, mut stop) = (m.start(), m.end());
        if start < offset {
            continue;
        }
        if t.single_word {
            let before = text[..start].chars().next_back().is_some_and(is_word_char);
            let after = text[stop..].chars().next().is_some_and(is_word_char);
            if before || after {
                continue;
            }
        }
        if t.lstrip {
            let trimmed = text[..start].trim_end_matches(char::is_whitespace).len();
            start = trimmed.max(offset);
        }
        if t.rstrip {
            stop += text[stop..].len() - text[stop..].trim_start_matches(char::is_whitespace).len();
        }
        if offset < start {
            out.push(Seg::Text(&text[offset..start]));
        }
        out.push(Seg::Added(t.id));
        offset = stop;
    }
    if offset < text.len() {
        out.push(Seg::Text(&text[offset..]));
    }
    out
}

impl Encoder {
    /// `tokens`/`in_vocab`: the byte string of every id and whether it is a key of the model's
    /// vocabulary (as spelled in tokenizer.json); `byte_tokens`: ids of `<0xXX>` pieces;
    /// `merges`: (left, right, result) by rank; `config`: JSON with normalizer, pretokenizer,
    /// added tokens and options.
    pub fn new(
        tokens: &[Vec<u8>],
        in_vocab: &[bool],
        byte_tokens: &[(u8, u32)],
        merges: &[(u32, u32, u32)],
        config: &str,
    ) -> Result<Self, String> {
        let cfg: Value = serde_json::from_str(config).map_err(|e| format!("bad encoder config: {e}"))?;
        let surface = cfg.get("surface").and_then(Value::as_str).unwrap_or("byte_level");
        let metaspace = surface == "metaspace";
        let mut vocab = HashMap::with_capacity_and_hasher(tokens.len(), Default::default());
        for (i, (t, ok)) in tokens.iter().zip(in_vocab).enumerate() {
            if *ok {
                vocab.entry(t.clone()).or_insert(i as u32);
            }
        }
        let mut mm = HashMap::with_capacity_and_hasher(merges.len(), Default::default());
        for (rank, &(a, b, r)) in merges.iter().enumerate() {
            mm.insert((a, b), (rank as u32, r)); // a repeated pair: the last one wins, as in HF
        }
        let opts = cfg.get("options").cloned().unwrap_or(Value::Null);
        let byte_fallback = if get_bool(&opts, "byte_fallback", false) {
            let mut t = [None; 256];
            for &(b, id) in byte_tokens {
                t[b as usize] = Some(id);
            }
            Some(t)
        } else {
            None
        };
        let steps = |k: &str| cfg.get(k).and_then(Value::as_array).cloned().unwrap_or_default();
        let norms = build_norms(&steps("normalizer"), metaspace)?;
        let pretok = Pretokenizer::from_json(&Value::Array(steps("pretokenizer")).to_string())?;
        let mut added = Vec::new();
        for a in steps("added") {
            added.push(AddedToken {
                id: a.get("id").and_then(Value::as_u64).ok_or("added token without id")? as u32,
                content: a.get("content").and_then(Value::as_str).unwrap_or("").to_string(),
                lstrip: get_bool(&a, "lstrip", false),
                rstrip: get_bool(&a, "rstrip", false),
                single_word: get_bool(&a, "single_word", false),
                normalized: get_bool(&a, "normalized", false),
            });
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix", "dropout"] {
            if opts.get(key).is_some_and(|v| !v.is_null()) {
                return Err(format!("BPE option {key} is not supported by the native encoder"));
            }
        }
        let mut byte_ids = [None; 256];
        for b in 0..=255u8 {
            byte_ids[b as usize] = vocab.get(&vec![b]).copied();
        }
        let raw_added = build_added(&added, false, &norms)?;
        let norm_added = build_added(&added, true, &norms)?;
        Ok(Encoder {
            vocab,
            merges: mm,
            byte_fallback,
            unk: opts.get("unk_id").and_then(Value::as_u64).map(|x| x as u32),
            fuse_unk: get_bool(&opts, "fuse_unk", false),
            ignore_merges: get_bool(&opts, "ignore_merges", false),
            byte_level: surface == "byte_level",
            byte_ids,
            norms,
            pretok,
            raw_added,
            norm_added,
        })
    }

    /// Byte-level models start from bytes (GPT-2 style), others from characters.
    pub fn is_byte_level(&self) -> bool {
        self.byte_level
    }

    /// The byte-fallback token of a byte, if the vocabulary has byte fallback.
    pub fn fallback_id(&self, b: u8) -> Option<u32> {
        self.byte_fallback.as_ref().and_then(|t| t[b as usize])
    }

    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::with_capacity(text.len() / 3 + 1);
        // SentencePiece-style vocabularies spell a space as ▁: a literal ▁ is a space too
        let owned;
        let text = if !self.byte_level && text.contains('\u{2581}') {
            owned = text.replace('\u{2581}', " ");
            &owned[..]
        } else {
            text
        };
        for seg in split_added(text, &self.raw_added) {
            match seg {
                Seg::Added(id) => ids.push(id),
                Seg::Text(t) => {
                    let normalized = normalize(&self.norms, t);
                    for seg2 in split_added(&normalized, &self.norm_added) {
                        match seg2 {
                            Seg::Added(id) => ids.push(id),
                            Seg::Text(u) => {
                                for p in self.pretok.pieces(u) {
                                    if p.prefix_space {
                                        self.encode_piece(&p.bytes(u), &mut ids);
                                    } else {
                                        self.encode_piece(&u.as_bytes()[p.start..p.end], &mut ids);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        ids
    }

    pub fn encode_piece(&self, piece: &[u8], out: &mut Vec<u32>) {
        if piece.is_empty() {
            return;
        }
        if self.ignore_merges {
            if let Some(&id) = self.vocab.get(piece) {
                out.push(id);
                return;
            }
        }
        let mut syms: Vec<u32> = Vec::with_capacity(piece.len());
        if self.byte_level && piece.iter().all(|&b| self.byte_ids[b as usize].is_some()) {
            // fast path: every byte is a token
            syms.extend(piece.iter().map(|&b| self.byte_ids[b as usize].unwrap()));
            bpe_merge(&mut syms, &self.merges);
            out.extend_from_slice(&syms);
            return;
        }
        let mut last_unk = false;
        let units: Vec<&[u8]> = if self.byte_level {
            piece.chunks(1).collect()
        } else {
            let s = std::str::from_utf8(piece).unwrap_or("");
            s.char_indices().map(|(i, c)| &piece[i..i + c.len_utf8()]).collect()
        };
        for u in units {
            if let Some(&id) = self.vocab.get(u) {
                syms.push(id);
                last_unk = false;
                continue;
            }
            if let Some(table) = &self.byte_fallback {
                let ids: Option<Vec<u32>> = u.iter().map(|&b| table[b as usize]).collect();
                if let Some(ids) = ids {
                    syms.extend(ids);
                    last_unk = false;
                    continue;
                }
            }
            if let Some(unk) = self.unk {
                if !(self.fuse_unk && last_unk) {
                    syms.push(unk);
                }
                last_unk = true;
            }
        }
        bpe_merge(&mut syms, &self.merges);
        out.extend_from_slice(&syms);
    }
}

/// Merge symbols in place by merge rank (lowest first; ties to the leftmost), HF's rule.
pub fn bpe_merge(syms: &mut Vec<u32>, merges: &HashMap<(u32, u32), (u32, u32)>) {
    let n = syms.len();
    if n < 2 {
        return;
    }
    let mut prev: Vec<isize> = (0..n as isize).map(|i| i - 1).collect();
    let mut next: Vec<isize> = (1..=n as isize).map(|i| if i == n as isize { -1 } else { i }).collect();
    let mut alive = vec![true; n];
    let mut heap: BinaryHeap<Reverse<(u32, usize, u32)>> = BinaryHeap::with_capacity(n);
    for i in 0..n - 1 {
        if let Some(&(rank, new_id)) = merges.get(&(syms[i], syms[i + 1])) {
            heap.push(Reverse((rank, i, new_id)));
        }
    }
    while let Some(Reverse((_, pos, new_id))) = heap.pop() {
        if !alive[pos] || next[pos] < 0 {
            continue;
        }
        let right = next[pos] as usize;
        // a stale entry is applied only if the pair now there still makes the same token
        match merges.get(&(syms[pos], syms[right])) {
            Some(&(_, id)) if id == new_id => {}
            _ => continue,
        }
        syms[pos] = new_id;
        alive[right] = false;
        next[pos] = next[right];
        if next[right] >= 0 {
            prev[next[right] as usize] = pos as isize;
        }
        if prev[pos] >= 0 {
            let p = prev[pos] as usize;
            if let Some(&(rank, id)) = merges.get(&(syms[p], syms[pos])) {
                heap.push(Reverse((rank, p, id)));
            }
        }
        if next[pos] >= 0 {
            let q = next[pos] as usize;
            if let Some(&(rank, id)) = merges.get(&(syms[pos], syms[q])) {
                heap.push(Reverse((rank, pos, id)));
            }
        }
    }
    let mut k = 0;
    for i in 0..n {
        if alive[i] {
            syms[k] = syms[i];
            k += 1;
        }
    }
    syms.truncate(k);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_by_rank_then_position() {
        // a=0 b=1 ab=2 ba=3; merges: (b,a)->ba rank 0, (a,b)->ab rank 1
        let mut m = HashMap::default();
        m.insert((1, 0), (0, 3));
        m.insert((0, 1), (1, 2));
        let mut s = vec![0, 1, 0, 1];
        bpe_merge(&mut s, &m);
        assert_eq!(s, vec![0, 3, 1]); // a [ba] b
        let mut s = vec![0, 1];
        bpe_merge(&mut s, &m);
        assert_eq!(s, vec![2]);
    }

    #[test]
    fn long_runs_are_not_quadratic() {
        // "aaaa..." with a->aa->aaaa... merges: 1M symbols must finish quickly
        let mut m = HashMap::default();
        m.insert((0, 0), (0, 1));
        m.insert((1, 1), (1, 2));
        let mut s = vec![0u32; 1 << 20];
        let t = std::time::Instant::now();
        bpe_merge(&mut s, &m);
        assert!(t.elapsed().as_secs_f64() < 5.0);
        assert_eq!(s.len(), 1 << 18);
    }
}
