//! BPE training over a pretoken count table: heap of pair counts (lazy: a popped entry whose
//! count is stale is pushed back with the current count), incremental updates at only the
//! occurrences of the merged pair (see the learning loop), 64-bit counts.
//!
//! Determinism: the most frequent pair wins; ties go to the smallest (left id, right id), with
//! ids numbered as Hugging Face's BpeTrainer numbers them (the 256 bytes ordered by the code
//! point of their byte-level character, then new tokens in creation order), so the merges are
//! the same as HF's on the same counts.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rustc_hash::FxHashMap;

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

/// a pair's total count and where it may occur: a range of the sorted initial positions plus
/// positions added by merges (stale entries and repeats allowed: checked when it is merged)
#[derive(Clone, Copy)]
struct Pair {
    count: i64,
    /// its range in the sorted initial positions
    start: u32,
    len: u32,
    /// newest entry of its chain of added positions in the arena (NIL: none)
    more: u32,
}

const NIL: u32 = u32::MAX;

/// Positions are u32 (half the memory of usize). The arena gets at most two entries per merged
/// occurrence, and every merge removes a symbol, so it stays below twice the symbol count.
pub const MAX_SYMBOLS: usize = (u32::MAX / 2 - 1) as usize;

/// Positions added to pairs by merges, as singly linked chains in one arena (position, next):
/// no allocation per pair, and nothing to free pair by pair at the end.
struct Chains {
    arena: Vec<(u32, u32)>,
}

impl Chains {
    /// put `pos` in front of the chain starting at `head` (NIL: a new chain); returns the new head
    fn push(&mut self, head: u32, pos: u32) -> u32 {
        self.arena.push((pos, head));
        (self.arena.len() - 1) as u32
    }
    fn collect(&self, mut head: u32, out: &mut Vec<u32>) {
        while head != NIL {
            let (pos, next) = self.arena[head as usize];
            out.push(pos);
            head = next;
        }
    }
}

