//! Python bindings of tokkit's native core (`tokkit._native`). Bindings only: convert types,
//! release the GIL around real work, keep the logic in the modules. Ids cross as little-endian
//! u32 bytes, token offsets as little-endian i64 bytes. Pipeline steps arrive as the data
//! model's JSON (`[{"kind": ..., "params": {...}}]`) and are read into typed enums, one module
//! per family: normalizers.rs, pretok.rs, decoders.rs.

use pyo3::exceptions::{PyIndexError, PyUnicodeDecodeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use rayon::prelude::*;
use std::sync::Arc;

pub mod bytelevel;
pub mod count;
pub mod cover;
pub mod decoders;
pub mod encode;
pub mod fastre;
pub mod normalizers;
pub mod pretok;
pub mod scan;
pub mod train;
pub mod trie;

#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// The 256 one-character strings of the byte-level alphabet, indexed by byte.
#[pyfunction]
fn bytes_to_unicode() -> Vec<String> {
    bytelevel::bytes_to_unicode_table().iter().map(|c| c.to_string()).collect()
}

#[pyfunction]
fn bytelevel_encode(b: &[u8]) -> String {
    bytelevel::encode_bytes(b)
}

#[pyfunction]
fn bytelevel_decode<'py>(py: Python<'py>, s: &str) -> PyResult<Bound<'py, PyBytes>> {
    let out = bytelevel::decode_str(s).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(PyBytes::new(py, &out))
}

#[pyfunction]
fn bytelevel_encode_many(py: Python<'_>, items: Vec<Vec<u8>>) -> Vec<String> {
    py.detach(|| items.par_iter().map(|b| bytelevel::encode_bytes(b)).collect())
}

#[pyfunction]
fn bytelevel_decode_many<'py>(py: Python<'py>, items: Vec<String>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let decoded: Result<Vec<Vec<u8>>, (usize, bytelevel::DecodeError)> = py.detach(|| {
        items.par_iter().enumerate().map(|(i, s)| bytelevel::decode_str(s).map_err(|e| (i, e))).collect()
    });
    match decoded {
        Ok(v) => Ok(v.iter().map(|b| PyBytes::new(py, b)).collect()),
        Err((i, e)) => Err(PyValueError::new_err(format!("item {i} ({:?}): {e}", items[i]))),
    }
}

/// A byte trie over a vocabulary (token id = position in the list; empty tokens ignored).
#[pyclass(frozen, module = "tokkit._native")]
struct ByteTrie {
    inner: trie::ByteTrie,
}

#[pymethods]
impl ByteTrie {
    #[new]
    fn new(py: Python<'_>, tokens: Vec<Vec<u8>>) -> Self {
        let inner = py.detach(|| trie::ByteTrie::new(&tokens));
        ByteTrie { inner }
    }

    /// [(end, id)] for every token equal to text[start:end].
    #[pyo3(signature = (text, start = 0))]
    fn prefixes_of(&self, text: &[u8], start: usize) -> Vec<(usize, u32)> {
        self.inner.prefixes_of(text, start)
    }

    fn with_prefix(&self, py: Python<'_>, prefix: &[u8]) -> Vec<u32> {
        py.detach(|| self.inner.with_prefix(prefix))
    }

    fn get(&self, b: &[u8]) -> Vec<u32> {
        self.inner.get(b)
    }

    #[pyo3(signature = (text, start = 0))]
    fn longest_prefix(&self, text: &[u8], start: usize) -> Option<(usize, u32)> {
        self.inner.longest_prefix(text, start)
    }

    fn __len__(&self) -> usize {
        self.inner.num_tokens()
    }

    #[getter]
    fn num_nodes(&self) -> usize {
        self.inner.num_nodes()
    }
}

/// A pretokenizer pipeline (HF semantics) built from the data model's steps as JSON.
#[pyclass(frozen, module = "tokkit._native")]
struct Pretokenizer {
    inner: pretok::Pretokenizer,
}

#[pymethods]
impl Pretokenizer {
    #[new]
    fn new(spec_json: &str) -> PyResult<Self> {
        let inner = pretok::Pretokenizer::from_json(spec_json).map_err(PyValueError::new_err)?;
        Ok(Pretokenizer { inner })
    }

