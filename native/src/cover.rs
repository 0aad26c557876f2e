//! The cover of a byte prefix, kept as a tree of token contexts over a vocabulary trie.
//!
//! For a prefix x (n bytes), a *cover* is a token sequence t_1..t_k whose first k-1 tokens spell
//! a strict prefix x[..s] of x and whose last token starts with x[s..] (it reaches or crosses the
//! end of x). P(prefix x) = sum over covers of P(t_1..t_k). The tree holds the *contexts*
//! c = t_1..t_{k-1} (every token sequence spelling some x[..s] that can still be extended into a
//! cover), each with the model's next-token distribution once Python has evaluated it. For a
//! context, the mass of all tokens starting with a byte string is one trie-subtree sum, so the
//! next-byte masses of all 256 bytes come from the children of one trie node per context.
//!
//! Semantics: *all* keeps every token sequence; *canonical* keeps a context only if its tokens are
//! what the tokenizer's own encoder produces for the bytes they spell, checked when a token is
//! appended by re-encoding a window (the tail that later text may still re-split, plus the new
//! token) with the tokenizer's pretokenizer and BPE. Everything before the window is fixed: a
//! pretokenizer's split of earlier text does not depend on later text, except within the last
//! pretoken and within a trailing run of white space (see `open_start`).
//!
//! Why hand-written: no library keeps a prefix cover over an arbitrary BPE vocabulary.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use crate::encode::Encoder;
use crate::pretok::Pretokenizer;
use crate::trie::ByteTrie;

const NONE: u32 = u32::MAX;

/// A vocabulary prepared for covers: the trie over its text tokens, and (for canonical
/// semantics) the tokenizer's encoder and a pretokenizer that never adds a prefix space.
pub struct CoverVocab {
    pub trie: ByteTrie,
    trie_parent: Vec<u32>,
    /// trie node of each text token (NONE for tokens that are not text: specials, empty)
    token_node: Vec<u32>,
    tokens: Vec<Vec<u8>>,
    text_ids: Vec<u32>,
    canon: Option<(Arc<Encoder>, Pretokenizer)>,
    no_pretok: bool,
    /// canonical: the token may occur in an encoding ([`CoverVocab::proper`]: BPE builds it from
    /// its own bytes)
    self_ok: Vec<bool>,
    /// canonical: allowed next tokens by the tokens of the window's tail ([`CoverVocab::tail`]:
    /// the junction is all that decides), shared across contexts and sessions
    cache: Mutex<HashMap<Vec<u32>, Arc<Vec<bool>>>>,
    /// canonical: [`CoverVocab::canonical_prefix_probe`] by (tail, token)
    probe_cache: Mutex<HashMap<(Vec<u32>, u32), bool>>,
}

const CACHE_ENTRIES: usize = 512;

impl CoverVocab {
    pub fn new(tokens: Vec<Vec<u8>>, text: &[bool], canon: Option<(Arc<Encoder>, Pretokenizer)>, no_pretok: bool) -> Self {
        let masked: Vec<&[u8]> =
            tokens.iter().zip(text).map(|(t, &ok)| if ok { &t[..] } else { &[][..] }).collect();
        let trie = ByteTrie::new(&masked);
        let mut trie_parent = vec![NONE; trie.num_nodes()];
        for n in 0..trie.num_nodes() {
            for (_, c) in trie.children(n) {
                trie_parent[c] = n as u32;
            }
        }
        let mut token_node = vec![NONE; tokens.len()];
        let mut text_ids = Vec::new();
        for (i, t) in masked.iter().enumerate() {
            if !t.is_empty() {
                token_node[i] = trie.walk(t).map(|n| n as u32).unwrap_or(NONE);
                text_ids.push(i as u32);
            }
        }
        let mut voc = CoverVocab {
            trie, trie_parent, token_node, tokens, text_ids, canon, no_pretok,
            self_ok: Vec::new(), cache: Mutex::new(HashMap::new()), probe_cache: Mutex::new(HashMap::new()),
        };
        if voc.canon.is_some() {
            let ok: Vec<bool> = (0..voc.tokens.len() as u32).into_par_iter().map(|v| voc.proper(v)).collect();
            voc.self_ok = ok;
        }
        voc
    }

