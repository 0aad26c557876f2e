//! A byte trie over a vocabulary: which tokens are prefixes of a text, which tokens start with a
//! prefix. Built once, then frozen into flat arrays (children of a node are a sorted slice of
//! edges, ids of a node a slice), so a 150k-token vocabulary costs a few bytes per trie node.

pub struct ByteTrie {
    // node i: edges[edge_start[i]..edge_start[i+1]] sorted by label
    edge_start: Vec<u32>,
    edge_label: Vec<u8>,
    edge_target: Vec<u32>,
    // node i: ids[id_start[i]..id_start[i+1]] sorted ascending
    id_start: Vec<u32>,
    ids: Vec<u32>,
    n_tokens: usize,
}

struct BuildNode {
    children: Vec<(u8, u32)>,
    ids: Vec<u32>,
}

impl ByteTrie {
    /// Empty tokens are ignored (they spell nothing and cannot be matched).
    pub fn new<T: AsRef<[u8]>>(tokens: &[T]) -> Self {
        let mut nodes = vec![BuildNode { children: Vec::new(), ids: Vec::new() }];
        for (id, tok) in tokens.iter().enumerate() {
            let tok = tok.as_ref();
            if tok.is_empty() {
                continue;
            }
            let mut cur = 0usize;
            for &b in tok {
                let next = match nodes[cur].children.iter().find(|(l, _)| *l == b) {
                    Some(&(_, t)) => t as usize,
                    None => {
                        let t = nodes.len();
                        nodes.push(BuildNode { children: Vec::new(), ids: Vec::new() });
                        nodes[cur].children.push((b, t as u32));
                        t
                    }
                };
                cur = next;
            }
            nodes[cur].ids.push(id as u32);
        }
        let mut trie = ByteTrie {
            edge_start: Vec::with_capacity(nodes.len() + 1),
            edge_label: Vec::with_capacity(nodes.len()),
            edge_target: Vec::with_capacity(nodes.len()),
            id_start: Vec::with_capacity(nodes.len() + 1),
            ids: Vec::with_capacity(tokens.len()),
            n_tokens: tokens.iter().filter(|t| !t.as_ref().is_empty()).count(),
        };
        for node in nodes.iter_mut() {
            node.children.sort_unstable_by_key(|(l, _)| *l);
            node.ids.sort_unstable();
            trie.edge_start.push(trie.edge_label.len() as u32);
            for &(l, t) in &node.children {
                trie.edge_label.push(l);
                trie.edge_target.push(t);
            }
            trie.id_start.push(trie.ids.len() as u32);
            trie.ids.extend_from_slice(&node.ids);
        }
        trie.edge_start.push(trie.edge_label.len() as u32);
        trie.id_start.push(trie.ids.len() as u32);
        trie
    }

    pub fn num_nodes(&self) -> usize {
        self.edge_start.len() - 1
    }

    pub fn num_tokens(&self) -> usize {
        self.n_tokens
    }

    pub fn child(&self, node: usize, b: u8) -> Option<usize> {
        let (s, e) = (self.edge_start[node] as usize, self.edge_start[node + 1] as usize);
        let labels = &self.edge_label[s..e];
        labels.binary_search(&b).ok().map(|k| self.edge_target[s + k] as usize)
    }

    pub fn node_ids(&self, node: usize) -> &[u32] {
        &self.ids[self.id_start[node] as usize..self.id_start[node + 1] as usize]
    }

    pub fn walk(&self, bytes: &[u8]) -> Option<usize> {
        let mut cur = 0;
        for &b in bytes {
            cur = self.child(cur, b)?;
        }
        Some(cur)
    }