    /// The pieces of `text` as bytes.
    fn pieces<'py>(&self, py: Python<'py>, text: &str) -> Vec<Bound<'py, PyBytes>> {
        let ps = py.detach(|| self.inner.pieces(text));
        ps.iter().map(|p| PyBytes::new(py, &p.bytes(text))).collect()
    }

    /// [(start, end, prefix_space)] in UTF-8 byte offsets of `text`.
    fn spans(&self, py: Python<'_>, text: &str) -> Vec<(usize, usize, bool)> {
        py.detach(|| self.inner.pieces(text).into_iter().map(|p| (p.start, p.end, p.prefix_space)).collect())
    }

    /// Pieces of many texts, in parallel.
    fn pieces_batch<'py>(&self, py: Python<'py>, texts: Vec<String>) -> Vec<Vec<Bound<'py, PyBytes>>> {
        let all: Vec<Vec<Vec<u8>>> = py.detach(|| {
            texts.par_iter().map(|t| self.inner.pieces(t).iter().map(|p| p.bytes(t)).collect()).collect()
        });
        all.iter().map(|ps| ps.iter().map(|b| PyBytes::new(py, b)).collect()).collect()
    }
}

fn u32_bytes<'py>(py: Python<'py>, ids: &[u32]) -> Bound<'py, PyBytes> {
    let mut out = Vec::with_capacity(ids.len() * 4);
    for id in ids {
        out.extend_from_slice(&id.to_le_bytes());
    }
    PyBytes::new(py, &out)
}

/// Token offsets as two buffers of little-endian i64 (starts, ends).
fn offset_bytes<'py>(py: Python<'py>, offs: &[(usize, usize)]) -> (Bound<'py, PyBytes>, Bound<'py, PyBytes>) {
    let mut s = Vec::with_capacity(offs.len() * 8);
    let mut e = Vec::with_capacity(offs.len() * 8);
    for &(a, b) in offs {
        s.extend_from_slice(&(a as i64).to_le_bytes());
        e.extend_from_slice(&(b as i64).to_le_bytes());
    }
    (PyBytes::new(py, &s), PyBytes::new(py, &e))
}

fn ids_of(b: &[u8]) -> PyResult<Vec<u32>> {
    if !b.len().is_multiple_of(4) {
        return Err(PyValueError::new_err("ids must be little-endian u32 bytes"));
    }
    Ok(b.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect())
}

fn utf8_error(py: Python<'_>, e: decoders::Utf8Error) -> PyErr {
    match PyUnicodeDecodeError::new(py, c"utf-8", &e.bytes, e.start..e.end, c"invalid utf-8") {
        Ok(err) => PyErr::from_value(err.into_any()),
        Err(err) => err,
    }
}

fn special_error(which: Option<usize>, e: &encode::SpecialInText) -> PyErr {
    let text = match which {
        Some(k) => format!("text {k}"),
        None => "text".to_string(),
    };
    PyValueError::new_err(format!(
        "{text} contains the special token '{}' (at byte {}); encode it with special=\"text\" or \"allow\"",
        e.content, e.at
    ))
}

/// A dropout probability as the encoder takes it: None for 0 (the canonical path), an error
/// outside [0, 1].
fn dropout_p(p: Option<f64>) -> PyResult<Option<f64>> {
    match p {
        None => Ok(None),
        Some(p) if !(0.0..=1.0).contains(&p) => Err(PyValueError::new_err(format!("dropout {p} is outside [0, 1]"))),
        Some(p) if p <= 0.0 => Ok(None),
        Some(p) => Ok(Some(p)),
    }
}

type Encoded<'py> = (Bound<'py, PyBytes>, Bound<'py, PyBytes>, Bound<'py, PyBytes>);
type EncodedBatch<'py> = (Bound<'py, PyBytes>, Bound<'py, PyBytes>, Bound<'py, PyBytes>, Bound<'py, PyBytes>);

