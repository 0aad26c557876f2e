//! BPE training over a pretoken count table: heap of pair counts (lazy: a popped entry whose
//! count is stale is pushed back with the current count), incremental updates of only the words
//! that contain the merged pair, 64-bit counts.
//!
//! Determinism: the most frequent pair wins; ties go to the smallest (left id, right id), with
//! ids numbered as Hugging Face's BpeTrainer numbers them (the 256 bytes ordered by the code
//! point of their byte-level character, then new tokens in creation order), so the merges are
//! the same as HF's on the same counts.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rustc_hash::{FxHashMap, FxHashSet};

pub struct TrainConfig {
    /// number of merges to learn (after the replayed ones)
    pub merges: usize,
    pub min_frequency: u64,
    /// longest token, in bytes (None: unbounded)
    pub max_token_bytes: Option<usize>,
    /// longest token, in characters: UTF-8 lead or ASCII bytes (a partial character counts as one)
    pub max_token_chars: Option<usize>,
    /// a new token may hold at most this many words (a word starts at a space not at position 0)
    pub max_words: Option<usize>,
    /// byte strings no new token may contain (SuperBPE: b": ")
    pub forbid: Vec<Vec<u8>>,
}

pub struct TrainResult {
    /// (left bytes, right bytes, count when merged), replayed merges first
    pub merges: Vec<(Vec<u8>, Vec<u8>, u64)>,
}

struct Word {
    syms: Vec<u32>,
    count: u64,
}

fn words_in(token: &[u8]) -> usize {
    1 + token.iter().skip(1).filter(|&&b| b == b' ').count()
}

