//! BPE encoding with Hugging Face `tokenizers` semantics (ids identical for the same vocabulary),
//! with UTF-8 byte offsets into the original text computed along the way.
//!
//! Pipeline: added tokens split out (Aho-Corasick, leftmost-longest; first on the raw text for
//! non-normalized tokens, then on the normalized text for normalized ones; the special-token
//! policy picks the automaton) -> normalizer -> pretokenizer -> BPE per piece. The merge loop
//! keeps a heap of candidate merges over a linked list of symbols, so a piece of n bytes costs
//! O(n log n) (SuperBPE pretokens and 1 MB strings without spaces stay fast), with HF's rule
//! for stale heap entries so ties resolve the same way.
//!
//! Offsets (when asked): every symbol of a piece knows its byte span; a merged token spans its
//! symbols. Without a normalizer the text is its own normalized form, so a span is a plain byte
//! range; with one, the normalizer keeps HF's alignments (normalizers.rs) and a span maps back
//! through them. A prepended space (ByteLevel's add_prefix_space, Metaspace) aligns to the
//! piece's first char, as in HF. A token that covers part of a char gets the exact bytes when
//! the char is an unchanged copy of the original (byte-level pieces, byte fallback).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

use rustc_hash::FxHashMap as HashMap;

use aho_corasick::{AhoCorasick, MatchKind};
use serde::Deserialize;

use crate::normalizers::{step_error, Aligned, Normalizer, NormalizerStep};
use crate::pretok::{PretokStep, Pretokenizer};

#[derive(Clone, Debug)]
pub struct AddedToken {
    pub id: u32,
    pub content: String,
    pub lstrip: bool,
    pub rstrip: bool,
    pub single_word: bool,
    pub normalized: bool,
    pub special: bool,
}

/// How a tokenizer file spells token bytes (the data model's `Surface`).
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Surface {
    #[default]
    ByteLevel,
    Metaspace,
    Plain,
}

/// An added token as the config lists it.
#[derive(Deserialize, Debug)]
struct AddedSpec {
    id: u32,
    #[serde(default)]
    content: String,
    #[serde(default)]
    lstrip: bool,
    #[serde(default)]
    rstrip: bool,
    #[serde(default)]
    single_word: bool,
    #[serde(default)]
    normalized: bool,
    #[serde(default)]
    special: bool,
}

/// The BPE model's options (HF names).
#[derive(Deserialize, Debug, Default)]
struct ModelOptions {
    #[serde(default)]
    unk_id: Option<u32>,
    #[serde(default)]
    byte_fallback: bool,
    #[serde(default)]
    fuse_unk: bool,
    #[serde(default)]
    ignore_merges: bool,
    #[serde(default)]
    continuing_subword_prefix: Option<String>,
    #[serde(default)]
    end_of_word_suffix: Option<String>,
    #[serde(default)]
    dropout: Option<f64>,
}

/// The ByteLevel post-processor's offset trimming (HF `process_offsets`), when it is on.
#[derive(Deserialize, Debug, Default)]
struct TrimOffsets {
    #[serde(default)]
    add_prefix_space: bool,
}

/// The encoder config as tokkit/encoder.py writes it. The step lists stay JSON values here and
/// are read into their typed enums one family at a time (so an error names the family).
#[derive(Deserialize, Debug)]
struct Config {
    #[serde(default)]
    surface: Surface,
    #[serde(default)]
    normalizer: serde_json::Value,
    #[serde(default)]
    pretokenizer: serde_json::Value,
    #[serde(default)]
    added: Vec<AddedSpec>,
    #[serde(default)]
    options: ModelOptions,
    #[serde(default)]
    trim_offsets: Option<TrimOffsets>,
}

fn steps_of<T: serde::de::DeserializeOwned>(v: serde_json::Value, family: &str) -> Result<Vec<T>, String> {
    if v.is_null() {
        return Ok(Vec::new());
    }
    serde_json::from_value(v).map_err(|e| step_error(&e.to_string(), family))
}

/// What to do with the text of a special added token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Special {
    /// it becomes the token (HF's behaviour)
    Allow,
    /// it is ordinary text (tiktoken's encode_ordinary); non-special added tokens still match
    Text,
    /// an error naming the token
    Raise,
}

