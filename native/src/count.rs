//! Pretoken counting: batches of texts are pretokenized and counted in parallel (rayon fold +
//! reduce of per-thread maps), then merged into one table of 64-bit counts. The caller streams
//! the corpus in batches, so memory holds one batch plus the distinct pretokens, never the corpus.

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::pretok::Pretokenizer;

pub type Counts = FxHashMap<Vec<u8>, u64>;

pub fn count_texts(pretok: &Pretokenizer, texts: &[String]) -> Counts {
    texts
        .par_iter()
        .fold(Counts::default, |mut acc, t| {
            for p in pretok.pieces(t) {
                let key = if p.prefix_space { p.bytes(t) } else { t.as_bytes()[p.start..p.end].to_vec() };
                *acc.entry(key).or_insert(0) += 1;
            }
            acc
        })
        .reduce(Counts::default, merge_into)
}

/// Add `b` into `a` (the larger map absorbs the smaller).
pub fn merge_into(mut a: Counts, mut b: Counts) -> Counts {
    if a.len() < b.len() {
        std::mem::swap(&mut a, &mut b);
    }
    for (k, v) in b {
        *a.entry(k).or_insert(0) += v;
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_pieces() {
        let p = Pretokenizer::from_json(r#"[{"kind":"byte_level","params":{"use_regex":true}}]"#).unwrap();
        let c = count_texts(&p, &["a b a".to_string(), " b".to_string()]);
        assert_eq!(c[b"a".as_slice()], 1);
        assert_eq!(c[b" a".as_slice()], 1);
        assert_eq!(c[b" b".as_slice()], 2);
    }
}