/// A BPE encoder with Hugging Face semantics; ids come back as little-endian u32 bytes, offsets
/// (UTF-8 byte ranges in each text) as little-endian i64 bytes.
#[pyclass(frozen, module = "tokkit._native")]
struct BpeEncoder {
    inner: Arc<encode::Encoder>,
}

#[pymethods]
impl BpeEncoder {
    #[new]
    fn new(
        py: Python<'_>,
        tokens: Vec<Vec<u8>>,
        in_vocab: Vec<bool>,
        byte_tokens: Vec<(u8, u32)>,
        merges: Vec<(u32, u32, u32)>,
        config_json: &str,
    ) -> PyResult<Self> {
        let inner = py
            .detach(|| encode::Encoder::new(&tokens, &in_vocab, &byte_tokens, &merges, config_json))
            .map_err(PyValueError::new_err)?;
        Ok(BpeEncoder { inner: Arc::new(inner) })
    }

    fn encode<'py>(&self, py: Python<'py>, text: &str) -> Bound<'py, PyBytes> {
        let ids = py.detach(|| self.inner.encode(text));
        u32_bytes(py, &ids)
    }

    /// (all ids, per-text lengths), both as little-endian u32 bytes; texts encoded in parallel.
    fn encode_batch<'py>(&self, py: Python<'py>, texts: Vec<String>) -> (Bound<'py, PyBytes>, Bound<'py, PyBytes>) {
        let (ids, lens) = py.detach(|| {
            let per: Vec<Vec<u32>> = texts.par_iter().map(|t| self.inner.encode(t)).collect();
            let lens: Vec<u32> = per.iter().map(|v| v.len() as u32).collect();
            (per.concat(), lens)
        });
        (u32_bytes(py, &ids), u32_bytes(py, &lens))
    }

    /// (ids, starts, ends) of one text under a special-token policy ("allow", "text",
    /// "raise"); starts and ends are empty without `offsets`. `dropout` in (0, 1]: a BPE-dropout
    /// sample from the stream of (`seed`, 0) (0 or None: the canonical ids).
    #[pyo3(signature = (text, special = "allow", offsets = false, dropout = None, seed = 0))]
    fn encode_with<'py>(&self, py: Python<'py>, text: &str, special: &str, offsets: bool, dropout: Option<f64>,
                        seed: u64) -> PyResult<Encoded<'py>> {
        let policy = encode::Special::parse(special).map_err(PyValueError::new_err)?;
        let p = dropout_p(dropout)?;
        let (ids, offs) = py
            .detach(|| {
                let mut d = p.map(|p| encode::Dropout::new(p, seed, 0));
                self.inner.encode_sampled(text, policy, offsets, d.as_mut())
            })
            .map_err(|e| special_error(None, &e))?;
        let (s, e) = offset_bytes(py, &offs);
        Ok((u32_bytes(py, &ids), s, e))
    }

    /// (all ids, per-text lengths as u32, all starts, all ends) of many texts, in parallel;
    /// with `dropout`, text k is sampled from the stream of (`seed`, k).
    #[pyo3(signature = (texts, special = "allow", offsets = false, dropout = None, seed = 0))]
    fn encode_batch_with<'py>(&self, py: Python<'py>, texts: Vec<String>, special: &str, offsets: bool,
                              dropout: Option<f64>, seed: u64) -> PyResult<EncodedBatch<'py>> {
        let policy = encode::Special::parse(special).map_err(PyValueError::new_err)?;
        let p = dropout_p(dropout)?;
        let r = py.detach(|| {
            let per: Vec<Result<encode::IdsAndOffsets, (usize, encode::SpecialInText)>> = texts
                .par_iter()
                .enumerate()
                .map(|(k, t)| {
                    let mut d = p.map(|p| encode::Dropout::new(p, seed, k as u64));
                    self.inner.encode_sampled(t, policy, offsets, d.as_mut()).map_err(|e| (k, e))
                })
                .collect();
            let mut ids = Vec::new();
            let mut offs = Vec::new();
            let mut lens = Vec::with_capacity(per.len());
            for r in per {
                let (i, o) = r?;
                lens.push(i.len() as u32);
                ids.extend_from_slice(&i);
                offs.extend_from_slice(&o);
            }
            Ok((ids, lens, offs))
        });
        let (ids, lens, offs) = r.map_err(|(k, e): (usize, encode::SpecialInText)| special_error(Some(k), &e))?;
        let (s, e) = offset_bytes(py, &offs);
        Ok((u32_bytes(py, &ids), u32_bytes(py, &lens), s, e))
    }
}