impl Special {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "allow" => Ok(Special::Allow),
            "text" => Ok(Special::Text),
            "raise" => Ok(Special::Raise),
            other => Err(format!("unknown special-token policy {other:?} (use \"allow\", \"text\" or \"raise\")")),
        }
    }
}

/// Ids and (start, end) byte offsets (empty when not asked for).
pub type IdsAndOffsets = (Vec<u32>, Vec<(usize, usize)>);

/// A special token found in text encoded with `Special::Raise`: its content and byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialInText {
    pub content: String,
    pub at: usize,
}

/// Added tokens of one kind matched in one pass, leftmost-longest (None: there are none).
type AddedSet = Option<(AhoCorasick, Vec<AddedToken>)>;

/// Where a text span came from: the text itself (no normalizer), or a normalized string.
enum Map<'a> {
    Identity(usize),
    Aligned(&'a Aligned),
}

impl Map<'_> {
    #[inline]
    fn start(&self, x: usize) -> usize {
        match self {
            Map::Identity(base) => base + x,
            Map::Aligned(a) => a.start_of(x) as usize,
        }
    }

    /// end of a span whose last byte is `x`
    #[inline]
    fn end(&self, x: usize) -> usize {
        match self {
            Map::Identity(base) => base + x + 1,
            Map::Aligned(a) => a.end_of(x) as usize,
        }
    }

    /// the range of the char starting at `x` of `s` (what a prepended space aligns to)
    fn char_at(&self, s: &str, x: usize) -> (usize, usize) {
        match self {
            Map::Identity(base) => {
                let n = s[x..].chars().next().map_or(0, |c| c.len_utf8());
                (base + x, base + x + n)
            }
            Map::Aligned(a) => match a.align.get(x) {
                Some(&(o0, o1)) => (o0 as usize, o1 as usize),
                None => {
                    let e = a.align.last().map_or(a.base, |al| al.1) as usize;
                    (e, e)
                }
            },
        }
    }
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
    /// SentencePiece-style: the data model spells `▁` as a space, so normalized text has its
    /// `▁` turned into spaces before added tokens, pretokenizer and model see it
    metaspace: bool,
    /// byte-level: the id of each single byte (None: not in the vocabulary)
    byte_ids: [Option<u32>; 256],
    norms: Normalizer,
    pretok: Pretokenizer,
    raw_added: AddedSet,
    norm_added: AddedSet,
    /// no token has a space right after something else, so BPE never merges across the start
    /// of a run of spaces (and " " is a token: such a run never starts with an unknown symbol)
    space_bounds: bool,
    /// ByteLevel offset trimming: add_prefix_space, and per id the leading and trailing
    /// white space of its token string as (chars, bytes) pairs
    trim: Option<(bool, Vec<[u32; 4]>)>,
    /// by id, learnt the first time a piece spells the token: 1 when the token's own bytes
    /// merge to the token itself, 2 when not, 0 not seen yet. A piece that spells a token of
    /// state 1 needs no merging (tiktoken's shortcut, made exact for any merge list); filled
    /// lazily, so building an encoder costs nothing more (racing threads store the same value)
    whole: Vec<AtomicU8>,
}

/// Added tokens of one kind. A normalized token is matched by its normalized content (HF
/// normalizes the pattern too: Mistral's `[REFERENCE_DOC_1]` becomes `▁[REFERENCE_DOC_1]`,
/// which takes the dummy-prefix space with it).
fn added_set(tokens: &[AddedToken], normalized: bool, norms: &Normalizer, metaspace: bool) -> Result<AddedSet, String> {
    let norm = |c: &str| {
        let n = norms.normalize(c);
        if metaspace { n.replace('\u{2581}', " ") } else { n }
    };
    let sel: Vec<AddedToken> = tokens.iter()
        .filter(|t| t.normalized == normalized && !t.content.is_empty())
        .map(|t| if normalized { AddedToken { content: norm(&t.content), ..t.clone() } } else { t.clone() })
        .collect();
    if sel.is_empty() {
        return Ok(None);
    }
    let ac = AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest)
        .build(sel.iter().map(|t| t.content.as_str()))
        .map_err(|e| e.to_string())?;
    Ok(Some((ac, sel)))
}