    /// BPE builds token `v` from its own bytes: it may occur in an encoding. Checked on the bytes
    /// as one piece too, since the pretokenizer may split a token's bytes at the end of a text
    /// but not before more text (Llama-3: "\n " alone is "\n"," ", "\n \n" is "\n ","\n").
    fn proper(&self, v: u32) -> bool {
        let Some((enc, _)) = self.canon.as_ref() else { return true };
        let t = &self.tokens[v as usize];
        let alone = match self.encode_window(t) {
            Some(e) => e == [v],
            None => true, // not text on its own (starts inside a character): no verdict
        };
        let mut piece = Vec::new();
        enc.encode_piece(t, &mut piece);
        alone || piece == [v]
    }

    /// The tokens from where later text may still re-split what `win` spells ([`open_start`];
    /// all of `win` when its tokens do not align with that pretoken boundary). Text before it
    /// keeps its split whatever follows, so a next token is checked against this tail only.
    fn tail<'a>(&self, win: &'a [u32]) -> &'a [u32] {
        let Some((_, pretok)) = self.canon.as_ref() else { return win };
        if win.len() <= 1 {
            return win;
        }
        let y = self.spell(win);
        let s = valid_prefix(&y);
        match open_start(s, &pretok.pieces(s)).and_then(|cut| self.token_at(win, cut)) {
            Some(k) => &win[k..],
            None => win,
        }
    }

    /// The index of the token of `win` that starts at byte `cut` of what `win` spells.
    fn token_at(&self, win: &[u32], cut: usize) -> Option<usize> {
        let mut acc = 0;
        for (k, &t) in win.iter().enumerate() {
            if acc == cut {
                return Some(k);
            }
            acc += self.tokens[t as usize].len();
            if acc > cut {
                return None;
            }
        }
        None
    }

    /// Which tokens may follow `win` (by id), cached by the tail of `win`.
    fn allowed_after(&self, win: &[u32]) -> Arc<Vec<bool>> {
        let tail = self.tail(win).to_vec();
        if let Some(a) = self.cache.lock().unwrap().get(&tail) {
            return a.clone();
        }
        let tbytes = self.spell(&tail);
        // fast path: when the tail is canonical text on its own and v comes out as a pretoken
        // of its own after it, v is allowed iff it is its own encoding (no BPE run needed)
        let (_, pretok) = self.canon.as_ref().unwrap();
        let tail_spans: Option<Vec<(usize, usize)>> = std::str::from_utf8(&tbytes).ok()
            .filter(|_| self.encode_window(&tbytes).is_some_and(|e| e == tail))
            .map(|s| pretok.pieces(s).iter().map(|p| (p.start, p.end)).collect());
        let flags: Vec<bool> = self.text_ids.par_iter()
            .map(|&v| {
                if !self.self_ok[v as usize] {
                    return false;
                }
                if let Some(spans) = &tail_spans {
                    let mut y = tbytes.clone();
                    y.extend_from_slice(&self.tokens[v as usize]);
                    if let Ok(s) = std::str::from_utf8(&y) {
                        let ps = pretok.pieces(s);
                        if ps.len() == spans.len() + 1
                            && ps.iter().zip(spans).all(|(p, &(a, b))| p.start == a && p.end == b && !p.prefix_space)
                            && ps[spans.len()].start == tbytes.len()
                            && ps[spans.len()].end == y.len()
                            && !ps[spans.len()].prefix_space
                        {
                            return true;
                        }
                    }
                }
                self.canonical_after(&tail, &tbytes, v)
            })
            .collect();
        let mut ok = vec![false; self.tokens.len()];
        for (&v, f) in self.text_ids.iter().zip(flags) {
            ok[v as usize] = f;
        }
        let ok = Arc::new(ok);
        let mut cache = self.cache.lock().unwrap();
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(tail, ok.clone());
        ok
    }

    pub fn num_tokens(&self) -> usize {
        self.tokens.len()
    }

    pub fn can_canonical(&self) -> bool {
        self.canon.is_some()
    }

    /// The tokenizer's encoding of `y` as a piece of running text (no prefix space, no
    /// normalizer). An incomplete UTF-8 character at the end joins the last pretoken (byte-level
    /// vocabularies) or is spelled by byte-fallback pieces; an invalid byte elsewhere, or an
    /// incomplete character a vocabulary cannot spell, gives None (nothing canonical spells it).
    fn encode_window(&self, y: &[u8]) -> Option<Vec<u32>> {
        let (enc, pretok) = self.canon.as_ref()?;
        let valid = match std::str::from_utf8(y) {
            Ok(s) => s.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => return None,
        };
        let s = std::str::from_utf8(&y[..valid]).ok()?;
        let tail = &y[valid..];
        let pieces = pretok.pieces(s);
        let mut out = Vec::with_capacity(8);
        let n = pieces.len();
        for (i, p) in pieces.iter().enumerate() {
            let mut b = p.bytes(s);
            if enc.is_byte_level() && i + 1 == n && p.end == valid {
                b.extend_from_slice(tail);
            }
            enc.encode_piece(&b, &mut out);
        }
        let tail_done = enc.is_byte_level() && n > 0 && pieces[n - 1].end == valid;
        if !tail.is_empty() && !tail_done {
            if enc.is_byte_level() {
                enc.encode_piece(tail, &mut out);
            } else {
                for &b in tail {
                    out.push(enc.fallback_id(b)?);
                }
            }
        }
        Some(out)
    }

    fn spell(&self, ids: &[u32]) -> Vec<u8> {
        let mut y = Vec::new();
        for &i in ids {
            y.extend_from_slice(&self.tokens[i as usize]);
        }
        y
    }

    /// Is `win` followed by `v` exactly the encoding of the bytes they spell?
    fn canonical_after(&self, win: &[u32], wbytes: &[u8], v: u32) -> bool {
        let mut y = Vec::with_capacity(wbytes.len() + self.tokens[v as usize].len());
        y.extend_from_slice(wbytes);
        y.extend_from_slice(&self.tokens[v as usize]);
        match self.encode_window(&y) {
            Some(e) => e.len() == win.len() + 1 && e[..win.len()] == *win && e[win.len()] == v,
            None => false,
        }
    }

    /// Could `win` followed by `v` still be a prefix of the encoding of a longer text? Tried
    /// with the [`probes`] (a text's end can split differently from its middle: GPT-2's
    /// `\s+(?!\S)` gives "a  " as a,"  " but "a  b" as a," "," b"); cached.
    fn canonical_prefix_probe(&self, win: &[u32], wbytes: &[u8], v: u32) -> bool {
        let key = (win.to_vec(), v);
        if let Some(&k) = self.probe_cache.lock().unwrap().get(&key) {
            return k;
        }
        let mut y = wbytes.to_vec();
        y.extend_from_slice(&self.tokens[v as usize]);
        let white = valid_prefix(&y).chars().last().is_some_and(char::is_whitespace);
        let n = y.len();
        let found = probes(white).any(|p| {
            y.truncate(n);
            y.extend_from_slice(p.as_bytes());
            match self.encode_window(&y) {
                Some(e) => e.len() > win.len() && e[..win.len()] == *win && e[win.len()] == v,
                None => false,
            }
        });
        let mut cache = self.probe_cache.lock().unwrap();
        if cache.len() >= 64 * CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(key, found);
        found
    }

    /// The window kept for later checks: the tokens of the last two pretokens of `win`, or more
    /// when its tail ([`open_start`]) starts earlier.
    fn trim_window(&self, mut win: Vec<u32>) -> Vec<u32> {
        let Some((_, pretok)) = self.canon.as_ref() else { return Vec::new() };
        if self.no_pretok {
            // one piece: BPE canonicality is a property of adjacent pairs (Berglund et al.;
            // Vieira et al. 2025), so the last token is all the window needs
            let k = win.len().saturating_sub(1);
            win.drain(..k);
            return win;
        }
        let y = self.spell(&win);
        let s = valid_prefix(&y);
        let pieces = pretok.pieces(s);
        if pieces.len() < 3 {
            return win;
        }
        let cut = pieces[pieces.len() - 2].start.min(open_start(s, &pieces).unwrap_or(0));
        if let Some(k) = self.token_at(&win, cut) {
            win.drain(..k);
        }
        win
    }
}