/// Ids -> text with Hugging Face's decoder semantics (see native/src/decoders.rs).
#[pyclass(frozen, module = "tokkit._native")]
struct Decoder {
    inner: decoders::Decoder,
}

#[pymethods]
impl Decoder {
    /// `strings`: the string HF's decoder sees for each id (None: dropped); `special`: the
    /// contents of special added tokens; `raw`: the bytes each id spells; `steps_json`: the
    /// decoder steps; `normalize_ids` + `normalizer_json`: added tokens HF keeps normalized.
    #[new]
    #[pyo3(signature = (strings, special, raw, steps_json, normalize_ids = Vec::new(), normalizer_json = None))]
    fn new(
        py: Python<'_>,
        strings: Vec<Option<String>>,
        special: Vec<String>,
        raw: Vec<Vec<u8>>,
        steps_json: &str,
        normalize_ids: Vec<u32>,
        normalizer_json: Option<&str>,
    ) -> PyResult<Self> {
        if strings.len() != raw.len() {
            return Err(PyValueError::new_err("strings and raw differ in length"));
        }
        let norm = match normalizer_json {
            Some(j) if !normalize_ids.is_empty() => {
                let steps = normalizers::parse_steps::<normalizers::NormalizerStep>(j, "normalizer").map_err(PyValueError::new_err)?;
                Some(normalizers::Normalizer::new(&steps).map_err(PyValueError::new_err)?)
            }
            _ => None,
        };
        let inner = py.detach(|| {
            decoders::Decoder::new(strings, &special, &raw, steps_json, norm.as_ref().map(|n| (&normalize_ids[..], n)))
        });
        Ok(Decoder { inner })
    }

    /// Why decode() is not available natively (None: it is).
    #[getter]
    fn unsupported(&self) -> Option<String> {
        self.inner.unsupported().map(str::to_string)
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// The bytes the ids (little-endian u32 bytes) spell.
    fn decode_bytes<'py>(&self, py: Python<'py>, ids: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        let ids = ids_of(ids)?;
        let out = py.detach(|| self.inner.decode_bytes(&ids)).map_err(|k| {
            PyIndexError::new_err(format!("token id {} is out of range (vocabulary of {})", ids[k], self.inner.len()))
        })?;
        Ok(PyBytes::new(py, &out))
    }

    /// HF's decode of the ids (little-endian u32 bytes); `strict`: UnicodeDecodeError on
    /// invalid UTF-8 instead of U+FFFD.
    #[pyo3(signature = (ids, skip_special_tokens = false, strict = false))]
    fn decode(&self, py: Python<'_>, ids: &[u8], skip_special_tokens: bool, strict: bool) -> PyResult<String> {
        if let Some(why) = self.inner.unsupported() {
            return Err(PyValueError::new_err(why.to_string()));
        }
        let ids = ids_of(ids)?;
        py.detach(|| self.inner.decode(&ids, skip_special_tokens, strict)).map_err(|e| utf8_error(py, e))
    }

