//! The dependency graph between transactions: typed edges, strongly connected
//! components, and shortest paths restricted to a set of edge kinds.

use rustc_hash::FxHashMap;
use std::collections::VecDeque;

/// Kinds of dependency, as bits so that one edge can carry several.
pub type Kinds = u8;
/// Write-write: the source installed the version the target overwrote.
pub const WW: Kinds = 1;
/// Write-read: the target read what the source wrote.
pub const WR: Kinds = 2;
/// Read-write (anti-dependency): the target overwrote what the source read.
pub const RW: Kinds = 4;
/// Real time: the source completed before the target was invoked.
pub const RT: Kinds = 8;
/// Process order: the source came before the target in one client's session.
pub const PR: Kinds = 16;
/// Every kind between committed transactions' data.
pub const DATA: Kinds = WW | WR | RW;

/// The kind an edge is named by in a cycle, given the kinds allowed: the
/// strongest first (ww, then wr, rw, process, rt).
pub fn name_kind(kinds: Kinds, allowed: Kinds) -> Kinds {
    let usable = kinds & allowed;
    [WW, WR, RW, PR, RT]
        .into_iter()
        .find(|kind| usable & kind != 0)
        .unwrap_or(0)
}

/// A directed graph on transactions `0..n`; parallel edges merge their kinds.
/// Edges are collected in a list and, when sealed, sorted into one array of
/// targets per node (compressed rows): no table entry or list per node.
#[derive(Debug, Default)]
pub struct Graph {
    nodes: usize,
    /// Edges added since the last seal: (from, to, kinds).
    pending: Vec<(u32, u32, Kinds)>,
    /// Node `n`'s edges are `targets[offsets[n]..offsets[n + 1]]`, by target.
    offsets: Vec<usize>,
    targets: Vec<(u32, Kinds)>,
}

impl Graph {
    /// An empty graph on `nodes` transactions.
    pub fn new(nodes: usize) -> Graph {
        Graph {
            nodes,
            pending: Vec::new(),
            offsets: vec![0; nodes + 1],
            targets: Vec::new(),
        }
    }

    /// Adds an edge (self-loops are dropped: a transaction does not depend on
    /// itself); it shows once the graph is sealed again.
    pub fn add(&mut self, from: usize, to: usize, kind: Kinds) {
        if from != to {
            self.pending.push((from as u32, to as u32, kind));
        }
    }

    /// Merges the edges added since the last seal into the rows; call once
    /// every edge is in, before reading the graph.
    pub fn seal(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut edges = std::mem::take(&mut self.pending);
        edges.reserve(self.targets.len());
        for node in 0..self.nodes {
            for &(to, kinds) in self.out(node) {
                edges.push((node as u32, to, kinds));
            }
        }
        edges.sort_unstable_by_key(|&(from, to, _)| (from, to));
        let mut targets: Vec<(u32, Kinds)> = Vec::with_capacity(edges.len());
        let mut offsets = vec![0usize; self.nodes + 1];
        let mut previous: Option<(u32, u32)> = None;
        for (from, to, kinds) in edges {
            if previous == Some((from, to)) {
                targets.last_mut().expect("the same edge just pushed").1 |= kinds;
                continue;
            }
            previous = Some((from, to));
            targets.push((to, kinds));
            offsets[from as usize + 1] += 1;
        }
        for node in 0..self.nodes {
            offsets[node + 1] += offsets[node];
        }
        self.offsets = offsets;
        self.targets = targets;
    }

    /// The kinds of the edge `from → to` (0: none).
    pub fn kinds(&self, from: usize, to: usize) -> Kinds {
        let out = self.out(from);
        out.binary_search_by_key(&(to as u32), |&(target, _)| target)
            .map_or(0, |at| out[at].1)
    }

    /// Edges out of `node` with their kinds, by target.
    pub fn out(&self, node: usize) -> &[(u32, Kinds)] {
        &self.targets[self.offsets[node]..self.offsets[node + 1]]
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes
    }

    /// Edges in the graph (as of the last seal).
    pub fn edge_count(&self) -> usize {
        self.targets.len()
    }