/// A segment of text: an added token (index in its set, byte range) or text to encode.
enum Seg {
    Added(usize, usize, usize),
    Text(usize, usize),
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Split `text` on added tokens with HF's rules (single_word, lstrip, rstrip). With `Special::Text`
/// a special token's match stays text, as HF's `encode_special_tokens` does: the match is still
/// made (leftmost-longest over every added token), so a non-special token inside it never is.
fn split_added(text: &str, added: &AddedSet, special: Special) -> Vec<Seg> {
    let Some((ac, toks)) = added else { return vec![Seg::Text(0, text.len())] };
    let mut out = Vec::new();
    let mut offset = 0;
    for m in ac.find_iter(text) {
        let t = &toks[m.pattern().as_usize()];
        if special == Special::Text && t.special {
            continue;
        }
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
            out.push(Seg::Text(offset, start));
        }
        out.push(Seg::Added(m.pattern().as_usize(), start, stop));
        offset = stop;
    }
    if offset < text.len() {
        out.push(Seg::Text(offset, text.len()));
    }
    out
}

/// Leading and trailing white space of a token string as HF's ByteLevel trimming counts it:
/// (leading chars, leading bytes, trailing chars, trailing bytes).
fn ws_counts(s: &str, is_space: impl Fn(char) -> bool) -> [u32; 4] {
    let (mut lc, mut lb, mut tc, mut tb) = (0, 0, 0, 0);
    for c in s.chars() {
        if !is_space(c) {
            break;
        }
        lc += 1;
        lb += c.len_utf8() as u32;
    }
    for c in s.chars().rev() {
        if !is_space(c) {
            break;
        }
        tc += 1;
        tb += c.len_utf8() as u32;
    }
    [lc, lb, tc, tb]
}