    /// decode() of many id sequences (all ids, then the length of each, both little-endian u32
    /// bytes), in parallel.
    #[pyo3(signature = (ids, lengths, skip_special_tokens = false, strict = false))]
    fn decode_batch(&self, py: Python<'_>, ids: &[u8], lengths: &[u8], skip_special_tokens: bool, strict: bool)
        -> PyResult<Vec<String>> {
        if let Some(why) = self.inner.unsupported() {
            return Err(PyValueError::new_err(why.to_string()));
        }
        let (ids, lengths) = (ids_of(ids)?, ids_of(lengths)?);
        if lengths.iter().map(|&n| n as usize).sum::<usize>() != ids.len() {
            return Err(PyValueError::new_err("lengths do not add up to the number of ids"));
        }
        let mut bounds = Vec::with_capacity(lengths.len() + 1);
        bounds.push(0usize);
        for &n in &lengths {
            bounds.push(bounds.last().unwrap() + n as usize);
        }
        py.detach(|| {
            (0..lengths.len())
                .into_par_iter()
                .map(|k| self.inner.decode(&ids[bounds[k]..bounds[k + 1]], skip_special_tokens, strict))
                .collect::<Result<Vec<String>, _>>()
        })
        .map_err(|e| utf8_error(py, e))
    }
}

/// A vocabulary prepared for byte-level covers (trie over its text tokens; for canonical
/// semantics the tokenizer's encoder and a pretokenizer that adds no prefix space).
#[pyclass(frozen, module = "tokkit._native")]
struct CoverVocab {
    inner: Arc<cover::CoverVocab>,
}

#[pymethods]
impl CoverVocab {
    #[new]
    #[pyo3(signature = (tokens, text, encoder = None, pretok_json = None))]
    fn new(
        py: Python<'_>,
        tokens: Vec<Vec<u8>>,
        text: Vec<bool>,
        encoder: Option<PyRef<'_, BpeEncoder>>,
        pretok_json: Option<&str>,
    ) -> PyResult<Self> {
        if tokens.len() != text.len() {
            return Err(PyValueError::new_err("tokens and text flags differ in length"));
        }
        let mut no_pretok = false;
        let canon = match (encoder, pretok_json) {
            (Some(e), Some(j)) => {
                no_pretok = serde_json::from_str::<serde_json::Value>(j)
                    .ok().and_then(|v| v.as_array().map(|a| a.is_empty())).unwrap_or(false);
                Some((e.inner.clone(), pretok::Pretokenizer::from_json(j).map_err(PyValueError::new_err)?))
            }
            (None, None) => None,
            _ => return Err(PyValueError::new_err("give both encoder and pretok_json, or neither")),
        };
        let inner = py.detach(|| cover::CoverVocab::new(tokens, &text, canon, no_pretok));
        Ok(CoverVocab { inner: Arc::new(inner) })
    }

    #[getter]
    fn num_trie_nodes(&self) -> usize {
        self.inner.trie.num_nodes()
    }

    #[getter]
    fn can_canonical(&self) -> bool {
        self.inner.can_canonical()
    }
}

/// The cover of a growing byte prefix (see native/src/cover.rs).
#[pyclass(module = "tokkit._native")]
struct Cover {
    inner: cover::Cover,
}

#[pymethods]
impl Cover {
    #[new]
    #[pyo3(signature = (vocab, canonical, beam = None, prune = f64::INFINITY))]
    fn new(vocab: &CoverVocab, canonical: bool, beam: Option<usize>, prune: f64) -> PyResult<Self> {
        let inner = cover::Cover::new(vocab.inner.clone(), canonical, beam, prune).map_err(PyValueError::new_err)?;
        Ok(Cover { inner })
    }

    /// [(node, parent, token, depth)] of the contexts waiting for a distribution.
    fn pending(&self) -> Vec<(u32, u32, u32, u32)> {
        self.inner.pending()
    }

    /// Alive context node ids.
    fn contexts(&self) -> Vec<u32> {
        self.inner.contexts().to_vec()
    }

    /// (parent, token, depth, end, logp) of a node.
    fn node(&self, id: u32) -> PyResult<(u32, u32, u32, usize, f64)> {
        self.inner.node_info(id).ok_or_else(|| PyValueError::new_err("no such node"))
    }

    /// Set a context's next-token log-probabilities (float64 little-endian bytes, one per id).
    fn set_dist(&mut self, py: Python<'_>, id: u32, logq: &[u8], eos_logp: f64) -> PyResult<()> {
        if logq.len() % 8 != 0 {
            return Err(PyValueError::new_err("logq must be float64 bytes"));
        }
        let v: Vec<f64> = logq.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect();
        let inner = &mut self.inner;
        py.detach(|| inner.set_dist(id, v, eos_logp)).map_err(PyValueError::new_err)
    }