/// The longest prefix of `y` that is UTF-8 text (an incomplete character at the end is left out).
fn valid_prefix(y: &[u8]) -> &str {
    let valid = match std::str::from_utf8(y) {
        Ok(s) => s.len(),
        Err(e) => e.valid_up_to(),
    };
    std::str::from_utf8(&y[..valid]).unwrap_or("")
}

/// Where the part of `s` that later text may still re-split starts: its last pretoken, or, when
/// `s` ends in white space (`\s`, Unicode White_Space), the pretoken where that run of white
/// space starts. A pretokenizer's lookahead regroups a whole trailing run: Llama-3's
/// `\s*[\r\n]+` splits " \n " as " \n"," " but " \n \n" as one pretoken, and `\s+(?!\S)`
/// gives "  " whole at the end but " "," b" before a letter. A pretoken that starts before the
/// run and ends inside it is kept (Llama-3's ` ?[^\s\p{L}\p{N}]+[\r\n]*` gives ")\n" before
/// "  ": its newlines stopped at a character that is not one).
fn open_start(s: &str, pieces: &[crate::pretok::Piece]) -> Option<usize> {
    let run = s.trim_end_matches(char::is_whitespace).len();
    let p = pieces.iter().rev().find(|p| p.start <= run).or(pieces.first())?;
    Some(if p.start < run && run < p.end && p.end < s.len() { p.end } else { p.start })
}