    /// The (label, child) edges of a node, by label.
    pub fn children(&self, node: usize) -> impl Iterator<Item = (u8, usize)> + '_ {
        let (s, e) = (self.edge_start[node] as usize, self.edge_start[node + 1] as usize);
        self.edge_label[s..e].iter().zip(&self.edge_target[s..e]).map(|(&l, &t)| (l, t as usize))
    }

    /// Ids of tokens equal to `bytes`.
    pub fn get(&self, bytes: &[u8]) -> Vec<u32> {
        if bytes.is_empty() {
            return Vec::new();
        }
        self.walk(bytes).map(|n| self.node_ids(n).to_vec()).unwrap_or_default()
    }

    /// Every token equal to text[start..end] for some end, as (end, id), by end then id.
    pub fn prefixes_of(&self, text: &[u8], start: usize) -> Vec<(usize, u32)> {
        let mut out = Vec::new();
        let mut cur = 0;
        for (k, &b) in text.iter().enumerate().skip(start) {
            match self.child(cur, b) {
                Some(n) => {
                    cur = n;
                    out.extend(self.node_ids(n).iter().map(|&id| (k + 1, id)));
                }
                None => break,
            }
        }
        out
    }

    /// The longest token that is a prefix of text[start..] (smallest id among equals).
    pub fn longest_prefix(&self, text: &[u8], start: usize) -> Option<(usize, u32)> {
        let mut best = None;
        let mut cur = 0;
        for (k, &b) in text.iter().enumerate().skip(start) {
            match self.child(cur, b) {
                Some(n) => {
                    cur = n;
                    if let Some(&id) = self.node_ids(n).first() {
                        best = Some((k + 1, id));
                    }
                }
                None => break,
            }
        }
        best
    }

    /// Ids of all tokens that start with `prefix`, ascending.
    pub fn with_prefix(&self, prefix: &[u8]) -> Vec<u32> {
        let Some(root) = self.walk(prefix) else { return Vec::new() };
        let mut out = Vec::new();
        let mut stack = vec![root];
        while let Some(n) = stack.pop() {
            out.extend_from_slice(self.node_ids(n));
            let (s, e) = (self.edge_start[n] as usize, self.edge_start[n + 1] as usize);
            stack.extend(self.edge_target[s..e].iter().map(|&t| t as usize));
        }
        out.sort_unstable();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vec<Vec<u8>> {
        ["a", "ab", "abc", "b", "ab", "", "bc", "\u{e9}"].iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn queries() {
        let t = ByteTrie::new(&vocab());
        assert_eq!(t.num_tokens(), 7);
        assert_eq!(t.get(b"ab"), vec![1, 4]);
        assert_eq!(t.get(b""), Vec::<u32>::new());
        assert_eq!(t.get(b"x"), Vec::<u32>::new());
        assert_eq!(t.prefixes_of(b"xabcd", 1), vec![(2, 0), (3, 1), (3, 4), (4, 2)]);
        assert_eq!(t.longest_prefix(b"abx", 0), Some((2, 1)));
        assert_eq!(t.longest_prefix(b"zz", 0), None);
        assert_eq!(t.with_prefix(b"ab"), vec![1, 2, 4]);
        assert_eq!(t.with_prefix(b""), vec![0, 1, 2, 3, 4, 6, 7]);
        assert_eq!(t.with_prefix("\u{e9}".as_bytes()[..1].as_ref()), vec![7]);
    }

    #[test]
    fn edges() {
        let t = ByteTrie::new(&vocab());
        // "a","ab","abc","b","bc","\u{e9}" (2 bytes): root + a,ab,abc + b,bc + 2 = 8 nodes
        assert_eq!(t.num_nodes(), 8);
        assert_eq!(t.prefixes_of(b"ab", 2), vec![]);
        assert_eq!(t.prefixes_of(b"ab", 99), vec![]);
        assert_eq!(t.longest_prefix(b"ab", 2), None);
        assert_eq!(t.longest_prefix(b"ab", 99), None);
        assert_eq!(t.with_prefix(b"abcd"), Vec::<u32>::new());

        let empty = ByteTrie::new::<Vec<u8>>(&[]);
        assert_eq!((empty.num_nodes(), empty.num_tokens()), (1, 0));
        assert_eq!(empty.with_prefix(b""), Vec::<u32>::new());
        assert_eq!(empty.prefixes_of(b"abc", 0), vec![]);

        // all 256 single bytes, in reverse id order: children sorted, every byte reachable
        let bytes: Vec<Vec<u8>> = (0..=255u8).rev().map(|b| vec![b]).collect();
        let t = ByteTrie::new(&bytes);
        assert_eq!(t.num_nodes(), 257);
        for b in 0..=255u8 {
            assert_eq!(t.get(&[b]), vec![255 - b as u32]);
            assert_eq!(t.longest_prefix(&[b, b], 0), Some((1, 255 - b as u32)));
        }
    }

    #[test]
    fn brute_force_agrees() {
        let v = vocab();
        let t = ByteTrie::new(&v);
        let text = b"abcabcbab";
        for start in 0..text.len() {
            let mut want: Vec<(usize, u32)> = v.iter().enumerate()
                .filter(|(_, tok)| !tok.is_empty() && text[start..].starts_with(tok))
                .map(|(i, tok)| (start + tok.len(), i as u32)).collect();
            want.sort();
            assert_eq!(t.prefixes_of(text, start), want);
        }
    }
}