fn chars_in(token: &[u8]) -> usize {
    token.iter().filter(|&&b| !(0x80..0xC0).contains(&b)).count().max(1)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Apply ranked merges to one word as sequential application would: lowest rank first, leftmost
/// occurrence first, and never a pair ranked below the last merge applied (a linked list over
/// the symbols and a heap of candidate pairs: n log n in the word length).
fn replay_word(syms: &mut Vec<u32>, rank_of: &FxHashMap<(u32, u32), (u32, u32)>, mut applied: impl FnMut(u32)) {
    let n = syms.len();
    if n < 2 {
        return;
    }
    let mut next: Vec<usize> = (1..=n).collect(); // n = end
    let mut prev: Vec<usize> = (0..n).map(|i| i.wrapping_sub(1)).collect(); // usize::MAX = none
    let mut alive = vec![true; n];
    let mut heap: BinaryHeap<Reverse<(u32, usize, u32, u32)>> = BinaryHeap::new();
    for i in 0..n - 1 {
        if let Some(&(r, _)) = rank_of.get(&(syms[i], syms[i + 1])) {
            heap.push(Reverse((r, i, syms[i], syms[i + 1])));
        }
    }
    let mut last = 0u32;
    while let Some(Reverse((r, i, a, b))) = heap.pop() {
        let j = next[i];
        if !alive[i] || j >= n || syms[i] != a || syms[j] != b {
            continue; // stale
        }
        if r < last {
            continue; // its turn has passed
        }
        last = r;
        let new_id = rank_of[&(a, b)].1;
        applied(r);
        syms[i] = new_id;
        alive[j] = false;
        let k = next[j];
        next[i] = k;
        if k < n {
            prev[k] = i;
            if let Some(&(r2, _)) = rank_of.get(&(new_id, syms[k])) {
                if r2 >= r {
                    heap.push(Reverse((r2, i, new_id, syms[k])));
                }
            }
        }
        let p = prev[i];
        if p != usize::MAX {
            if let Some(&(r2, _)) = rank_of.get(&(syms[p], new_id)) {
                if r2 >= r {
                    heap.push(Reverse((r2, p, syms[p], new_id)));
                }
            }
        }
    }
    let mut out = Vec::with_capacity(n);
    let mut i = 0;
    while i < n {
        out.push(syms[i]);
        i = next[i];
    }
    *syms = out;
}

/// HF's initial id of each byte: bytes sorted by the code point of their byte-level character.
pub fn hf_byte_order() -> [u32; 256] {
    let table = crate::bytelevel::bytes_to_unicode_table();
    let mut bytes: Vec<u8> = (0..=255u8).collect();
    bytes.sort_by_key(|&b| table[b as usize] as u32);
    let mut id_of = [0u32; 256];
    for (i, b) in bytes.into_iter().enumerate() {
        id_of[b as usize] = i as u32;
    }
    id_of
}

pub fn train(pieces: &[Vec<u8>], counts: &[u64], replay: &[(Vec<u8>, Vec<u8>)], cfg: &TrainConfig) -> TrainResult {
    train_with_progress(pieces, counts, replay, cfg, &mut |_| {}, &mut |_| true)
}

/// `progress(merges_so_far)` is called every 256 merges and at the end; `accept(token)` is the
/// caller's own constraint on a new token (after the built-in ones): false drops the pair.
pub fn train_with_progress(pieces: &[Vec<u8>], counts: &[u64], replay: &[(Vec<u8>, Vec<u8>)], cfg: &TrainConfig,
                           progress: &mut dyn FnMut(usize), accept: &mut dyn FnMut(&[u8]) -> bool) -> TrainResult {
    let id_of = hf_byte_order();
    let mut tokens: Vec<Vec<u8>> = vec![Vec::new(); 256];
    for b in 0..=255u8 {
        tokens[id_of[b as usize] as usize] = vec![b];
    }
    let mut token_id: FxHashMap<Vec<u8>, u32> = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
    let mut words: Vec<Word> = pieces
        .iter()
        .zip(counts)
        .filter(|(p, c)| !p.is_empty() && **c > 0)
        .map(|(p, &c)| Word { syms: p.iter().map(|&b| id_of[b as usize]).collect(), count: c })
        .collect();

    // merge every occurrence of `pair` into `new_id`; returns pairs whose count went up
    let apply = |pair: (u32, u32), new_id: u32, words: &mut Vec<Word>,
                 pair_count: &mut FxHashMap<(u32, u32), i64>,
                 where_: &mut FxHashMap<(u32, u32), Vec<u32>>| -> Vec<(u32, u32)> {
        let mut grown = Vec::new();
        let Some(mut ws) = where_.remove(&pair) else { return grown };
        ws.sort_unstable();
        ws.dedup();
        for wi in ws {
            let wi = wi as usize;
            let w = &mut words[wi];
            let c = w.count as i64;
            let mut i = 0;
            let mut out: Vec<u32> = Vec::with_capacity(w.syms.len());
            let s = &w.syms;
            let mut changed = false;
            while i < s.len() {
                if i + 1 < s.len() && s[i] == pair.0 && s[i + 1] == pair.1 {
                    if let Some(&prev) = out.last() {
                        *pair_count.entry((prev, pair.0)).or_insert(0) -= c;
                        *pair_count.entry((prev, new_id)).or_insert(0) += c;
                        grown.push((prev, new_id));
                    }
                    if i + 2 < s.len() {
                        let next = s[i + 2];
                        // the next pair is (b, next) unless it is itself merged right away
                        *pair_count.entry((pair.1, next)).or_insert(0) -= c;
                        *pair_count.entry((new_id, next)).or_insert(0) += c;
                        grown.push((new_id, next));
                    }
                    *pair_count.entry(pair).or_insert(0) -= c;
                    out.push(new_id);
                    i += 2;
                    changed = true;
                } else {
                    out.push(s[i]);
                    i += 1;
                }
            }
            if changed {
                // back-to-back occurrences net out: (b, a) -> (new, a) on the first, then
                // (new, a) -> (new, new) on the second. Register the word under its new pairs
                // (stale memberships are harmless: merging finds nothing there).
                w.syms = out;
                for p in w.syms.windows(2) {
                    if p[0] == new_id || p[1] == new_id {  // only pairs with the new token are new here
                        let list = where_.entry((p[0], p[1])).or_default();
                        if list.last() != Some(&(wi as u32)) {
                            list.push(wi as u32);
                        }
                    }
                }
            }
        }
        grown
    };

    // replay: the given merges in order (their results get ids in order). Rather than applying
    // them one at a time over every word (costly on SuperBPE's stage-2 pretokens, which are whole
    // lines), each word is encoded once with them by rank, in parallel; a pair whose rank is
    // below the last one applied is never merged, which is exactly sequential application.
    let mut merges = Vec::new();
    let mut rank_of: FxHashMap<(u32, u32), (u32, u32)> = FxHashMap::default();
    let mut replayed: Vec<((u32, u32), Vec<u8>, Vec<u8>)> = Vec::new();
    for (a, b) in replay {
        let (Some(&ia), Some(&ib)) = (token_id.get(a), token_id.get(b)) else { continue };
        let mut t = a.clone();
        t.extend_from_slice(b);
        let new_id = *token_id.entry(t.clone()).or_insert_with(|| {
            tokens.push(t.clone());
            (tokens.len() - 1) as u32
        });
        rank_of.entry((ia, ib)).or_insert((replayed.len() as u32, new_id));
        replayed.push(((ia, ib), a.clone(), b.clone()));
    }
    if !replayed.is_empty() {
        use rayon::prelude::*;
        // No merge can ever join two adjacent symbols at a position where the two bytes never
        // sit side by side inside a replayed token: cut each word there and replay the pieces
        // on their own. The pieces repeat (they are stage-1-like words), so a per-thread cache
        // makes replay a lookup for most of them.
        let mut joinable = vec![false; 256 * 256];
        for t in tokens.iter().skip(256) {
            for w in t.windows(2) {
                joinable[(id_of[w[0] as usize] as usize) * 256 + id_of[w[1] as usize] as usize] = true;
            }
        }
        type Cache = FxHashMap<Vec<u32>, (Vec<u32>, Vec<u32>)>;
        let applied: Vec<FxHashMap<u32, u64>> = words
            .par_chunks_mut(4096)
            .map_init(Cache::default, |cache, chunk| {
                let mut n: FxHashMap<u32, u64> = FxHashMap::default();
                for w in chunk.iter_mut() {
                    let mut out: Vec<u32> = Vec::with_capacity(w.syms.len());
                    let mut start = 0;
                    let len = w.syms.len();
                    for i in 1..=len {
                        if i < len && joinable[(w.syms[i - 1] as usize) * 256 + w.syms[i] as usize] {
                            continue;
                        }
                        let piece = &w.syms[start..i];
                        if piece.len() == 1 {
                            out.push(piece[0]);
                        } else {
                            let (syms, ranks) = cache.entry(piece.to_vec()).or_insert_with(|| {
                                let mut syms = piece.to_vec();
                                let mut ranks = Vec::new();
                                replay_word(&mut syms, &rank_of, |r| ranks.push(r));
                                (syms, ranks)
                            });
                            out.extend_from_slice(syms);
                            for &r in ranks.iter() {
                                *n.entry(r).or_insert(0) += w.count;
                            }
                        }
                        start = i;
                    }
                    w.syms = out;
                }
                n
            })
            .collect();
        let mut times = vec![0u64; replayed.len()];
        for m in applied {
            for (r, c) in m {
                times[r as usize] += c;
            }
        }
        for (i, (_, a, b)) in replayed.into_iter().enumerate() {
            merges.push((a, b, times[i]));
        }
    }
    // pair -> total count; pair -> words containing it (a plain list of u32 word indices, which
    // may hold repeats and stale entries: de-duplicated when the pair is merged; far smaller
    // than a hash set per pair)
    let mut pair_count: FxHashMap<(u32, u32), i64> = FxHashMap::default();
    let mut where_: FxHashMap<(u32, u32), Vec<u32>> = FxHashMap::default();
    for (wi, w) in words.iter().enumerate() {
        for p in w.syms.windows(2) {
            let pair = (p[0], p[1]);
            *pair_count.entry(pair).or_insert(0) += w.count as i64;
            let list = where_.entry(pair).or_default();
            if list.last() != Some(&(wi as u32)) {
                list.push(wi as u32);
            }
        }
    }

    let mut heap: BinaryHeap<(i64, Reverse<(u32, u32)>)> =
        pair_count.iter().filter(|(_, &c)| c > 0).map(|(&p, &c)| (c, Reverse(p))).collect();
    let mut learned = 0;
    while learned < cfg.merges {
        let Some((c, Reverse(pair))) = heap.pop() else { break };
        let cur = pair_count.get(&pair).copied().unwrap_or(0);
        if cur != c {
            if cur > 0 {
                heap.push((cur, Reverse(pair)));
            }
            continue;
        }
        if (c as u64) < cfg.min_frequency || c <= 0 {
            break;
        }
        let mut t = tokens[pair.0 as usize].clone();
        t.extend_from_slice(&tokens[pair.1 as usize]);
        let too_long = cfg.max_token_bytes.is_some_and(|m| t.len() > m)
            || cfg.max_token_chars.is_some_and(|m| chars_in(&t) > m);
        let too_many_words = cfg.max_words.is_some_and(|m| words_in(&t) > m);
        let forbidden = cfg.forbid.iter().any(|f| contains(&t, f));
        if too_long || too_many_words || forbidden || !accept(&t) {
            continue; // never merged: drop the pair from consideration
        }
        let new_id = match token_id.get(&t) {
            Some(&id) => id,
            None => {
                tokens.push(t.clone());
                token_id.insert(t.clone(), (tokens.len() - 1) as u32);
                (tokens.len() - 1) as u32
            }
        };
        merges.push((tokens[pair.0 as usize].clone(), tokens[pair.1 as usize].clone(), c as u64));
        learned += 1;
        if learned % 256 == 0 {
            progress(learned);
        }
        let grown = apply(pair, new_id, &mut words, &mut pair_count, &mut where_);
        let mut seen = FxHashSet::default();
        for p in grown {
            if seen.insert(p) {
                let c = pair_count.get(&p).copied().unwrap_or(0);
                if c > 0 {
                    heap.push((c, Reverse(p)));
                }
            }
        }
    }
    progress(learned);
    TrainResult { merges }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(n: usize) -> TrainConfig {
        TrainConfig { merges: n, min_frequency: 0, max_token_bytes: None, max_token_chars: None, max_words: None, forbid: vec![] }
    }

    #[test]
    fn learns_most_frequent_pairs() {
        let pieces = vec![b"abab".to_vec(), b"ab".to_vec(), b"cd".to_vec()];
        let r = train(&pieces, &[10, 5, 1], &[], &cfg(3));
        let m: Vec<(Vec<u8>, Vec<u8>)> = r.merges.iter().map(|(a, b, _)| (a.clone(), b.clone())).collect();
        assert_eq!(m[0], (b"a".to_vec(), b"b".to_vec()));
        assert_eq!(r.merges[0].2, 25);
        assert_eq!(m[1], (b"ab".to_vec(), b"ab".to_vec()));
    }

    #[test]
    fn overlapping_runs_count_right() {
        // "aaaa" x 1: pairs (a,a) = 3, merging left to right gives [aa, aa], then (aa,aa) = 1
        let r = train(&[b"aaaa".to_vec()], &[1], &[], &cfg(2));
        assert_eq!(r.merges[0].2, 3);
        assert_eq!((r.merges[1].0.as_slice(), r.merges[1].1.as_slice(), r.merges[1].2), (&b"aa"[..], &b"aa"[..], 1));
    }

    #[test]
    fn constraints() {
        let mut c = cfg(10);
        c.forbid = vec![b": ".to_vec()];
        c.max_words = Some(1);
        let r = train(&[b"a: b c".to_vec()], &[5], &[], &c);
        for (a, b, _) in &r.merges {
            let t = [a.as_slice(), b.as_slice()].concat();
            assert!(!t.windows(2).any(|w| w == b": "));
            assert!(words_in(&t) <= 1);
        }
    }
}