/// Continuations that stand for the classes a pretokenizer's lookahead tells apart: one
/// character of each class, and after text that ends in white space, also each character `\s`
/// matches (Unicode White_Space) alone and followed by how the run may end (a newline, more white
/// space, a letter, a digit, punctuation). Under Llama-3's `\s*[\r\n]+`, a token "\n " is
/// kept only when a newline follows later in the run, and BPE keeps it only when the token
/// after it does not merge across: with " \n" ranked above "\n ", "\n \n" is "\n"," \n" but
/// "\n \t\n" can be "\n ","\t\n", so one character after it is not always enough.
fn probes(white: bool) -> impl Iterator<Item = String> {
    const PROBES: [&str; 13] =
        [" ", "\n", "\t", "\r", "\u{a0}", "a", "A", "0", ".", "(", "b", "\u{e000}", "\u{4e00}"];
    const RUN_ENDS: [&str; 7] = ["\n", "\r", " ", "\t", "a", "0", "."];
    static WHITE: std::sync::OnceLock<Vec<char>> = std::sync::OnceLock::new();
    let ws = WHITE.get_or_init(|| ('\0'..='\u{3000}').filter(|c| c.is_whitespace()).collect());
    let after_white = ws.iter().filter(move |_| white)
        .flat_map(|w| std::iter::once(w.to_string()).chain(RUN_ENDS.iter().map(move |e| format!("{w}{e}"))));
    PROBES.iter().map(|p| p.to_string()).chain(after_white)
}

/// A context's evaluated next-token distribution.
struct Dist {
    logq: Vec<f64>,
    /// allowed probability mass of the tokens in each trie subtree (f64 sums of positives)
    sub: Vec<f64>,
    eos: f64,
    /// canonical: which tokens may follow (None: every text token)
    allowed: Option<Arc<Vec<bool>>>,
}

struct Node {
    parent: u32,
    token: u32,
    depth: u32,
    end: usize,
    logp: f64,
    /// trie node of x[end..] (the bytes the covering token must start with)
    at: u32,
    dist: Option<Dist>,
    win: Vec<u32>,
    /// the node's tokens are the encoding of the text they spell (not only a possible prefix of
    /// a longer text's encoding): only then may the text end here
    complete: bool,
}

pub struct Cover {
    voc: Arc<CoverVocab>,
    canonical: bool,
    x: Vec<u8>,
    nodes: Vec<Node>,
    contexts: Vec<u32>,
    beam: Option<usize>,
    prune: f64,
    /// contexts dropped by beam/threshold pruning so far (0: the cover is exact)
    pub pruned: usize,
}