    /// Unnormalized log masses of the 256 next bytes and the end of text.
    fn next_masses(&self) -> PyResult<Vec<f64>> {
        self.inner.next_masses().map_err(PyValueError::new_err)
    }

    fn cover_logmass(&self) -> PyResult<f64> {
        self.inner.cover_logmass().map_err(PyValueError::new_err)
    }

    /// Drop waiting contexts that cannot spell `future` (scoring a known text).
    fn drop_dead(&mut self, py: Python<'_>, future: &[u8]) -> usize {
        let inner = &mut self.inner;
        py.detach(|| inner.drop_dead(future))
    }

    /// Append a byte; returns the number of new contexts (0: no model call needed).
    fn push(&mut self, b: u8) -> PyResult<usize> {
        self.inner.push(b).map_err(PyValueError::new_err)
    }

    #[getter]
    fn text<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.text())
    }

    #[getter]
    fn pruned(&self) -> usize {
        self.inner.pruned
    }
}

/// A pretoken count table being built: add batches of texts (counted in parallel) or other
/// tables' rows; read it out as (pieces, little-endian u64 counts).
#[pyclass(module = "tokkit._native")]
struct Counter {
    pretok: pretok::Pretokenizer,
    counts: count::Counts,
}

#[pymethods]
impl Counter {
    #[new]
    fn new(spec_json: &str) -> PyResult<Self> {
        let pretok = pretok::Pretokenizer::from_json(spec_json).map_err(PyValueError::new_err)?;
        Ok(Counter { pretok, counts: count::Counts::default() })
    }

    fn add_texts(&mut self, py: Python<'_>, texts: Vec<String>) {
        let counts = std::mem::take(&mut self.counts);
        let pretok = &self.pretok;
        self.counts = py.detach(|| count::merge_into(counts, count::count_texts(pretok, &texts)));
    }

    fn add_counts(&mut self, py: Python<'_>, pieces: Vec<Vec<u8>>, counts: Vec<u64>) -> PyResult<()> {
        if pieces.len() != counts.len() {
            return Err(PyValueError::new_err("pieces and counts differ in length"));
        }
        let table = &mut self.counts;
        py.detach(|| {
            for (p, c) in pieces.into_iter().zip(counts) {
                *table.entry(p).or_insert(0) += c;
            }
        });
        Ok(())
    }

    fn __len__(&self) -> usize {
        self.counts.len()
    }

    fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// The table as Arrow buffers, pieces sorted by bytes: (piece bytes back to back, offsets as
    /// little-endian i64 (n + 1 of them: a large_binary column), counts as little-endian u64).
    /// No Python object per piece: what a Ray task ships (tokkit/scale/ray_count.py).
    fn arrow_items<'py>(&self, py: Python<'py>) -> (Bound<'py, PyBytes>, Bound<'py, PyBytes>, Bound<'py, PyBytes>) {
        let mut rows: Vec<(&Vec<u8>, &u64)> = self.counts.iter().collect();
        rows.sort_unstable();
        let total: usize = rows.iter().map(|(p, _)| p.len()).sum();
        let mut data = Vec::with_capacity(total);
        let mut offsets = Vec::with_capacity((rows.len() + 1) * 8);
        let mut counts = Vec::with_capacity(rows.len() * 8);
        offsets.extend_from_slice(&0i64.to_le_bytes());
        for (p, c) in &rows {
            data.extend_from_slice(p);
            offsets.extend_from_slice(&(data.len() as i64).to_le_bytes());
            counts.extend_from_slice(&c.to_le_bytes());
        }
        (PyBytes::new(py, &data), PyBytes::new(py, &offsets), PyBytes::new(py, &counts))
    }

    /// (pieces sorted by bytes, counts as little-endian u64 bytes)
    fn items<'py>(&self, py: Python<'py>) -> (Vec<Bound<'py, PyBytes>>, Bound<'py, PyBytes>) {
        let mut rows: Vec<(&Vec<u8>, &u64)> = self.counts.iter().collect();
        rows.sort_unstable();
        let mut raw = Vec::with_capacity(rows.len() * 8);
        for (_, c) in &rows {
            raw.extend_from_slice(&c.to_le_bytes());
        }
        (rows.iter().map(|(p, _)| PyBytes::new(py, p)).collect(), PyBytes::new(py, &raw))
    }
}