#[derive(Clone, Copy)]
struct Node {
    /// the symbol (u32::MAX: merged into the symbol before it)
    sym: u32,
    /// distance to the next / previous live symbol of the same word (0: none)
    nxt: u32,
    prv: u32,
    /// the word's count
    cnt: u32,
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

pub fn train(pieces: &[Vec<u8>], counts: &[u64], replay: &[(Vec<u8>, Vec<u8>)], cfg: &TrainConfig)
             -> Result<TrainResult, String> {
    train_with_progress(pieces, counts, replay, cfg, &mut |_| true, &mut |_| true)
}

/// `progress(merges_so_far)` is called after the replay, after the occurrence index is built,
/// every 256 merges and at the end (so a caller polling for Ctrl-C in it is heard during the
/// setup of a large table too); false stops training there (the merges so far are returned: the caller knows why it stopped). `accept(token)` is
/// the caller's own constraint on a new token (after the built-in ones): false drops the pair.
pub fn train_with_progress(pieces: &[Vec<u8>], counts: &[u64], replay: &[(Vec<u8>, Vec<u8>)], cfg: &TrainConfig,
                           progress: &mut dyn FnMut(usize) -> bool, accept: &mut dyn FnMut(&[u8]) -> bool)
                           -> Result<TrainResult, String> {
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
        let m = replayed.len();
        // one part per thread, of about equal size, each with its own cache (rayon's map_init
        // would start a cold cache for every job it splits off)
        let nt = rayon::current_num_threads().max(1);
        let target = words.iter().map(|w| w.syms.len()).sum::<usize>() / nt + 1;
        let mut parts: Vec<&mut [Word]> = Vec::with_capacity(nt);
        let mut rest: &mut [Word] = &mut words;
        while parts.len() + 1 < nt && !rest.is_empty() {
            let mut size = 0;
            let k = rest.iter().position(|w| {
                size += w.syms.len();
                size >= target
            });
            let (a, b) = std::mem::take(&mut rest).split_at_mut(k.map_or(0, |k| k + 1));
            parts.push(a);
            rest = b;
        }
        parts.push(rest);
        let times: Vec<u64> = parts
            .into_par_iter()
            .map(|chunk| {
                let mut cache = Cache::default();
                let mut n = vec![0u64; m]; // times each replayed merge was applied
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
                            let mut emit = |syms: &[u32], ranks: &[u32]| {
                                out.extend_from_slice(syms);
                                for &r in ranks {
                                    n[r as usize] += w.count;
                                }
                            };
                            if let Some((syms, ranks)) = cache.get(piece) {
                                emit(syms, ranks);
                            } else {
                                let mut syms = piece.to_vec();
                                let mut ranks = Vec::new();
                                replay_word(&mut syms, &rank_of, |r| ranks.push(r));
                                emit(&syms, &ranks);
                                cache.insert(piece.to_vec(), (syms, ranks));
                            }
                        }
                        start = i;
                    }
                    w.syms = out;
                }
                n
            })
            .reduce(|| vec![0u64; m], |mut x, y| {
                x.iter_mut().zip(y).for_each(|(a, b)| *a += b);
                x
            });
        for (i, (_, a, b)) in replayed.into_iter().enumerate() {
            merges.push((a, b, times[i]));
        }
    }
    // The learning loop works on occurrences, not words: every word's symbols sit in one flat
    // array with links to the next and previous live symbol of the same word (as distances, 0 at
    // a word's end), and each pair keeps the positions where it may occur. A merge visits only
    // its own occurrences, so its cost does not grow with the length of the words it touches
    // (SuperBPE's stage-2 pretokens are whole paragraphs, up to tens of kilobytes; rescanning
    // each such word at every merge made stage 2 several times slower than stage 1).
    if !progress(0) {
        return Ok(TrainResult { merges });
    }
    let copies = |c: u64| c.div_ceil(u32::MAX as u64) as usize;
    let total: usize = words.iter().map(|w| w.syms.len() * copies(w.count)).sum();
    if total > MAX_SYMBOLS {
        return Err(format!("the count table holds {total} symbols after replay, more than the trainer's limit of \
                            {MAX_SYMBOLS}: raise --min-frequency or train on a sample"));
    }
    // one 16-byte node per symbol, so that a merge's reads and writes around one occurrence
    // share a cache line; a word counted more than u32::MAX times is stored as several copies
    // whose counts add up to it (pair counts are sums over words: the result is the same)
    let mut node: Vec<Node> = Vec::with_capacity(total);
    for w in words.into_iter() {
        let n = w.syms.len();
        let mut left = w.count;
        while left > 0 {
            let c = left.min(u32::MAX as u64);
            left -= c;
            for (i, &s) in w.syms.iter().enumerate() {
                node.push(Node { sym: s, nxt: u32::from(i + 1 < n), prv: u32::from(i > 0), cnt: c as u32 });
            }
        }
    }

    // pair -> total count; pair -> positions of its left symbol (may hold stale entries and
    // repeats: checked and de-duplicated when the pair is merged). Built without a hash insert
    // per position and in 4 bytes per position: a counting sort of the positions by left
    // symbol, then each left symbol's bucket sorted by right symbol (in parallel, through a
    // small (right, position) buffer per bucket), then one insert per distinct pair.
    use rayon::prelude::*;
    let nsym = tokens.len();
    let mut offset = vec![0usize; nsym + 1];
    for n in node.iter().filter(|n| n.nxt != 0) {
        offset[n.sym as usize + 1] += 1;
    }
    for i in 0..nsym {
        offset[i + 1] += offset[i];
    }
    let mut first = vec![0u32; offset[nsym]];
    let mut fill = offset.clone();
    for (p, n) in node.iter().enumerate().filter(|(_, n)| n.nxt != 0) {
        first[fill[n.sym as usize]] = p as u32;
        fill[n.sym as usize] += 1;
    }
    drop(fill);
    let mut buckets: Vec<&mut [u32]> = Vec::new();
    let mut rest: &mut [u32] = &mut first;
    for i in 0..nsym {
        let (bucket, tail) = std::mem::take(&mut rest).split_at_mut(offset[i + 1] - offset[i]);
        if bucket.len() > 1 {
            buckets.push(bucket);
        }
        rest = tail;
    }
    buckets.into_par_iter().for_each(|bucket| {
        let mut buf: Vec<(u32, u32)> = bucket.iter().map(|&p| (node[p as usize + 1].sym, p)).collect();
        buf.sort_unstable();
        for (slot, (_, p)) in bucket.iter_mut().zip(buf) {
            *slot = p;
        }
    });
    let right = |p: u32| node[p as usize + 1].sym;
    let groups = || first.chunk_by(|&x, &y| node[x as usize].sym == node[y as usize].sym && right(x) == right(y));
    let mut info: FxHashMap<(u32, u32), Pair> = FxHashMap::default();
    info.reserve(groups().count());
    let mut start = 0;
    for group in groups() {
        let pair = (node[group[0] as usize].sym, right(group[0]));
        let count = group.iter().map(|&p| node[p as usize].cnt as i64).sum();
        info.insert(pair, Pair { count, start: start as u32, len: group.len() as u32, more: NIL });
        start += group.len();
    }

    let mut heap: BinaryHeap<(i64, Reverse<(u32, u32)>)> =
        info.iter().filter(|(_, i)| i.count > 0).map(|(&p, i)| (i.count, Reverse(p))).collect();
    if !progress(0) {
        return Ok(TrainResult { merges });
    }
    let mut learned = 0;
    // one merge's changes to other pairs (count delta, new positions), applied to `info` once
    // per distinct pair at the end of the merge: the neighbours repeat, so this keeps the
    // per-occurrence work in a small, cache-resident map
    // (count delta, head and tail of the chain of new positions)
    let mut delta: FxHashMap<(u32, u32), (i64, u32, u32)> = FxHashMap::default();
    let mut chains = Chains { arena: Vec::new() };
    let mut at: Vec<u32> = Vec::new();
    while learned < cfg.merges {
        let Some((c, Reverse(pair))) = heap.pop() else { break };
        let cur = info.get(&pair).map_or(0, |i| i.count);
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
        if learned % 256 == 0 && !progress(learned) {
            return Ok(TrainResult { merges });
        }
        // merge every live occurrence, left to right within each word (positions ascending),
        // which is how sequential application treats overlapping runs such as "aaa"
        let (a, b) = pair;
        let Some(me) = info.remove(&pair) else { continue };
        at.clear();
        at.extend_from_slice(&first[me.start as usize..(me.start + me.len) as usize]);
        chains.collect(me.more, &mut at);
        at.sort_unstable();
        at.dedup();
        let mut merged = 0i64;
        for &p32 in &at {
            let p = p32 as usize;
            if node[p].sym != a || node[p].nxt == 0 {
                continue; // stale
            }
            let q = p + node[p].nxt as usize;
            if node[q].sym != b {
                continue;
            }
            let c = node[p].cnt as i64;
            if node[p].prv != 0 {
                let x = p - node[p].prv as usize;
                delta.entry((node[x].sym, a)).or_insert((0, NIL, NIL)).0 -= c;
                let d = delta.entry((node[x].sym, new_id)).or_insert((0, NIL, NIL));
                d.0 += c;
                let head = chains.push(d.1, x as u32);
                if d.1 == NIL {
                    d.2 = head; // the chain's tail
                }
                d.1 = head;
            }
            if node[q].nxt != 0 {
                let y = q + node[q].nxt as usize;
                delta.entry((b, node[y].sym)).or_insert((0, NIL, NIL)).0 -= c;
                let d = delta.entry((new_id, node[y].sym)).or_insert((0, NIL, NIL));
                d.0 += c;
                let head = chains.push(d.1, p32);
                if d.1 == NIL {
                    d.2 = head; // the chain's tail
                }
                d.1 = head;
                node[p].nxt += node[q].nxt;
                node[y].prv = (y - p) as u32;
            } else {
                node[p].nxt = 0;
            }
            merged += c;
            node[p].sym = new_id;
            node[q].sym = u32::MAX;
        }
        // the merged pair may come back (an overlapping run: "aaa" -> (a, a) counted as a
        // neighbour of itself); what is left of it stays in the table
        let left = me.count - merged + delta.remove(&pair).map_or(0, |d| d.0);
        if left != 0 {
            info.insert(pair, Pair { count: left, start: 0, len: 0, more: NIL });
        }
        for (p, (d, head, tail)) in delta.drain() {
            let e = info.entry(p).or_insert(Pair { count: 0, start: 0, len: 0, more: NIL });
            e.count += d;
            if head != NIL {
                chains.arena[tail as usize].1 = e.more; // the new chain goes in front of the old one
                e.more = head;
            }
            if d > 0 && e.count > 0 {
                heap.push((e.count, Reverse(p)));
            }
        }
    }
    progress(learned);
    Ok(TrainResult { merges })
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
        let r = train(&pieces, &[10, 5, 1], &[], &cfg(3)).unwrap();
        let m: Vec<(Vec<u8>, Vec<u8>)> = r.merges.iter().map(|(a, b, _)| (a.clone(), b.clone())).collect();
        assert_eq!(m[0], (b"a".to_vec(), b"b".to_vec()));
        assert_eq!(r.merges[0].2, 25);
        assert_eq!(m[1], (b"ab".to_vec(), b"ab".to_vec()));
    }

    #[test]
    fn overlapping_runs_count_right() {
        // "aaaa" x 1: pairs (a,a) = 3, merging left to right gives [aa, aa], then (aa,aa) = 1
        let r = train(&[b"aaaa".to_vec()], &[1], &[], &cfg(2)).unwrap();
        assert_eq!(r.merges[0].2, 3);
        assert_eq!((r.merges[1].0.as_slice(), r.merges[1].1.as_slice(), r.merges[1].2), (&b"aa"[..], &b"aa"[..], 1));
    }

    #[test]
    fn counts_beyond_u32() {
        // a word counted more than u32::MAX times is split into copies: same pair counts
        let big = 3 * (u32::MAX as u64) + 7;
        let r = train(&[b"abc".to_vec(), b"bc".to_vec()], &[big, 1], &[], &cfg(2)).unwrap();
        let m: Vec<(&[u8], &[u8], u64)> = r.merges.iter().map(|(a, b, c)| (a.as_slice(), b.as_slice(), *c)).collect();
        assert_eq!(m, vec![(&b"b"[..], &b"c"[..], big + 1), (&b"a"[..], &b"bc"[..], big)]);
    }

    #[test]
    fn long_words_merge_left_to_right() {
        // a run inside one word: "aaaaa" -> aa aa a (4 pairs counted, 2 merged per copy); then
        // ties at 2 go to the smallest ids (bytes before merged tokens): (a, y), then (x, aa)
        let r = train(&[b"xaaaaay".to_vec()], &[2], &[], &cfg(3)).unwrap();
        let m: Vec<(&[u8], &[u8], u64)> = r.merges.iter().map(|(a, b, c)| (a.as_slice(), b.as_slice(), *c)).collect();
        assert_eq!(m, vec![(&b"a"[..], &b"a"[..], 8), (&b"a"[..], &b"y"[..], 2), (&b"x"[..], &b"aa"[..], 2)]);
    }

    #[test]
    fn constraints() {
        let mut c = cfg(10);
        c.forbid = vec![b": ".to_vec()];
        c.max_words = Some(1);
        let r = train(&[b"a: b c".to_vec()], &[5], &[], &c).unwrap();
        for (a, b, _) in &r.merges {
            let t = [a.as_slice(), b.as_slice()].concat();
            assert!(!t.windows(2).any(|w| w == b": "));
            assert!(words_in(&t) <= 1);
        }
    }
}