fn logsumexp(v: &[f64]) -> f64 {
    let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + v.iter().map(|a| (a - m).exp()).sum::<f64>().ln()
}

impl Cover {
    pub fn new(voc: Arc<CoverVocab>, canonical: bool, beam: Option<usize>, prune: f64) -> Result<Self, String> {
        if canonical && !voc.can_canonical() {
            return Err("canonical semantics needs the tokenizer's BPE encoder".into());
        }
        let root = Node { parent: NONE, token: NONE, depth: 0, end: 0, logp: 0.0, at: 0, dist: None, win: Vec::new(), complete: true };
        Ok(Cover { voc, canonical, x: Vec::new(), nodes: vec![root], contexts: vec![0], beam, prune, pruned: 0 })
    }

    pub fn text(&self) -> &[u8] {
        &self.x
    }

    /// Contexts still waiting for their distribution: (node, parent, token, depth).
    pub fn pending(&self) -> Vec<(u32, u32, u32, u32)> {
        self.contexts.iter().filter(|&&c| self.nodes[c as usize].dist.is_none())
            .map(|&c| {
                let n = &self.nodes[c as usize];
                (c, n.parent, n.token, n.depth)
            })
            .collect()
    }

    pub fn contexts(&self) -> &[u32] {
        &self.contexts
    }

    pub fn node_info(&self, id: u32) -> Option<(u32, u32, u32, usize, f64)> {
        self.nodes.get(id as usize).map(|n| (n.parent, n.token, n.depth, n.end, n.logp))
    }

    /// Give a context its next-token log-probabilities (one per vocabulary id; non-text ids are
    /// ignored) and the log-probability of the end-of-text token.
    pub fn set_dist(&mut self, id: u32, logq: Vec<f64>, eos_logp: f64) -> Result<(), String> {
        let voc = self.voc.clone();
        if logq.len() != voc.num_tokens() {
            return Err(format!("expected {} log-probabilities, got {}", voc.num_tokens(), logq.len()));
        }
        let node = self.nodes.get(id as usize).ok_or("no such node")?;
        let allowed = if self.canonical {
            Some(voc.allowed_after(&node.win))
        } else {
            None
        };
        let mut sub = vec![0f64; voc.trie.num_nodes()];
        for &v in &voc.text_ids {
            if allowed.as_ref().is_none_or(|a| a[v as usize]) {
                let tn = voc.token_node[v as usize];
                if tn != NONE {
                    sub[tn as usize] += logq[v as usize].exp();
                }
            }
        }
        for n in (1..sub.len()).rev() {
            let p = voc.trie_parent[n];
            if p != NONE {
                sub[p as usize] += sub[n];
            }
        }
        self.nodes[id as usize].dist = Some(Dist { logq, sub, eos: eos_logp.exp(), allowed });
        Ok(())
    }

    fn ready(&self) -> Result<(), String> {
        if self.contexts.iter().any(|&c| self.nodes[c as usize].dist.is_none()) {
            return Err("some contexts have not been evaluated (pending)".into());
        }
        Ok(())
    }

    /// Log masses of the 256 next bytes and end of text (index 256): log P(prefix x.b) and
    /// log P(x, then end); not normalized.
    pub fn next_masses(&self) -> Result<Vec<f64>, String> {
        self.ready()?;
        let n = self.x.len();
        let m = self.contexts.iter().map(|&c| self.nodes[c as usize].logp).fold(f64::NEG_INFINITY, f64::max);
        let mut acc = vec![0f64; 257];
        for &c in &self.contexts {
            let node = &self.nodes[c as usize];
            let d = node.dist.as_ref().unwrap();
            let w = (node.logp - m).exp();
            for (b, ch) in self.voc.trie.children(node.at as usize) {
                acc[b as usize] += w * d.sub[ch];
            }
            if node.end == n && node.complete {
                acc[256] += w * d.eos;
            }
        }
        Ok(acc.iter().map(|a| a.ln() + m).collect())
    }