/// Learn BPE merges from (pieces, counts); returns [(left, right, count)] with replayed merges
/// first. Deterministic; ties as Hugging Face's BpeTrainer breaks them.
#[pyfunction]
#[pyo3(signature = (pieces, counts, merges, replay = Vec::new(), min_frequency = 0, max_token_bytes = None,
                    max_words = None, forbid = Vec::new(), max_token_chars = None, progress = None, accept = None))]
#[allow(clippy::too_many_arguments)]
fn train_bpe<'py>(
    py: Python<'py>,
    pieces: Vec<Vec<u8>>,
    counts: Vec<u64>,
    merges: usize,
    replay: Vec<(Vec<u8>, Vec<u8>)>,
    min_frequency: u64,
    max_token_bytes: Option<usize>,
    max_words: Option<usize>,
    forbid: Vec<Vec<u8>>,
    max_token_chars: Option<usize>,
    progress: Option<Py<PyAny>>,
    accept: Option<Py<PyAny>>,
) -> PyResult<Vec<(Bound<'py, PyBytes>, Bound<'py, PyBytes>, u64)>> {
    if pieces.len() != counts.len() {
        return Err(PyValueError::new_err("pieces and counts differ in length"));
    }
    let cfg = train::TrainConfig { merges, min_frequency, max_token_bytes, max_token_chars, max_words, forbid };
    // Every 256 merges the GIL is taken back for a moment: pending signals are handled (Ctrl-C
    // raises KeyboardInterrupt) and the progress callback runs; an exception from either, or from
    // the caller's constraint (called with the GIL for each candidate new token), stops training
    // and is raised.
    let error: std::sync::Mutex<Option<PyErr>> = std::sync::Mutex::new(None);
    let mut report = |n: usize| -> bool {
        Python::attach(|py| {
            let r = py.check_signals().and_then(|_| match &progress {
                Some(cb) => cb.call1(py, (n,)).map(|_| ()),
                None => Ok(()),
            });
            r.map_err(|e| *error.lock().unwrap() = Some(e)).is_ok()
        })
    };
    let mut check = |t: &[u8]| -> bool {
        let Some(cb) = &accept else { return true };
        if error.lock().unwrap().is_some() {
            return false;
        }
        Python::attach(|py| match cb.call1(py, (PyBytes::new(py, t),)).and_then(|r| r.is_truthy(py)) {
            Ok(ok) => ok,
            Err(e) => {
                *error.lock().unwrap() = Some(e);
                false
            }
        })
    };
    let r = py.detach(|| train::train_with_progress(&pieces, &counts, &replay, &cfg, &mut report, &mut check));
    if let Some(e) = error.into_inner().unwrap() {
        return Err(e);
    }
    let r = r.map_err(pyo3::exceptions::PyOverflowError::new_err)?; // the only error: a size limit
    Ok(r.merges.iter().map(|(a, b, c)| (PyBytes::new(py, a), PyBytes::new(py, b), *c)).collect())
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add_function(wrap_pyfunction!(bytes_to_unicode, m)?)?;
    m.add_function(wrap_pyfunction!(bytelevel_encode, m)?)?;
    m.add_function(wrap_pyfunction!(bytelevel_decode, m)?)?;
    m.add_function(wrap_pyfunction!(bytelevel_encode_many, m)?)?;
    m.add_function(wrap_pyfunction!(bytelevel_decode_many, m)?)?;
    m.add_class::<ByteTrie>()?;
    m.add_class::<Pretokenizer>()?;
    m.add_class::<BpeEncoder>()?;
    m.add_class::<Decoder>()?;
    m.add_class::<Counter>()?;
    m.add_class::<CoverVocab>()?;
    m.add_class::<Cover>()?;
    m.add_function(wrap_pyfunction!(train_bpe, m)?)?;
    Ok(())
}
