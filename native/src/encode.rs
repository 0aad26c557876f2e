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
//!
//! BPE-dropout (`Dropout`, asked per call, never by the config): the merge loop of Hugging Face's
//! `Word::merge_all` with a seeded random stream per text; the canonical path does not see it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};

use rustc_hash::FxHashMap as HashMap;

use aho_corasick::{AhoCorasick, MatchKind};
use serde::Deserialize;

use crate::normalizers::{step_error, Aligned, Normalizer, NormalizerStep};
use crate::pretok::{PretokStep, Pretokenizer};

pub use dropout::Dropout;

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
    /// unique per encoder built in this process (what a thread's dropout memo belongs to)
    id: u64,
    /// every merge's result spells its pair's bytes and no merge involves unk, so the symbols of
    /// a piece spell the bytes they cover and a stale pair (which covers more) never makes its
    /// entry's token: what lets the dropout loop stop early (`merge_dropout`)
    spelled_merges: bool,
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

static NEXT_ENCODER_ID: AtomicU64 = AtomicU64::new(1);

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
        let spelled_merges = merges.iter().all(|&(a, b, r)| {
            let t = |i: u32| tokens.get(i as usize).map_or(&[][..], |t| &t[..]);
            let (ta, tb, tr) = (t(a), t(b), t(r));
            Some(a) != opts.unk_id && Some(b) != opts.unk_id
                && tr.len() == ta.len() + tb.len() && tr.starts_with(ta) && tr.ends_with(tb)
        });
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
            id: NEXT_ENCODER_ID.fetch_add(1, Relaxed),
            spelled_merges,
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
        let _ = self.encode_into::<false>(text, Special::Allow, &mut ids, &mut offs, None);
        ids
    }

    /// Ids of `text` under a special-token policy and, with `offsets`, the (start, end) UTF-8
    /// byte range of every token in `text`.
    pub fn encode_with(&self, text: &str, special: Special, offsets: bool) -> Result<IdsAndOffsets, SpecialInText> {
        self.encode_sampled(text, special, offsets, None)
    }

    /// `encode_with`, with BPE-dropout when `dropout` is given (a sample: see `Dropout`).
    pub fn encode_sampled(&self, text: &str, special: Special, offsets: bool, dropout: Option<&mut Dropout>)
        -> Result<IdsAndOffsets, SpecialInText> {
        let mut ids = Vec::with_capacity(text.len() / 3 + 1);
        let mut offs = Vec::new();
        if offsets {
            offs.reserve(text.len() / 3 + 1);
            self.encode_into::<true>(text, special, &mut ids, &mut offs, dropout)?;
        } else if let Err(e) = self.encode_into::<false>(text, special, &mut ids, &mut offs, dropout) {
            // the ids path does not track where normalized text came from: locate it again (a
            // special token is found before any merge, so without dropout)
            let (mut i2, mut o2) = (Vec::new(), Vec::new());
            return Err(self.encode_into::<true>(text, special, &mut i2, &mut o2, None).err().unwrap_or(e));
        }
        Ok((ids, offs))
    }

    fn encode_into<const OFFS: bool>(&self, text: &str, special: Special, ids: &mut Vec<u32>,
                                     offs: &mut Vec<(usize, usize)>, mut dropout: Option<&mut Dropout>)
        -> Result<(), SpecialInText> {
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
                Seg::Text(s, e) => self.encode_text::<OFFS>(text, s, e, special, ids, offs, dropout.as_deref_mut())?,
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
    #[allow(clippy::too_many_arguments)]
    fn encode_text<const OFFS: bool>(&self, text: &str, s: usize, e: usize, special: Special, ids: &mut Vec<u32>,
                                     offs: &mut Vec<(usize, usize)>, mut dropout: Option<&mut Dropout>)
        -> Result<(), SpecialInText> {
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
                    Seg::Text(a, b) => {
                        self.encode_pieces::<OFFS>(u0, a, b, &Map::Identity(s), ids, offs, dropout.as_deref_mut())
                    }
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
                    Seg::Text(a, b) => {
                        self.encode_pieces::<false>(&n, a, b, &Map::Identity(0), ids, offs, dropout.as_deref_mut())
                    }
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
                    Seg::Text(a, b) => self.encode_pieces::<true>(&al.s, a, b, &map, ids, offs, dropout.as_deref_mut()),
                }
            }
        }
        Ok(())
    }

    /// Pretokenize `u[a..b]` (normalized text) and encode every piece.
    #[allow(clippy::too_many_arguments)]
    fn encode_pieces<const OFFS: bool>(&self, u: &str, a: usize, b: usize, map: &Map, ids: &mut Vec<u32>,
                                       offs: &mut Vec<(usize, usize)>, mut dropout: Option<&mut Dropout>) {
        let sub = &u[a..b];
        let mut spans: Vec<(u32, u32)> = Vec::new();
        for p in self.pretok.pieces(sub) {
            let d = dropout.as_deref_mut();
            if p.prefix_space {
                self.encode_word::<OFFS>(&p.bytes(sub), ids, &mut spans, d);
            } else {
                self.encode_word::<OFFS>(&sub.as_bytes()[p.start..p.end], ids, &mut spans, d);
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
        self.encode_word::<false>(piece, out, &mut spans, None);
    }

    /// BPE over a piece, in chunks where no token can cross (see `space_bounds`): the same
    /// tokens, with small merge heaps (a SentencePiece vocabulary has no pretokenizer, so a
    /// piece is a whole document). With dropout, the whole piece in one heap, as HF runs it:
    /// a candidate skipped in one chunk is drawn again after a merge in another, so chunks
    /// would change the distribution.
    fn encode_word<const SPANS: bool>(&self, piece: &[u8], out: &mut Vec<u32>, spans: &mut Vec<(u32, u32)>,
                                      dropout: Option<&mut Dropout>) {
        if let Some(d) = dropout {
            // HF bypasses its cache and ignore_merges with dropout: every piece is merged afresh
            // (so are tokens that encode to themselves, `whole`)
            return self.piece_dropout::<SPANS>(piece, out, spans, d);
        }
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
        let PieceBufs { syms, ss, keep } = bufs;
        let bytewise = self.initial_symbols::<SPANS>(piece, syms, ss);
        keep.clear();
        if SPANS {
            bpe_merge_keep::<true>(syms, &self.merges, keep);
            push_spans(bytewise, keep, ss, piece.len(), spans);
        } else {
            bpe_merge(syms, &self.merges);
        }
        out.extend_from_slice(syms);
    }

    /// A piece's symbols before any merge, as HF's `merge_word` makes them: bytes (byte-level)
    /// or chars, each its token, else its byte-fallback tokens, else unk (fused when asked), else
    /// dropped. True when the symbols are the piece's bytes one to one (byte-level, every byte a
    /// token: the fast path): then `ss` stays empty and symbol k spans byte k; otherwise, with
    /// SPANS, `ss` gets every symbol's byte range in the piece.
    fn initial_symbols<const SPANS: bool>(&self, piece: &[u8], syms: &mut Vec<u32>, ss: &mut Vec<(u32, u32)>) -> bool {
        syms.clear();
        ss.clear();
        if self.byte_level && piece.iter().all(|&b| self.byte_ids[b as usize].is_some()) {
            syms.extend(piece.iter().map(|&b| self.byte_ids[b as usize].unwrap()));
            return true;
        }
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
        false
    }
}

/// The byte range of every merged symbol: `keep` holds each one's first initial symbol, whose
/// range is `ss` (or, `bytewise`, the symbol's index: one byte each); `len`: the piece's length.
fn push_spans(bytewise: bool, keep: &[u32], ss: &[(u32, u32)], len: usize, spans: &mut Vec<(u32, u32)>) {
    if bytewise {
        for (j, &k) in keep.iter().enumerate() {
            spans.push((k, keep.get(j + 1).copied().unwrap_or(len as u32)));
        }
        return;
    }
    for (j, &k) in keep.iter().enumerate() {
        let last = keep.get(j + 1).map_or(ss.len() - 1, |&n| n as usize - 1);
        spans.push((ss[k as usize].0, ss[last].1));
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

/// BPE-dropout (Provilkov et al. 2020) as Hugging Face's BPE runs it (`Word::merge_all` with a
/// dropout), with the same distribution of samples, seeded per text, and fast:
///
/// - the loop (`merge_dropout`): HF's, step for step (short pieces in fixed arrays);
/// - the draws (`Dropout`): kept as the gap to the next skip, so a stretch of pops without a skip
///   is passed at once;
/// - a memo per thread (`Node`): a short piece's runs, as a tree over where the skips fall; a
///   sample walks it and only runs the loop where it leaves the known tree.
///
/// A sample is the same whichever way it is computed (the memo holds exactly what the loop would
/// do with the same draws), so it depends on (text, p, seed, index) only.
mod dropout {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    use super::{push_spans, Encoder, HashMap, PieceBufs};

    /// The merge map: (left, right) -> (rank, new id).
    type Merges = HashMap<(u32, u32), (u32, u32)>;

    /// BPE-dropout's random draws for one text: every merge candidate popped from the queue is
    /// skipped with probability `p`, independently.
    ///
    /// The draws are kept as the gap to the next skip, drawn at once (a geometric number: the
    /// same sequence of independent draws), so a pop that is not skipped costs a decrement and a
    /// run of T pops that fits in the gap is known to go as without dropout (`pass`).
    ///
    /// The uniform numbers come from splitmix64 (Steele et al. 2014), written out here rather
    /// than taken from a crate: a sample must stay the same for the same (text, p, seed) across
    /// tokkit versions, which `rand`'s `SmallRng` does not promise; no new dependency (the crate
    /// builds offline); and a draw per skip needs nothing stronger (splitmix64 passes BigCrush).
    #[derive(Clone, Debug)]
    pub struct Dropout {
        /// ln(1 - p) (-inf for p = 1: every pop is skipped)
        ln_keep: f64,
        /// pops left before the next skip
        gap: u64,
        state: u64,
    }

    const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

    /// splitmix64's output function: a bijection of u64 that mixes every bit into every other.
    #[inline]
    fn mix64(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    impl Dropout {
        /// The draws of text `index` of a call seeded with `seed` (a batch gives text k index k,
        /// so a text's sample depends on (text, p, seed, k) only, never on threads or batch
        /// sizes); `p` in (0, 1].
        pub fn new(p: f64, seed: u64, index: u64) -> Self {
            let ln_keep = if p >= 1.0 { f64::NEG_INFINITY } else { (-p.max(0.0)).ln_1p() };
            let mut d = Dropout { ln_keep, gap: 0, state: mix64(mix64(seed) ^ index) };
            d.gap = d.draw_gap();
            d
        }

        fn skips_all(&self) -> bool {
            self.ln_keep == f64::NEG_INFINITY
        }

        /// Pops before the next skip: floor(ln U / ln(1 - p)) for U uniform in (0, 1], so
        /// P(gap >= g) = (1 - p)^g.
        fn draw_gap(&mut self) -> u64 {
            if self.skips_all() {
                return 0;
            }
            self.state = self.state.wrapping_add(GOLDEN);
            let u = ((mix64(self.state) >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64);
            (u.ln() / self.ln_keep) as u64 // saturates: p so small that no skip will come
        }

        /// The next `pops` draws at once if none of them skips (then they are spent); false, and
        /// nothing spent, otherwise.
        #[inline]
        fn pass(&mut self, pops: u64) -> bool {
            if self.gap >= pops {
                self.gap -= pops;
                return true;
            }
            false
        }

        /// Spend the draws up to and including the next skip; returns how many did not skip.
        #[inline]
        fn through_skip(&mut self) -> u64 {
            let g = self.gap;
            self.gap = self.draw_gap();
            g
        }
    }

    /// Where the loop's draws come from.
    trait Draws {
        /// the next pop's draw: true to skip it
        fn skip(&mut self) -> bool;

        /// p = 1: every pop is skipped, so nothing merges
        fn skips_all(&self) -> bool {
            false
        }
    }

    impl Draws for Dropout {
        fn skips_all(&self) -> bool {
            Dropout::skips_all(self)
        }

        #[inline]
        fn skip(&mut self) -> bool {
            if self.gap > 0 {
                self.gap -= 1;
                return false;
            }
            self.gap = self.draw_gap();
            true
        }
    }

    /// No skips (a run without dropout), counting the pops.
    struct Never(u64);

    impl Draws for Never {
        #[inline]
        fn skip(&mut self) -> bool {
            self.0 += 1;
            false
        }
    }

    /// The draws of a path in a memo tree replayed (gaps: pops without a skip before each skip),
    /// then the text's own draws; counts the pops after the path and whether one was skipped.
    struct Replay<'a, L: Draws> {
        path: &'a [u64],
        at: usize,
        left: u64,
        live: &'a mut L,
        pops: u64,
        skipped: bool,
    }

    impl<L: Draws> Draws for Replay<'_, L> {
        #[inline]
        fn skip(&mut self) -> bool {
            if self.at < self.path.len() {
                if self.left > 0 {
                    self.left -= 1;
                    return false;
                }
                self.at += 1;
                self.left = self.path.get(self.at).copied().unwrap_or(0);
                return true;
            }
            self.pops += 1;
            let s = self.live.skip();
            self.skipped |= s;
            s
        }
    }

    /// Short pieces' runs, memoized per thread as one tree per piece. A node is the run from its
    /// point on without skips (its pops, and its tokens with their byte ranges in the piece) and,
    /// once seen, the node after a skip at each of those pops (its kids, a block of `pops`
    /// nodes: the one for a skip after g pops that were not at g). A root is the piece's run
    /// without any skip; it lives in the map, keyed by the piece's bytes inline, and a kid is one
    /// read away from its parent: few cache misses on the way to a sample. Trees stop at
    /// `MEMO_MAX_DEPTH` skips (rarer paths run the loop).
    #[derive(Default)]
    struct Memo {
        roots: HashMap<[u8; KEY], Root>,
        /// kids' blocks, one after another
        kids: Vec<Node>,
        ids: Vec<u32>,
        spans: Vec<(u32, u32)>,
    }

    struct Root {
        node: Node,
        /// samples of the piece so far
        seen: u32,
    }

    #[derive(Clone, Copy)]
    struct Node {
        /// UNSEEN: a kid not seen yet
        pops: u32,
        /// its kids: kids[first..first + pops] (NO_NODE: none seen yet)
        first: u32,
        /// its tokens: ids[at..at + len] (the first two also in `inline`), spans[at..at + len]
        at: u32,
        len: u32,
        inline: [u32; 2],
    }

    const NO_NODE: u32 = u32::MAX;
    const UNSEEN: Node = Node { pops: u32::MAX, first: NO_NODE, at: 0, len: 0, inline: [0; 2] };
    /// A memo key: the piece's length, then its bytes (pieces up to KEY - 1 bytes are memoized).
    const KEY: usize = 32;
    /// Up to this many nodes per thread (then the memo starts over), paths of up to this many skips.
    const MEMO_MAX_NODES: usize = 1 << 18;
    const MEMO_MAX_DEPTH: usize = 1;

    fn key(piece: &[u8]) -> Option<[u8; KEY]> {
        if piece.len() >= KEY {
            return None;
        }
        let mut k = [0u8; KEY];
        k[0] = piece.len() as u8;
        k[1..=piece.len()].copy_from_slice(piece);
        Some(k)
    }

    impl Memo {
        fn clear(&mut self) {
            self.roots.clear();
            self.kids.clear();
            self.ids.clear();
            self.spans.clear();
        }

        fn size(&self) -> usize {
            self.roots.len() + self.kids.len()
        }

        fn node(&mut self, pops: u64, ids: &[u32], spans: &[(u32, u32)]) -> Node {
            let mut inline = [0; 2];
            for (x, &id) in inline.iter_mut().zip(ids) {
                *x = id;
            }
            let node = Node { pops: pops as u32, first: NO_NODE, at: self.ids.len() as u32, len: ids.len() as u32,
                              inline };
            self.ids.extend_from_slice(ids);
            self.spans.extend_from_slice(spans);
            node
        }

        #[inline]
        fn emit<const SPANS: bool>(&self, n: &Node, out: &mut Vec<u32>, spans: &mut Vec<(u32, u32)>) {
            let r = n.at as usize..(n.at + n.len) as usize;
            if n.len <= 2 {
                out.extend_from_slice(&n.inline[..n.len as usize]);
            } else {
                out.extend_from_slice(&self.ids[r.clone()]);
            }
            if SPANS {
                spans.extend_from_slice(&self.spans[r]);
            }
        }

        /// Follow the draws down a tree: the node where the sample ends (its run from there is
        /// the sample), or None with `path` (the gaps before each skip) where it leaves the tree.
        #[inline]
        fn walk(&self, root: &Node, d: &mut Dropout, path: &mut Vec<u64>) -> Option<Node> {
            let mut node = *root;
            loop {
                if d.pass(node.pops as u64) {
                    return Some(node);
                }
                let g = d.through_skip();
                path.push(g);
                if node.first == NO_NODE {
                    return None;
                }
                node = self.kids[node.first as usize + g as usize];
                if node.pops == UNSEEN.pops {
                    return None;
                }
            }
        }

        /// Put `node` where `path` leads in the tree of `key` (its parent exists: `walk` went
        /// there).
        fn graft(&mut self, key: &[u8; KEY], path: &[u64], node: Node) {
            let (last, above) = path.split_last().unwrap();
            let mut parent = None; // None: the root
            let mut first = self.roots[key].node.first;
            for &g in above {
                let k = first as usize + g as usize;
                parent = Some(k);
                first = self.kids[k].first;
            }
            if first == NO_NODE {
                first = self.kids.len() as u32;
                let p = match parent {
                    Some(k) => &mut self.kids[k],
                    None => &mut self.roots.get_mut(key).unwrap().node,
                };
                p.first = first;
                let pops = p.pops as usize;
                self.kids.resize(self.kids.len() + pops, UNSEEN);
            }
            self.kids[first as usize + *last as usize] = node;
        }
    }

    /// The dropout path's working memory, kept per thread: the piece's symbols and tokens, the
    /// loop's arrays and the memo (for one encoder at a time).
    #[derive(Default)]
    pub(super) struct DropoutBufs {
        piece: PieceBufs,
        ids: Vec<u32>,
        spans: Vec<(u32, u32)>,
        path: Vec<u64>,
        prev: Vec<isize>,
        next: Vec<isize>,
        alive: Vec<bool>,
        cur: Vec<u64>,
        heap: BinaryHeap<Reverse<Cand>>,
        skipped: Vec<Cand>,
        /// `dropout_small`'s queue
        small: Vec<Cand>,
        /// the encoder the memo is for
        owner: u64,
        memo: Memo,
    }

    impl DropoutBufs {
        /// Serve the encoder `owner` (the caches hold one encoder's answers).
        fn claim(&mut self, owner: u64) {
            if self.owner != owner {
                self.owner = owner;
                self.memo.clear();
            }
        }

        /// after a huge piece, give the memory back
        fn trim(&mut self) {
            const KEEP_MAX: usize = 1 << 16;
            if self.prev.capacity() > KEEP_MAX || self.skipped.capacity() > KEEP_MAX {
                (self.prev, self.next, self.alive, self.cur) = Default::default();
                (self.heap, self.skipped) = Default::default();
            }
            if self.piece.syms.capacity() > KEEP_MAX || self.ids.capacity() > KEEP_MAX {
                (self.piece, self.ids, self.spans) = Default::default();
            }
        }
    }

    thread_local! {
        static BUFS: std::cell::RefCell<DropoutBufs> = std::cell::RefCell::new(DropoutBufs::default());
    }

    impl Encoder {
        /// BPE-dropout over one piece: a short one through the memo (`Node`), a long one by
        /// running the loop.
        pub(super) fn piece_dropout<const SPANS: bool>(&self, piece: &[u8], out: &mut Vec<u32>,
                                                       spans: &mut Vec<(u32, u32)>, d: &mut Dropout) {
            if piece.is_empty() {
                return;
            }
            BUFS.with(|m| {
                let m = &mut *m.borrow_mut();
                m.claim(self.id);
                match key(piece) {
                    Some(k) if !d.skips_all() => self.sample_memo::<SPANS>(piece, &k, m, d, out, spans),
                    _ => {
                        self.run::<SPANS, _>(piece, m, d);
                        self.emit::<SPANS>(m, out, spans);
                        m.trim();
                    }
                }
            });
        }

        /// The sample of a short piece (`key`: its memo key): walk its memo tree with the draws
        /// to the node where the sample ends (its tokens are the sample). Where the walk leaves
        /// the tree, the loop runs with the path replayed, and the node is added: from that run
        /// when it ended without a skip (it is then the node's run), else, for a piece seen
        /// before, from one more run without skips after the path (rare pieces do not pay).
        fn sample_memo<const SPANS: bool>(&self, piece: &[u8], key: &[u8; KEY], m: &mut DropoutBufs,
                                          d: &mut Dropout, out: &mut Vec<u32>, spans: &mut Vec<(u32, u32)>) {
            let (root, seen) = match m.memo.roots.get_mut(key) {
                Some(r) => {
                    r.seen = r.seen.saturating_add(1);
                    (r.node, r.seen)
                }
                None => (self.memo_root(piece, key, m), 1),
            };
            let mut path = std::mem::take(&mut m.path);
            path.clear();
            if let Some(node) = m.memo.walk(&root, d, &mut path) {
                m.memo.emit::<SPANS>(&node, out, spans);
                m.path = path;
                return;
            }
            let mut replay = Replay { path: &path, at: 0, left: path[0], live: d, pops: 0, skipped: false };
            self.run::<true, _>(piece, m, &mut replay);
            self.emit::<SPANS>(m, out, spans);
            if path.len() <= MEMO_MAX_DEPTH && (!replay.skipped || seen > 1) {
                let pops = if replay.skipped {
                    let mut tail = Replay { path: &path, at: 0, left: path[0], live: &mut Never(0), pops: 0,
                                            skipped: false };
                    self.run::<true, _>(piece, m, &mut tail);
                    tail.pops
                } else {
                    replay.pops
                };
                let node = m.memo.node(pops, &m.ids, &m.spans);
                m.memo.graft(key, &path, node);
            }
            m.path = path;
        }

        /// A piece's memo tree: its run without skips.
        fn memo_root(&self, piece: &[u8], key: &[u8; KEY], m: &mut DropoutBufs) -> Node {
            if m.memo.size() >= MEMO_MAX_NODES {
                m.memo.clear();
            }
            let mut never = Never(0);
            self.run::<true, _>(piece, m, &mut never);
            let node = m.memo.node(never.0, &m.ids, &m.spans);
            m.memo.roots.insert(*key, Root { node, seen: 1 });
            node
        }

        /// One run of the loop over a piece with `draws`: tokens into `m.ids`, with SPANS their
        /// byte ranges in the piece into `m.spans`.
        fn run<const SPANS: bool, D: Draws>(&self, piece: &[u8], m: &mut DropoutBufs, draws: &mut D) {
            let mut bufs = std::mem::take(&mut m.piece);
            let PieceBufs { syms, ss, keep } = &mut bufs;
            let bytewise = self.initial_symbols::<SPANS>(piece, syms, ss);
            keep.clear();
            merge_dropout(syms, &self.merges, keep, m, draws, SPANS, self.spelled_merges);
            m.ids.clear();
            m.ids.extend_from_slice(syms);
            m.spans.clear();
            if SPANS {
                push_spans(bytewise, keep, ss, piece.len(), &mut m.spans);
            }
            m.piece = bufs;
        }

        fn emit<const SPANS: bool>(&self, m: &DropoutBufs, out: &mut Vec<u32>, spans: &mut Vec<(u32, u32)>) {
            out.extend_from_slice(&m.ids);
            if SPANS {
                spans.extend_from_slice(&m.spans);
            }
        }
    }

    /// A candidate merge of the dropout loop: HF's heap entry (rank, position, new id). Keys are
    /// unique: a position's pair only ever grows, so it never meets the same merge (rank) twice; the
    /// order of the queue is therefore the order of HF's heap, whatever structure holds it.
    #[derive(Clone, Copy, Debug, Default)]
    struct Cand {
        /// rank << 32 | position of the left symbol (HF's order: rank, then leftmost)
        key: u64,
        new_id: u32,
    }

    impl Cand {
        #[inline]
        fn new(rank: u32, pos: usize, new_id: u32) -> Self {
            Cand { key: (rank as u64) << 32 | pos as u64, new_id }
        }

        #[inline]
        fn pos(&self) -> usize {
            (self.key & 0xFFFF_FFFF) as usize
        }
    }

    impl PartialEq for Cand {
        fn eq(&self, o: &Self) -> bool {
            self.key == o.key
        }
    }
    impl Eq for Cand {}
    impl PartialOrd for Cand {
        fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(o))
        }
    }
    impl Ord for Cand {
        fn cmp(&self, o: &Self) -> std::cmp::Ordering {
            self.key.cmp(&o.key)
        }
    }

    /// `cur` of a position whose pair merges to nothing (no entry is current there)
    const NO_KEY: u64 = u64::MAX;

    /// BPE-dropout: Hugging Face's `Word::merge_all` with dropout, step for step, so samples follow
    /// its distribution. Entries leave the queue in (rank, position) order; each popped entry, stale
    /// or not, is skipped with probability p and set aside; the first one that is not skipped puts
    /// the set-aside ones back (a new merge step: every candidate is drawn again) and is applied
    /// unless stale. The piece is done when the queue is empty (every candidate skipped). Stale
    /// entries take part as in HF: one that is not skipped starts a new step without a merge.
    ///
    /// One departure, which changes no token: the loop stops as soon as no entry of a current pair is
    /// left (`exact_stop`; `cur` says which entry is current where), where HF goes on popping the
    /// stale ones until its heap is empty: they can no longer merge anything (a stale pair only
    /// grows), they only use up draws. This holds when a stale entry can never apply, true of merge
    /// lists whose every result spells its pair (`Encoder::spelled_merges`); otherwise the loop
    /// runs to the end and checks stale entries as HF does. Pieces of up to `SMALL` symbols (nearly
    /// all) run in fixed arrays (`dropout_small`), longer ones on a heap (`dropout_heap`).
    #[allow(clippy::too_many_arguments)]
    fn merge_dropout<D: Draws>(syms: &mut Vec<u32>, merges: &Merges, keep: &mut Vec<u32>,
                               b: &mut DropoutBufs, d: &mut D, want_keep: bool, exact_stop: bool) {
        let n = syms.len();
        if n < 2 || d.skips_all() {
            // p = 1: every pop is skipped, nothing merges
            if want_keep {
                keep.extend(0..n as u32);
            }
            return;
        }
        if n <= SMALL {
            return dropout_small(syms, merges, keep, &mut b.small, d, want_keep, exact_stop);
        }
        dropout_heap(syms, merges, b, d, exact_stop);
        let mut k = 0;
        for i in 0..n {
            if b.alive[i] {
                syms[k] = syms[i];
                if want_keep {
                    keep.push(i as u32);
                }
                k += 1;
            }
        }
        syms.truncate(k);
    }

    /// Pieces up to this many symbols run `dropout_small`.
    const SMALL: usize = 32;
    /// no neighbour (`dropout_small`'s links)
    const NONE: u8 = u8::MAX;

    /// The linked symbols of a short piece and the entry current at each position.
    struct SmallLinks {
        next: [u8; SMALL],
        prev: [u8; SMALL],
        alive: [bool; SMALL],
        cur: [u64; SMALL],
        /// positions whose `cur` is an entry
        valid: usize,
    }

    impl SmallLinks {
        /// Merge the pair at `pos` into `new_id`: the pairs around it change, so no entry is current
        /// at `pos`, at its right neighbour (gone) or at its left neighbour. Returns (left, right)
        /// neighbours of the new symbol.
        #[inline]
        fn merge(&mut self, syms: &mut [u32], pos: usize, new_id: u32) -> (u8, u8) {
            let right = self.next[pos] as usize;
            for x in [pos, right, self.prev[pos] as usize] {
                if x < SMALL && self.cur[x] != NO_KEY {
                    self.cur[x] = NO_KEY;
                    self.valid -= 1;
                }
            }
            syms[pos] = new_id;
            self.alive[right] = false;
            self.next[pos] = self.next[right];
            if self.next[right] != NONE {
                self.prev[self.next[right] as usize] = pos as u8;
            }
            (self.prev[pos], self.next[pos])
        }
    }

    /// `merge_dropout` on a short piece, in fixed arrays. The queue is one array sorted by key from
    /// the highest down, popped from the end; entries popped and skipped in the current step stay in
    /// place above a cursor (`live`): they were popped lowest first, so the array stays sorted, a new
    /// step is the cursor moved back to the end, and the step ends the piece when the cursor reaches
    /// the bottom (HF's empty heap).
    #[allow(clippy::too_many_arguments)]
    fn dropout_small<D: Draws>(syms: &mut Vec<u32>, merges: &Merges, keep: &mut Vec<u32>, queue: &mut Vec<Cand>,
                               d: &mut D, want_keep: bool, exact_stop: bool) {
        let n = syms.len();
        let mut l = SmallLinks { next: [NONE; SMALL], prev: [NONE; SMALL], alive: [true; SMALL], cur: [NO_KEY; SMALL],
                                 valid: 0 };
        for i in 0..n {
            l.next[i] = if i + 1 < n { (i + 1) as u8 } else { NONE };
            l.prev[i] = if i > 0 { (i - 1) as u8 } else { NONE };
        }
        // initial pairs <= n - 1, each merge pushes <= 2 and there are <= n - 1 merges
        let q = queue;
        q.clear();
        q.resize(3 * n, Cand::default());
        let mut len = 0usize;
        let push = |q: &mut [Cand], len: &mut usize, l: &mut SmallLinks, rank: u32, pos: usize, id: u32| {
            let c = Cand::new(rank, pos, id);
            let mut j = *len;
            while j > 0 && q[j - 1].key < c.key {
                q[j] = q[j - 1];
                j -= 1;
            }
            q[j] = c;
            *len += 1;
            l.cur[pos] = c.key;
            l.valid += 1;
        };
        for i in 0..n - 1 {
            if let Some((rank, new_id)) = merges.get(&(syms[i], syms[i + 1])).copied() {
                push(q, &mut len, &mut l, rank, i, new_id);
            }
        }
        let mut live = len;
        while live > 0 && (l.valid > 0 || !exact_stop) {
            let top = q[live - 1];
            if d.skip() {
                live -= 1;
                continue;
            }
            // a new step: the set-aside entries are back, the applied (or stale) one is gone
            q.copy_within(live..len, live - 1);
            len -= 1;
            live = len;
            let pos = top.pos();
            let after = (l.next[pos] != NONE).then_some(l.next[pos] as usize);
            if l.cur[pos] != top.key && !hf_applies_stale(syms, &l.alive, after, top, merges, exact_stop) {
                continue;
            }
            let (p, r) = l.merge(syms, pos, top.new_id);
            if p != NONE {
                let p = p as usize;
                if let Some((rank, id)) = merges.get(&(syms[p], syms[pos])).copied() {
                    push(q, &mut len, &mut l, rank, p, id);
                }
            }
            if r != NONE {
                if let Some((rank, id)) = merges.get(&(syms[pos], syms[r as usize])).copied() {
                    push(q, &mut len, &mut l, rank, pos, id);
                }
            }
            live = len;
        }
        let mut k = 0;
        for i in 0..n {
            if l.alive[i] {
                syms[k] = syms[i];
                if want_keep {
                    keep.push(i as u32);
                }
                k += 1;
            }
        }
        syms.truncate(k);
    }

    /// Whether HF applies a stale (or dead) entry: only if the pair now at its position (`right`:
    /// the symbol after it) makes the same token, which never happens with spelled merges
    /// (`exact_stop`: that pair spells more).
    #[inline]
    fn hf_applies_stale(syms: &[u32], alive: &[bool], right: Option<usize>, top: Cand, merges: &Merges,
                        exact_stop: bool) -> bool {
        let pos = top.pos();
        match right {
            Some(r) if !exact_stop && alive[pos] => {
                matches!(merges.get(&(syms[pos], syms[r])), Some(&(_, id)) if id == top.new_id)
            }
            _ => false,
        }
    }

    /// `merge_dropout` on a long piece: linked symbols as in `MergeBufs`, a heap of candidates and a
    /// list of the ones set aside.
    fn dropout_heap<D: Draws>(syms: &mut [u32], merges: &Merges, b: &mut DropoutBufs, d: &mut D, exact_stop: bool) {
        let n = syms.len();
        let DropoutBufs { prev, next, alive, cur, heap, skipped, .. } = b;
        prev.clear();
        prev.extend((0..n as isize).map(|i| i - 1));
        next.clear();
        next.extend((1..=n as isize).map(|i| if i == n as isize { -1 } else { i }));
        alive.clear();
        alive.resize(n, true);
        cur.clear();
        cur.resize(n, NO_KEY);
        heap.clear();
        skipped.clear();
        let mut valid = 0usize;
        let push = |heap: &mut BinaryHeap<Reverse<Cand>>, cur: &mut [u64], valid: &mut usize, rank: u32, pos: usize,
                    id: u32| {
            let c = Cand::new(rank, pos, id);
            heap.push(Reverse(c));
            cur[pos] = c.key;
            *valid += 1;
        };
        for i in 0..n - 1 {
            if let Some((rank, new_id)) = merges.get(&(syms[i], syms[i + 1])).copied() {
                push(heap, cur, &mut valid, rank, i, new_id);
            }
        }
        loop {
            if valid == 0 && exact_stop {
                break;
            }
            let Some(Reverse(top)) = heap.pop() else { break };
            if d.skip() {
                skipped.push(top);
                continue;
            }
            heap.extend(skipped.drain(..).map(Reverse));
            let pos = top.pos();
            let after = (next[pos] >= 0).then_some(next[pos] as usize);
            if cur[pos] != top.key && !hf_applies_stale(syms, alive, after, top, merges, exact_stop) {
                continue;
            }
            let right = next[pos] as usize;
            for x in [pos as isize, right as isize, prev[pos]] {
                if x >= 0 && cur[x as usize] != NO_KEY {
                    cur[x as usize] = NO_KEY;
                    valid -= 1;
                }
            }
            syms[pos] = top.new_id;
            alive[right] = false;
            next[pos] = next[right];
            if next[right] >= 0 {
                prev[next[right] as usize] = pos as isize;
            }
            if prev[pos] >= 0 {
                let p = prev[pos] as usize;
                if let Some((rank, id)) = merges.get(&(syms[p], syms[pos])).copied() {
                    push(heap, cur, &mut valid, rank, p, id);
                }
            }
            if next[pos] >= 0 {
                let r = next[pos] as usize;
                if let Some((rank, id)) = merges.get(&(syms[pos], syms[r])).copied() {
                    push(heap, cur, &mut valid, rank, pos, id);
                }
            }
        }
        skipped.clear();
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// Bernoulli(p) draws from a fixed sequence (xorshift), one per call, so two loops given
        /// equal sequences see the same draws for the same pops.
        struct Seq(u64, u64);

        impl Draws for Seq {
            fn skip(&mut self) -> bool {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                self.0 % 1000 < self.1
            }
        }

        /// Hugging Face's `Word::merge_all` with dropout, as written there (a heap of (rank,
        /// position, new id), skipped entries set aside and put back, stale entries checked by
        /// looking the pair up), to the empty heap.
        fn hf_merge_all(syms: &[u32], merges: &HashMap<(u32, u32), (u32, u32)>, d: &mut impl Draws) -> Vec<u32> {
            let n = syms.len();
            let mut syms = syms.to_vec();
            let mut next: Vec<isize> = (1..=n as isize).map(|i| if i == n as isize { -1 } else { i }).collect();
            let mut prev: Vec<isize> = (0..n as isize).map(|i| i - 1).collect();
            let mut alive = vec![true; n];
            let mut heap = BinaryHeap::new();
            let mut skip = Vec::new();
            for i in 0..n.saturating_sub(1) {
                if let Some(&(r, id)) = merges.get(&(syms[i], syms[i + 1])) {
                    heap.push(Reverse((r, i, id)));
                }
            }
            while let Some(top) = heap.pop() {
                if d.skip() {
                    skip.push(top);
                    continue;
                }
                heap.extend(skip.drain(..));
                let Reverse((_, pos, id)) = top;
                if !alive[pos] || next[pos] < 0 {
                    continue;
                }
                let right = next[pos] as usize;
                if merges.get(&(syms[pos], syms[right])).map(|m| m.1) != Some(id) {
                    continue;
                }
                syms[pos] = id;
                alive[right] = false;
                next[pos] = next[right];
                if next[right] >= 0 {
                    prev[next[right] as usize] = pos as isize;
                }
                if prev[pos] >= 0 {
                    let p = prev[pos] as usize;
                    if let Some(&(r, nid)) = merges.get(&(syms[p], syms[pos])) {
                        heap.push(Reverse((r, p, nid)));
                    }
                }
                if next[pos] >= 0 {
                    let q = next[pos] as usize;
                    if let Some(&(r, nid)) = merges.get(&(syms[pos], syms[q])) {
                        heap.push(Reverse((r, pos, nid)));
                    }
                }
            }
            (0..n).filter(|&i| alive[i]).map(|i| syms[i]).collect()
        }

        /// Random merge tables over 5 base symbols; `shared`: some results are made by two pairs
        /// (a list whose stale entries HF may apply), else every result is its own id.
        fn table(rnd: &mut impl FnMut(u64) -> u64, shared: bool) -> HashMap<(u32, u32), (u32, u32)> {
            let mut m = HashMap::default();
            let mut next = 5u32;
            for rank in 0..40u32 {
                let (a, b) = (rnd(next as u64) as u32, rnd(next as u64) as u32);
                if m.contains_key(&(a, b)) {
                    continue;
                }
                let id = if shared && next > 6 && rnd(3) == 0 { 5 + rnd((next - 5) as u64) as u32 } else { next };
                m.insert((a, b), (rank, id));
                if id == next {
                    next += 1;
                }
            }
            m
        }

        #[test]
        fn the_loop_gives_hf_tokens_for_the_same_draws() {
            let mut seed = 99u64;
            let mut rnd = |m: u64| { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; seed % m };
            for case in 0..400 {
                let shared = case % 2 == 1;
                let m = table(&mut rnd, shared);
                for _ in 0..20 {
                    let len = 2 + rnd(60) as usize; // both loops: arrays (<= SMALL) and heap
                    let s: Vec<u32> = (0..len).map(|_| rnd(5) as u32).collect();
                    let (p, k) = (rnd(1000), 1 + rnd(1 << 40));
                    let want = hf_merge_all(&s, &m, &mut Seq(k, p));
                    let mut got = s.clone();
                    let mut keep = Vec::new();
                    let mut bufs = DropoutBufs::default();
                    // with shared results the loop must run to the end, as HF's
                    merge_dropout(&mut got, &m, &mut keep, &mut bufs, &mut Seq(k, p), true, !shared);
                    assert_eq!(got, want, "{s:?} p={p}");
                    assert_eq!(keep.len(), got.len());
                }
            }
        }

        /// A toy encoder over chars a, b, c with random merges (every result spells its pair).
        fn toy(rnd: &mut impl FnMut(u64) -> u64) -> Encoder {
            let mut tokens: Vec<Vec<u8>> = vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()];
            let mut merges = Vec::new();
            let mut index: HashMap<Vec<u8>, u32> =
                tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
            for _ in 0..60 {
                let (a, b) = (rnd(tokens.len() as u64) as u32, rnd(tokens.len() as u64) as u32);
                let t = [tokens[a as usize].clone(), tokens[b as usize].clone()].concat();
                if t.len() > 6 || index.contains_key(&t) {
                    continue;
                }
                index.insert(t.clone(), tokens.len() as u32);
                merges.push((a, b, tokens.len() as u32));
                tokens.push(t);
            }
            let in_vocab = vec![true; tokens.len()];
            Encoder::new(&tokens, &in_vocab, &[], &merges, r#"{"surface": "plain"}"#).unwrap()
        }

        #[test]
        fn the_memo_gives_what_the_loop_gives() {
            // same tokens and spans, and the same draws spent (the next piece sees the same stream)
            let mut seed = 5u64;
            let mut rnd = |m: u64| { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; seed % m };
            for _ in 0..20 {
                let enc = toy(&mut rnd);
                assert!(enc.spelled_merges);
                let pieces: Vec<Vec<u8>> = (0..8).map(|_| {
                    let n = 1 + rnd(20) as usize;
                    (0..n).map(|_| b"abc"[rnd(3) as usize]).collect()
                }).collect();
                for k in 0..300u64 {
                    let p = [0.05, 0.1, 0.3, 0.7][k as usize % 4];
                    let mut d1 = Dropout::new(p, k, 0);
                    let mut d2 = d1.clone();
                    for piece in &pieces {
                        let (mut ids, mut spans) = (Vec::new(), Vec::new());
                        enc.piece_dropout::<true>(piece, &mut ids, &mut spans, &mut d1);
                        let mut bufs = DropoutBufs::default();
                        enc.run::<true, _>(piece, &mut bufs, &mut d2);
                        assert_eq!((&ids, &spans), (&bufs.ids, &bufs.spans), "{piece:?} p={p}");
                        assert_eq!((d1.gap, d1.state), (d2.gap, d2.state));
                        let spelled: Vec<u8> =
                            spans.iter().flat_map(|&(a, b)| piece[a as usize..b as usize].to_vec()).collect();
                        assert_eq!(&spelled, piece);
                    }
                }
            }
        }

        #[test]
        fn gaps_are_geometric() {
            // P(skip) = p for each pop, P(gap >= g) = (1 - p)^g
            for &p in &[0.05, 0.1, 0.5] {
                let mut d = Dropout::new(p, 7, 0);
                let n = 200_000;
                let skips = (0..n).filter(|_| d.skip()).count() as f64 / n as f64;
                assert!((skips - p).abs() < 4.0 * (p * (1.0 - p) / n as f64).sqrt(), "p={p}: {skips}");
            }
            let mut d = Dropout::new(1.0, 7, 0);
            assert!((0..100).all(|_| d.skip()));
        }

        #[test]
        fn streams_differ_by_seed_and_index() {
            let gaps = |seed, index| {
                let mut d = Dropout::new(0.3, seed, index);
                (0..20).map(|_| d.through_skip()).collect::<Vec<_>>()
            };
            assert_eq!(gaps(1, 0), gaps(1, 0));
            assert_ne!(gaps(1, 0), gaps(2, 0));
            assert_ne!(gaps(1, 0), gaps(1, 1));
        }
    }
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