    /// Scoring a known text: drop the contexts still waiting for a model call that no allowed
    /// token can extend along `future` (the text's remaining bytes), so they cost no call.
    /// A context whose future ends inside a token is kept. Returns how many were dropped.
    pub fn drop_dead(&mut self, future: &[u8]) -> usize {
        let voc = self.voc.clone();
        let mut dead = Vec::new();
        for &c in &self.contexts {
            let node = &self.nodes[c as usize];
            if node.dist.is_some() || future.is_empty() {
                continue;
            }
            let allowed = if self.canonical { Some(voc.allowed_after(&node.win)) } else { None };
            let tail = voc.tail(&node.win);
            let tbytes = voc.spell(tail);
            // a token inside the future may also become a context by the probe rule (see push)
            let ok = |v: u32| match &allowed {
                None => true,
                Some(a) => a[v as usize] || (voc.self_ok[v as usize] && voc.canonical_prefix_probe(tail, &tbytes, v)),
            };
            let mut at = 0usize;
            let mut live = false;
            for (k, &b) in future.iter().enumerate() {
                match voc.trie.child(at, b) {
                    Some(ch) => {
                        at = ch;
                        if voc.trie.node_ids(ch).iter().any(|&v| ok(v)) || k + 1 == future.len() {
                            live = true;
                            break;
                        }
                    }
                    None => break,
                }
            }
            if !live {
                dead.push(c);
            }
        }
        self.contexts.retain(|c| !dead.contains(c));
        dead.len()
    }

    /// log P(prefix x): the mass of the cover (0 for the empty prefix). Contexts born at the end
    /// need no distribution for this.
    pub fn cover_logmass(&self) -> Result<f64, String> {
        let n0 = self.x.len();
        if self.contexts.iter().any(|&c| self.nodes[c as usize].dist.is_none() && self.nodes[c as usize].end < n0) {
            return Err("some contexts have not been evaluated (pending)".into());
        }
        let n = self.x.len();
        if n == 0 {
            return Ok(0.0);
        }
        // covers whose last token crosses the end (from contexts before it), plus those whose
        // last token ends exactly at it (the contexts born there)
        let mut parts = Vec::new();
        for &c in &self.contexts {
            let node = &self.nodes[c as usize];
            if node.end < n {
                let d = node.dist.as_ref().unwrap();
                let crossing: f64 = self.voc.trie.children(node.at as usize).map(|(_, g)| d.sub[g]).sum();
                parts.push(node.logp + crossing.ln());
            } else if node.complete {
                parts.push(node.logp);
            }
        }
        Ok(logsumexp(&parts))
    }

    /// Append one byte: contexts whose covering token can no longer match die; tokens that end
    /// exactly here become new contexts (to be evaluated). Returns how many were created.
    pub fn push(&mut self, b: u8) -> Result<usize, String> {
        self.ready()?;
        let voc = self.voc.clone();
        let n1 = self.x.len() + 1;
        let mut keep = Vec::with_capacity(self.contexts.len());
        let mut born = Vec::new();
        for &c in &self.contexts {
            let node = &self.nodes[c as usize];
            let Some(ch) = voc.trie.child(node.at as usize, b) else { continue };
            let d = node.dist.as_ref().unwrap();
            // canonical: a token that may not end the text here can still start a canonical
            // encoding of a longer text (probe rule below: "a\t" + "\t" before "b"), so a
            // subtree without allowed mass is no reason to stop
            if d.sub[ch] <= 0.0 && d.allowed.is_none() {
                continue;
            }
            for &v in voc.trie.node_ids(ch) {
                let lq = d.logq[v as usize];
                if lq == f64::NEG_INFINITY {
                    continue;
                }
                match &d.allowed {
                    None => born.push((c, v, node.logp + lq, true)),
                    Some(a) if a[v as usize] => born.push((c, v, node.logp + lq, true)),
                    Some(_) => {
                        let tail = voc.tail(&node.win);
                        if voc.self_ok[v as usize] && voc.canonical_prefix_probe(tail, &voc.spell(tail), v) {
                            born.push((c, v, node.logp + lq, false));
                        }
                    }
                }
            }
            let deeper = match &d.allowed {
                None => voc.trie.children(ch).any(|(_, g)| d.sub[g] > 0.0),
                Some(_) => voc.trie.children(ch).next().is_some(),
            };
            if deeper {
                keep.push((c, ch));
            }
        }
        for &(c, ch) in &keep {
            self.nodes[c as usize].at = ch as u32;
        }
        let kept: std::collections::HashSet<u32> = keep.iter().map(|&(c, _)| c).collect();
        for &c in &self.contexts {
            if !kept.contains(&c) {
                self.nodes[c as usize].dist = None; // free the distribution
            }
        }
        self.contexts = keep.iter().map(|&(c, _)| c).collect();
        self.x.push(b);
        let created = born.len();
        for (c, v, logp, complete) in born {
            let parent = &self.nodes[c as usize];
            let win = if self.canonical {
                let mut w = parent.win.clone();
                w.push(v);
                voc.trim_window(w)
            } else {
                Vec::new()
            };
            let node = Node { parent: c, token: v, depth: parent.depth + 1, end: n1, logp, at: 0, dist: None, win, complete };
            self.nodes.push(node);
            self.contexts.push((self.nodes.len() - 1) as u32);
        }
        self.prune_contexts();
        Ok(created)
    }