impl Encoder {
    /// `tokens`/`in_vocab`: the byte string of every id and whether it is a key of the model's
    /// vocabulary (as spelled in tokenizer.json); `byte_tokens`: ids of `<0xXX>` pieces;
    /// `merges`: (left, right, result) by rank; `config`: JSON with normalizer, pretokenizer,
    /// added tokens and options (tokkit/encoder.py's `native_config`).
    pub fn new(
        tokens: &[Vec<u8>],
        in_vocab: &[bool],
        byte_tokens: &[(u8, u32)],
        merges: &[(u32, u32, u32)],
        config: &str,
    ) -> Result<Self, String> {
        let cfg: Config = serde_json::from_str(config).map_err(|e| format!("bad encoder config: {e}"))?;
        let metaspace = cfg.surface == Surface::Metaspace;
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
        let opts = &cfg.options;
        let byte_fallback = if opts.byte_fallback {
            let mut t = [None; 256];
            for &(b, id) in byte_tokens {
                t[b as usize] = Some(id);
            }
            Some(t)
        } else {
            None
        };
        let norm_steps: Vec<NormalizerStep> = steps_of(cfg.normalizer.clone(), "normalizer")?;
        let norms = Normalizer::new(&norm_steps)?;
        let pretok_steps: Vec<PretokStep> = steps_of(cfg.pretokenizer.clone(), "pretokenizer")?;
        let pretok = Pretokenizer::from_steps(&pretok_steps)?;
        let added: Vec<AddedToken> = cfg.added.iter().map(|a| AddedToken {
            id: a.id,
            content: a.content.clone(),
            lstrip: a.lstrip,
            rstrip: a.rstrip,
            single_word: a.single_word,
            normalized: a.normalized,
            special: a.special,
        }).collect();
        if opts.continuing_subword_prefix.is_some() {
            return Err("BPE option continuing_subword_prefix is not supported by the native encoder".into());
        }
        if opts.end_of_word_suffix.is_some() {
            return Err("BPE option end_of_word_suffix is not supported by the native encoder".into());
        }
        if opts.dropout.is_some() {
            return Err("BPE option dropout is not supported by the native encoder".into());
        }
        let mut byte_ids = [None; 256];
        for b in 0..=255u8 {
            byte_ids[b as usize] = vocab.get(&vec![b]).copied();
        }
        let trim = cfg.trim_offsets.as_ref().map(|t| {
            let mut counts: Vec<[u32; 4]> = tokens.iter().map(|b| {
                // a byte-level token string: only Ġ (a space byte) is white space
                let n = b.iter().take_while(|&&x| x == b' ').count() as u32;
                let m = if n as usize == b.len() { n } else { b.iter().rev().take_while(|&&x| x == b' ').count() as u32 };
                [n, n, m, m]
            }).collect();
            for a in &added {
                if let Some(c) = counts.get_mut(a.id as usize) {
                    *c = ws_counts(&a.content, |ch| ch == '\u{120}' || ch.is_whitespace());
                }
            }
            (t.add_prefix_space, counts)
        });
        // chunking at spaces is exact when no token (merge results included) crosses a space
        // that follows another byte; not with ignore_merges (a whole piece in the vocabulary
        // is one token) and not for byte-level pieces, which spell a space inside their tokens
        let space_bounds = !cfg.options.ignore_merges && cfg.surface != Surface::ByteLevel
            && vocab.contains_key(&b" "[..])
            && !vocab.keys().chain(merges.iter().map(|m| &tokens[m.2 as usize]))
                .any(|t| t.windows(2).any(|w| w[1] == b' ' && w[0] != b' '));
        let raw_added = added_set(&added, false, &norms, metaspace)?;
        let norm_added = added_set(&added, true, &norms, metaspace)?;
        Ok(Encoder {
            vocab,
            merges: mm,
            byte_fallback,
            unk: opts.unk_id,
            fuse_unk: opts.fuse_unk,
            ignore_merges: opts.ignore_merges,
            byte_level: cfg.surface == Surface::ByteLevel,
            metaspace,
            space_bounds,
            byte_ids,
            norms,
            pretok,
            raw_added,
            norm_added,
            trim,
            whole: (0..tokens.len()).map(|_| AtomicU8::new(0)).collect(),
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

    /// Ids of `text`, special-token text as its token (HF's behaviour).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::with_capacity(text.len() / 3 + 1);
        let mut offs = Vec::new();
        let _ = self.encode_into::<false>(text, Special::Allow, &mut ids, &mut offs);
        ids
    }

    /// Ids of `text` under a special-token policy and, with `offsets`, the (start, end) UTF-8
    /// byte range of every token in `text`.
    pub fn encode_with(&self, text: &str, special: Special, offsets: bool) -> Result<IdsAndOffsets, SpecialInText> {
        let mut ids = Vec::with_capacity(text.len() / 3 + 1);
        let mut offs = Vec::new();
        if offsets {
            offs.reserve(text.len() / 3 + 1);
            self.encode_into::<true>(text, special, &mut ids, &mut offs)?;
        } else if let Err(e) = self.encode_into::<false>(text, special, &mut ids, &mut offs) {
            // the ids path does not track where normalized text came from: locate it again
            let (mut i2, mut o2) = (Vec::new(), Vec::new());
            return Err(self.encode_into::<true>(text, special, &mut i2, &mut o2).err().unwrap_or(e));
        }
        Ok((ids, offs))
    }

    fn encode_into<const OFFS: bool>(&self, text: &str, special: Special, ids: &mut Vec<u32>,
                                     offs: &mut Vec<(usize, usize)>) -> Result<(), SpecialInText> {
        let first = offs.len();
        let added = &self.raw_added;
        for seg in split_added(text, added, special) {
            match seg {
                Seg::Added(k, s, e) => {
                    let t = &added.as_ref().unwrap().1[k];
                    if special == Special::Raise && t.special {
                        return Err(SpecialInText { content: t.content.clone(), at: s });
                    }
                    ids.push(t.id);
                    if OFFS {
                        offs.push((s, e));
                    }
                }
                Seg::Text(s, e) => self.encode_text::<OFFS>(text, s, e, special, ids, offs)?,
            }
        }
        if OFFS {
            if let Some((add_prefix_space, counts)) = &self.trim {
                for (i, k) in (first..offs.len()).enumerate() {
                    let Some(&[lc, lb, tc, tb]) = counts.get(ids[k] as usize) else { continue };
                    let (mut s, mut e) = offs[k];
                    if lc > 0 {
                        let skip = (i == 0 || s == 0) && *add_prefix_space && lc == 1;
                        if !skip {
                            s = (s + lb as usize).min(e);
                        }
                    }
                    if tc > 0 && e >= tc as usize {
                        e = e.saturating_sub(tb as usize).max(s);
                    }
                    offs[k] = (s, e);
                }
            }
        }
        Ok(())
    }

    /// Text `text[s..e]` between raw added tokens: normalize (and, for SentencePiece-style
    /// vocabularies, `▁` to a space), split normalized added tokens, pretokenize, encode.
    fn encode_text<const OFFS: bool>(&self, text: &str, s: usize, e: usize, special: Special, ids: &mut Vec<u32>,
                                     offs: &mut Vec<(usize, usize)>) -> Result<(), SpecialInText> {
        let u0 = &text[s..e];
        let added = &self.norm_added;
        let identity = self.norms.is_empty() && !(self.metaspace && u0.contains('\u{2581}'));
        if identity {
            for seg in split_added(u0, added, special) {
                match seg {
                    Seg::Added(k, a, b) => {
                        let t = &added.as_ref().unwrap().1[k];
                        if special == Special::Raise && t.special {
                            return Err(SpecialInText { content: t.content.clone(), at: s + a });
                        }
                        ids.push(t.id);
                        if OFFS {
                            offs.push((s + a, s + b));
                        }
                    }
                    Seg::Text(a, b) => self.encode_pieces::<OFFS>(u0, a, b, &Map::Identity(s), ids, offs),
                }
            }
        } else if !OFFS {
            let mut n = self.norms.normalize(u0);
            if self.metaspace && n.contains('\u{2581}') {
                n = n.replace('\u{2581}', " ");
            }
            for seg in split_added(&n, added, special) {
                match seg {
                    Seg::Added(k, _, _) => {
                        let t = &added.as_ref().unwrap().1[k];
                        if special == Special::Raise && t.special {
                            return Err(SpecialInText { content: t.content.clone(), at: usize::MAX });
                        }
                        ids.push(t.id);
                    }
                    Seg::Text(a, b) => self.encode_pieces::<false>(&n, a, b, &Map::Identity(0), ids, offs),
                }
            }
        } else {
            let mut al = self.norms.normalize_aligned(Aligned::new(u0, s));
            if self.metaspace {
                al = al.metaspace_to_spaces();
            }
            let map = Map::Aligned(&al);
            for seg in split_added(&al.s, added, special) {
                match seg {
                    Seg::Added(k, a, b) => {
                        let t = &added.as_ref().unwrap().1[k];
                        let (ra, rb) = (map.start(a), map.end(b - 1));
                        if special == Special::Raise && t.special {
                            return Err(SpecialInText { content: t.content.clone(), at: ra });
                        }
                        ids.push(t.id);
                        offs.push((ra, rb));
                    }
                    Seg::Text(a, b) => self.encode_pieces::<true>(&al.s, a, b, &map, ids, offs),
                }
            }
        }
        Ok(())
    }

    /// Pretokenize `u[a..b]` (normalized text) and encode every piece.
    fn encode_pieces<const OFFS: bool>(&self, u: &str, a: usize, b: usize, map: &Map, ids: &mut Vec<u32>,
                                       offs: &mut Vec<(usize, usize)>) {
        let sub = &u[a..b];
        let mut spans: Vec<(u32, u32)> = Vec::new();
        for p in self.pretok.pieces(sub) {
            if p.prefix_space {
                self.encode_word::<OFFS>(&p.bytes(sub), ids, &mut spans);
            } else {
                self.encode_word::<OFFS>(&sub.as_bytes()[p.start..p.end], ids, &mut spans);
            }
            if OFFS {
                let pre = p.prefix_space as usize;
                let ps = a + p.start; // the piece's start in u
                for &(ta, tb) in &spans {
                    let (ta, tb) = (ta as usize, tb as usize);
                    // the prepended space has no bytes of its own: it aligns to the first char
                    let start = if ta < pre { map.char_at(u, ps).0 } else { map.start(ps + ta - pre) };
                    let end = if tb <= pre { map.char_at(u, ps).1 } else { map.end(ps + tb - pre - 1) };
                    offs.push((start, end));
                }
                spans.clear();
            }
        }
    }

    pub fn encode_piece(&self, piece: &[u8], out: &mut Vec<u32>) {
        let mut spans = Vec::new();
        self.encode_word::<false>(piece, out, &mut spans);
    }

    /// BPE over a piece, in chunks where no token can cross (see `space_bounds`): the same
    /// tokens, with small merge heaps (a SentencePiece vocabulary has no pretokenizer, so a
    /// piece is a whole document).
    fn encode_word<const SPANS: bool>(&self, piece: &[u8], out: &mut Vec<u32>, spans: &mut Vec<(u32, u32)>) {
        if !self.space_bounds || piece.len() < 64 {
            return self.encode_piece_impl::<SPANS>(piece, out, spans);
        }
        let mut c0 = 0;
        for i in 1..=piece.len() {
            if i == piece.len() || (piece[i] == b' ' && piece[i - 1] != b' ') {
                let n0 = spans.len();
                self.encode_piece_impl::<SPANS>(&piece[c0..i], out, spans);
                if SPANS && c0 > 0 {
                    for sp in &mut spans[n0..] {
                        sp.0 += c0 as u32;
                        sp.1 += c0 as u32;
                    }
                }
                c0 = i;
            }
        }
    }

    /// BPE over one piece; with SPANS, the byte range of each token in the piece.
    fn encode_piece_impl<const SPANS: bool>(&self, piece: &[u8], out: &mut Vec<u32>, spans: &mut Vec<(u32, u32)>) {
        if piece.is_empty() {
            return;
        }
        let own = self.vocab.get(piece).copied();
        if let Some(id) = own {
            if self.ignore_merges || self.whole_state(id) == 1 {
                out.push(id);
                if SPANS {
                    spans.push((0, piece.len() as u32));
                }
                return;
            }
        }
        let n0 = out.len();
        self.encode_piece_merged::<SPANS>(piece, out, spans);
        if let Some(id) = own {
            if self.whole_state(id) == 0 {
                let itself = out.len() == n0 + 1 && out[n0] == id;
                self.whole[id as usize].store(if itself { 1 } else { 2 }, Relaxed);
            }
        }
    }

    fn whole_state(&self, id: u32) -> u8 {
        self.whole.get(id as usize).map_or(2, |w| w.load(Relaxed))
    }

    /// BPE over one piece that is not a token known to encode to itself.
    fn encode_piece_merged<const SPANS: bool>(&self, piece: &[u8], out: &mut Vec<u32>, spans: &mut Vec<(u32, u32)>) {
        if self.byte_level && piece.len() == 1 {
            if let Some(id) = self.byte_ids[piece[0] as usize] {
                out.push(id);
                if SPANS {
                    spans.push((0, 1));
                }
                return;
            }
        }
        let mut bufs = PIECE_BUFS.with(|b| std::mem::take(&mut *b.borrow_mut()));
        self.piece_with::<SPANS>(piece, out, spans, &mut bufs);
        if bufs.syms.capacity() <= 1 << 16 {
            PIECE_BUFS.with(|b| *b.borrow_mut() = bufs);
        }
    }

    fn piece_with<const SPANS: bool>(&self, piece: &[u8], out: &mut Vec<u32>, spans: &mut Vec<(u32, u32)>,
                                     bufs: &mut PieceBufs) {
        let PieceBufs { syms, ss, keep, .. } = bufs;
        syms.clear();
        ss.clear();
        keep.clear();
        if self.byte_level && piece.iter().all(|&b| self.byte_ids[b as usize].is_some()) {
            // fast path: every byte is a token
            syms.extend(piece.iter().map(|&b| self.byte_ids[b as usize].unwrap()));
            if SPANS {
                bpe_merge_keep::<true>(syms, &self.merges, keep);
                for (j, &k) in keep.iter().enumerate() {
                    spans.push((k, keep.get(j + 1).copied().unwrap_or(piece.len() as u32)));
                }
            } else {
                bpe_merge(syms, &self.merges);
            }
            out.extend_from_slice(syms);
            return;
        }
        // every symbol's byte range in the piece (SPANS only): `ss`
        let mut last_unk = false;
        let mut at = 0usize;
        let mut unit = |u: &[u8], at: usize, syms: &mut Vec<u32>, ss: &mut Vec<(u32, u32)>| {
            let end = (at + u.len()) as u32;
            if let Some(&id) = self.vocab.get(u) {
                syms.push(id);
                if SPANS {
                    ss.push((at as u32, end));
                }
                last_unk = false;
                return;
            }
            if let Some(table) = &self.byte_fallback {
                if u.iter().all(|&b| table[b as usize].is_some()) {
                    for (k, &b) in u.iter().enumerate() {
                        syms.push(table[b as usize].unwrap());
                        if SPANS {
                            ss.push(((at + k) as u32, (at + k + 1) as u32));
                        }
                    }
                    last_unk = false;
                    return;
                }
            }
            if let Some(unk) = self.unk {
                if self.fuse_unk && last_unk {
                    if SPANS {
                        if let Some(l) = ss.last_mut() {
                            l.1 = end;
                        }
                    }
                } else {
                    syms.push(unk);
                    if SPANS {
                        ss.push((at as u32, end));
                    }
                }
                last_unk = true;
            }
        };
        if self.byte_level {
            for k in 0..piece.len() {
                unit(&piece[k..k + 1], k, syms, ss);
            }
        } else {
            let s = std::str::from_utf8(piece).unwrap_or("");
            for c in s.chars() {
                let n = c.len_utf8();
                unit(&piece[at..at + n], at, syms, ss);
                at += n;
            }
        }
        if SPANS {
            bpe_merge_keep::<true>(syms, &self.merges, keep);
            for (j, &k) in keep.iter().enumerate() {
                let last = keep.get(j + 1).map_or(ss.len() - 1, |&n| n as usize - 1);
                spans.push((ss[k as usize].0, ss[last].1));
            }
        } else {
            bpe_merge(syms, &self.merges);
        }
        out.extend_from_slice(syms);
    }
}

/// A piece's symbols, their byte ranges and the merged symbols' first indices, kept per thread.
/// (No cache of pieces' tokens: measured on first passes over text, a per-thread cache made
/// encoding slower, and tokens that encode to themselves are found without one: `whole`.)
#[derive(Default)]
struct PieceBufs {
    syms: Vec<u32>,
    ss: Vec<(u32, u32)>,
    keep: Vec<u32>,
}

thread_local! {
    static PIECE_BUFS: std::cell::RefCell<PieceBufs> = std::cell::RefCell::new(PieceBufs::default());
}

/// Merge symbols in place by merge rank (lowest first; ties to the leftmost), HF's rule.
pub fn bpe_merge(syms: &mut Vec<u32>, merges: &HashMap<(u32, u32), (u32, u32)>) {
    let mut keep = Vec::new();
    bpe_merge_keep::<false>(syms, merges, &mut keep);
}

/// `bpe_merge`; with KEEP, `keep` gets the index (in the input) of each merged symbol's first
/// input symbol (merged symbols are runs of adjacent input symbols).
fn bpe_merge_keep<const KEEP: bool>(syms: &mut Vec<u32>, merges: &HashMap<(u32, u32), (u32, u32)>, keep: &mut Vec<u32>) {
    let n = syms.len();
    if n < 2 {
        if KEEP {
            keep.extend(0..n as u32);
        }
        return;
    }
    if n <= SCAN_MAX {
        return merge_scan::<KEEP>(syms, merges, keep);
    }
    MERGE_BUFS.with(|bufs| {
        let bufs = &mut *bufs.borrow_mut();
        merge_with(syms, merges, keep, bufs, KEEP);
        bufs.trim();
    })
}

/// Pieces up to this many symbols merge by scanning (no heap): most pieces of natural text are
/// this short, and a scan over a few pairs beats heap upkeep.
const SCAN_MAX: usize = 128;

/// Scan for the lowest-ranked adjacent pair (leftmost on ties), merge it, rescan (tiktoken's
/// loop). The same merges as the heap: a merge's result spells its pair's bytes, so HF's stale
/// heap entries (applied only when the pair there makes the same token) are never applied to
/// another pair, and the heap's order, (rank, position), is this scan's order.
fn merge_scan<const KEEP: bool>(syms: &mut Vec<u32>, merges: &HashMap<(u32, u32), (u32, u32)>, keep: &mut Vec<u32>) {
    let look = |a: u32, b: u32| merges.get(&(a, b)).copied().unwrap_or((u32::MAX, 0));
    // ranks and results apart: the two passes over `ranks` (its minimum, then the first place
    // it occurs) are straight loops over u32 that the compiler vectorizes
    let mut ranks = [u32::MAX; SCAN_MAX];
    let mut results = [0u32; SCAN_MAX];
    let mut first = [0u32; SCAN_MAX];
    let mut n = syms.len();
    for i in 0..n - 1 {
        (ranks[i], results[i]) = look(syms[i], syms[i + 1]);
    }
    if KEEP {
        for (i, f) in first[..n].iter_mut().enumerate() {
            *f = i as u32;
        }
    }
    while n > 1 {
        let live = &ranks[..n - 1];
        let low = live.iter().copied().fold(u32::MAX, u32::min);
        if low == u32::MAX {
            break;
        }
        let best = live.iter().position(|&r| r == low).unwrap_or(0);
        syms[best] = results[best];
        syms.remove(best + 1);
        ranks.copy_within(best + 1..n - 1, best);
        results.copy_within(best + 1..n - 1, best);
        if KEEP {
            first.copy_within(best + 2..n, best + 1);
        }
        n -= 1;
        if best > 0 {
            (ranks[best - 1], results[best - 1]) = look(syms[best - 1], syms[best]);
        }
        if best < n - 1 {
            (ranks[best], results[best]) = look(syms[best], syms[best + 1]);
        } else {
            ranks[best] = u32::MAX;
        }
    }
    if KEEP {
        keep.extend_from_slice(&first[..n]);
    }
}

/// The merge loop's working memory, kept per thread (a piece at a time; no allocation per piece).
#[derive(Default)]
struct MergeBufs {
    prev: Vec<isize>,
    next: Vec<isize>,
    alive: Vec<bool>,
    heap: BinaryHeap<Reverse<(u32, usize, u32)>>,
}

impl MergeBufs {
    /// after a huge piece, give the memory back
    fn trim(&mut self) {
        const KEEP_MAX: usize = 1 << 16;
        if self.prev.capacity() > KEEP_MAX {
            *self = MergeBufs::default();
        }
    }
}

thread_local! {
    static MERGE_BUFS: std::cell::RefCell<MergeBufs> = std::cell::RefCell::new(MergeBufs::default());
}

#[inline]
fn merge_with(syms: &mut Vec<u32>, merges: &HashMap<(u32, u32), (u32, u32)>, keep: &mut Vec<u32>, b: &mut MergeBufs,
              want_keep: bool) {
    let n = syms.len();
    let (prev, next, alive, heap) = (&mut b.prev, &mut b.next, &mut b.alive, &mut b.heap);
    prev.clear();
    prev.extend((0..n as isize).map(|i| i - 1));
    next.clear();
    next.extend((1..=n as isize).map(|i| if i == n as isize { -1 } else { i }));
    alive.clear();
    alive.resize(n, true);
    heap.clear();
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
            if want_keep {
                keep.push(i as u32);
            }
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
    fn scan_and_heap_merge_alike() {
        // random merge tables over 6 base symbols whose results are fresh ids, random pieces
        let mut seed = 12345u64;
        let mut rnd = |m: u64| { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; seed % m };
        for _ in 0..200 {
            let mut m = HashMap::default();
            let mut next = 6u32;
            for rank in 0..40u32 {
                let (a, b) = (rnd(next as u64) as u32, rnd(next as u64) as u32);
                if m.contains_key(&(a, b)) { continue; }
                m.insert((a, b), (rank, next));
                next += 1;
            }
            for _ in 0..20 {
                let len = 2 + rnd(SCAN_MAX as u64 - 1) as usize;
                let s: Vec<u32> = (0..len).map(|_| rnd(6) as u32).collect();
                let (mut a, mut b) = (s.clone(), s.clone());
                let (mut ka, mut kb) = (Vec::new(), Vec::new());
                merge_scan::<true>(&mut a, &m, &mut ka);
                let mut bufs = MergeBufs::default();
                merge_with(&mut b, &m, &mut kb, &mut bufs, true);
                assert_eq!((a, ka), (b, kb), "{s:?}");
            }
        }
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