    /// Strongly connected components of more than one node, using only edges
    /// with a kind in `allowed` and nodes for which `scope` holds (Tarjan's
    /// algorithm, iterative).
    pub fn components(&self, allowed: Kinds, scope: &dyn Fn(usize) -> bool) -> Vec<Vec<usize>> {
        const UNSEEN: u32 = u32::MAX;
        let n = self.nodes;
        let mut index = vec![UNSEEN; n];
        let mut low = vec![0u32; n];
        let mut on_stack = vec![false; n];
        let mut stack = Vec::new();
        let mut next = 0u32;
        let mut found = Vec::new();
        // (node, position in its adjacency list)
        let mut calls: Vec<(usize, usize)> = Vec::new();
        for root in 0..n {
            if index[root] != UNSEEN || !scope(root) {
                continue;
            }
            calls.push((root, 0));
            index[root] = next;
            low[root] = next;
            next += 1;
            stack.push(root);
            on_stack[root] = true;
            while let Some(&mut (node, ref mut position)) = calls.last_mut() {
                let targets = self.out(node);
                if *position < targets.len() {
                    let (target, kinds) = targets[*position];
                    *position += 1;
                    let target = target as usize;
                    if kinds & allowed == 0 || !scope(target) {
                        continue;
                    }
                    if index[target] == UNSEEN {
                        index[target] = next;
                        low[target] = next;
                        next += 1;
                        stack.push(target);
                        on_stack[target] = true;
                        calls.push((target, 0));
                    } else if on_stack[target] {
                        low[node] = low[node].min(index[target]);
                    }
                    continue;
                }
                calls.pop();
                if let Some(&(parent, _)) = calls.last() {
                    low[parent] = low[parent].min(low[node]);
                }
                if low[node] == index[node] {
                    let mut component = Vec::new();
                    loop {
                        let member = stack.pop().expect("the component's nodes are stacked");
                        on_stack[member] = false;
                        component.push(member);
                        if member == node {
                            break;
                        }
                    }
                    if component.len() > 1 {
                        component.sort_unstable();
                        found.push(component);
                    }
                }
            }
        }
        found
    }

    /// A shortest path `from ⇝ to` over edges with a kind in `allowed`, through
    /// nodes for which `scope` holds: the nodes after `from`, each with the
    /// kinds of the edge that reaches it. `from == to` asks for a cycle.
    pub fn shortest_path(
        &self,
        from: usize,
        to: usize,
        allowed: Kinds,
        scope: &dyn Fn(usize) -> bool,
    ) -> Option<Vec<(usize, Kinds)>> {
        let mut parent: FxHashMap<usize, (usize, Kinds)> = FxHashMap::default();
        let mut queue = VecDeque::from([from]);
        while let Some(node) = queue.pop_front() {
            for &(target, kinds) in self.out(node) {
                let target = target as usize;
                if kinds & allowed == 0 || !scope(target) || parent.contains_key(&target) {
                    continue;
                }
                parent.insert(target, (node, kinds & allowed));
                if target == to {
                    let mut path = vec![(to, kinds & allowed)];
                    let mut at = node;
                    while at != from {
                        let (previous, kinds) = parent[&at];
                        path.push((at, kinds));
                        at = previous;
                    }
                    path.reverse();
                    return Some(path);
                }
                if target != from {
                    queue.push_back(target);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_and_paths_respect_the_kinds_allowed() {
        let mut graph = Graph::new(5);
        graph.add(0, 1, WW);
        graph.add(1, 2, WR);
        graph.add(2, 0, RW);
        graph.add(3, 4, WW);
        graph.add(4, 3, WW);
        graph.add(4, 4, WW);
        graph.seal();
        let all = |_: usize| true;
        assert_eq!(
            graph.components(DATA, &all),
            vec![vec![0, 1, 2], vec![3, 4]]
        );
        assert_eq!(graph.components(WW | WR, &all), vec![vec![3, 4]]);
        assert_eq!(
            graph.shortest_path(0, 0, DATA, &all),
            Some(vec![(1, WW), (2, WR), (0, RW)])
        );
        assert_eq!(graph.shortest_path(0, 0, WW | WR, &all), None);
        assert_eq!(graph.shortest_path(0, 2, DATA, &|node| node != 1), None);
        assert_eq!(graph.kinds(4, 4), 0, "no self-loops");
    }
}