    /// Beam and threshold pruning by each context's share of the cover mass: P(c) times the
    /// mass of the tokens that can still cover the text from it (P(c) for a context born here).
    /// Exact when neither is set.
    fn prune_contexts(&mut self) {
        if self.beam.is_none() && !self.prune.is_finite() {
            return;
        }
        let score = |c: u32| {
            let n = &self.nodes[c as usize];
            match &n.dist {
                Some(d) => n.logp + d.sub[n.at as usize].ln(),
                None => n.logp,
            }
        };
        let mut order: Vec<(f64, u32)> = self.contexts.iter().map(|&c| (score(c), c)).collect();
        order.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
        let best = order.first().map(|o| o.0).unwrap_or(0.0);
        let limit = self.beam.unwrap_or(usize::MAX);
        let before = order.len();
        let kept: Vec<u32> = order.iter().enumerate()
            .filter(|(k, (lp, _))| *k < limit && (best - lp) <= self.prune)
            .map(|(_, &(_, c))| c).collect();
        self.pruned += before - kept.len();
        let set: std::collections::HashSet<u32> = kept.iter().copied().collect();
        for &c in &self.contexts {
            if !set.contains(&c) {
                self.nodes[c as usize].dist = None;
            }
        }
        self.contexts.retain(|c| set.contains(c));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voc() -> Arc<CoverVocab> {
        let toks: Vec<Vec<u8>> = ["a", "b", "ab", "ba", "abb"].iter().map(|s| s.as_bytes().to_vec()).collect();
        Arc::new(CoverVocab::new(toks, &[true; 5], None, false))
    }

    const LLAMA3: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// A byte-level BPE (256 bytes, then one token per merge, ranked in order) with Llama-3's
    /// pretokenizer, prepared for canonical covers; and the id of a token by its bytes.
    fn llama3_vocab(merges: &[(&str, &str)]) -> (CoverVocab, impl Fn(&str) -> u32) {
        let mut tokens: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
        let mut rules = Vec::new();
        for (a, b) in merges {
            let id = |t: &str| tokens.iter().position(|x| x == t.as_bytes()).unwrap() as u32;
            rules.push((id(a), id(b), tokens.len() as u32));
            tokens.push(format!("{a}{b}").into_bytes());
        }
        let steps = serde_json::json!([{"kind": "split", "params": {"regex": LLAMA3, "behavior": "Isolated"}},
                                       {"kind": "byte_level", "params": {"use_regex": false}}]);
        let config = serde_json::json!({"surface": "byte_level", "pretokenizer": steps}).to_string();
        let all = vec![true; tokens.len()];
        let enc = Encoder::new(&tokens, &all, &[], &rules, &config).unwrap();
        let pretok = Pretokenizer::from_json(&steps.to_string()).unwrap();
        let names = tokens.clone();
        let voc = CoverVocab::new(tokens, &all, Some((Arc::new(enc), pretok)), false);
        (voc, move |t: &str| names.iter().position(|x| x == t.as_bytes()).unwrap() as u32)
    }

    #[test]
    fn a_newline_regroups_the_white_space_run_before_it() {
        let (voc, id) = llama3_vocab(&[("\n", " "), (" ", " ")]);
        // "\n " is "\n"," " at the end of a text but one token in "\n \n" (issue 19)
        assert!(voc.self_ok[id("\n ") as usize]);
        assert!(voc.canonical_prefix_probe(&[], b"", id("\n ")));
        assert!(voc.allowed_after(&[id("\n ")])[id("\n") as usize]);
        // after "\n"," " the check re-encodes the whole run: "\n \n" is not "\n"," ","\n"
        assert_eq!(voc.tail(&[id("a"), id("\n"), id(" ")]), &[id("\n"), id(" ")]);
        assert!(!voc.allowed_after(&[id("\n"), id(" ")])[id("\n") as usize]);
        assert!(voc.allowed_after(&[id("\n"), id(" ")])[id("a") as usize]);
    }

    #[test]
    fn the_run_may_need_two_probe_characters() {
        // " \n" and " \r" outrank "\n ": "\n " starts "\n \t\n" ("\n ","\t\n"), but no text one
        // character longer than "\n " ("\n \n" is "\n"," \n"; "\n a" is "\n"," a")
        let (voc, id) = llama3_vocab(&[(" ", "\n"), (" ", "\r"), ("\t", "\n"), ("\n", " ")]);
        assert!(voc.canonical_prefix_probe(&[], b"", id("\n ")));
        assert!(voc.canonical_prefix_probe(&[id("a")], b"a", id("\n ")));
    }

    #[test]
    fn open_start_takes_the_whole_trailing_run() {
        let (voc, _) = llama3_vocab(&[]);
        let pretok = &voc.canon.as_ref().unwrap().1;
        for (s, at) in [("ab cd", 2), ("x \n ", 1), ("a.\n\t", 3), ("a.\n", 1), ("a.\n\n", 1), ("a\n\u{3000}", 1),
                        ("a  ", 1), ("ab", 0), ("a\u{85}\n\u{2028}", 1), ("\n\n \t", 0), ("f(x):\n    ", 6)] {
            assert_eq!(open_start(s, &pretok.pieces(s)), Some(at), "{s:?}");
        }
        assert_eq!(probes(false).count(), 13);
        let white: Vec<String> = probes(true).collect();
        assert!(["\u{3000}\n", " \n", "\t\n", "\u{2028}a", "\u{85}"].iter().all(|p| white.iter().any(|w| w == p)));
    }

    #[test]
    fn all_semantics_uniform() {
        // uniform next-token distribution over 5 tokens, no end of text
        let mut c = Cover::new(voc(), false, None, f64::INFINITY).unwrap();
        let lq = vec![(0.2f64).ln(); 5];
        c.set_dist(0, lq.clone(), f64::NEG_INFINITY).unwrap();
        let m = c.next_masses().unwrap();
        // first byte a: tokens a, ab, abb -> 0.6; b: b, ba -> 0.4
        assert!((m[b'a' as usize].exp() - 0.6).abs() < 1e-6);
        assert!((m[b'b' as usize].exp() - 0.4).abs() < 1e-6);
        assert_eq!(c.push(b'a').unwrap(), 1); // token "a" ends here
        for (id, ..) in c.pending() {
            c.set_dist(id, lq.clone(), f64::NEG_INFINITY).unwrap();
        }
        // P(prefix "a") = 0.6; P("ab") = P(ab)+P(abb)+P(a)P(b*) = 0.2+0.2+0.2*0.4
        assert!((c.cover_logmass().unwrap().exp() - 0.6).abs() < 1e-6);
        let m = c.next_masses().unwrap();
        assert!((m[b'b' as usize].exp() - 0.48).abs() < 1e-6);
        assert!((m[b'a' as usize].exp() - 0.2 * 0.6).abs() < 1e-6);
    }
}
