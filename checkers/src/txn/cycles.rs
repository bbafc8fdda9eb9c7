//! Cycle anomalies, searched from the strongest to the weakest so that the
//! models' verdicts are exact: inside each strongly connected component of the
//! dependency graph, G0 (ww only), G1c (ww and wr, at least one wr), G-single
//! (exactly one rw), G-nonadjacent (several rw, never two in a row), G2-item
//! (any other cycle with rw); then the cycles that need a process-order edge
//! (the `-process` variants, forbidden from strong session serializability
//! up), then those that need a real-time edge (`-realtime`, forbidden only by
//! strict serializability).

use super::graph::{DATA, Graph, Kinds, PR, RT, RW, WR, WW, name_kind};
use rustc_hash::{FxHashMap, FxHashSet};
use std::time::Instant;

/// A cycle: `nodes[i] → nodes[i + 1]` (and the last back to the first) with
/// `kinds[i]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    /// The anomaly it is an instance of.
    pub name: &'static str,
    /// The transactions in order.
    pub nodes: Vec<usize>,
    /// The kind each edge is named by.
    pub kinds: Vec<Kinds>,
}

/// What the search found, and whether it finished.
#[derive(Debug, Default)]
pub struct Search {
    /// Cycles, at most `limit` per anomaly.
    pub cycles: Vec<Cycle>,
    /// How many of each anomaly were found (at least).
    pub counts: FxHashMap<&'static str, usize>,
    /// Set when the deadline passed: the anomaly being searched for then.
    pub cut_short: Option<&'static str>,
}

impl Search {
    fn push(&mut self, limit: usize, cycle: Cycle) {
        let count = self.counts.entry(cycle.name).or_insert(0);
        *count += 1;
        if *count <= limit {
            self.cycles.push(cycle);
        }
    }
}

/// Which edges beyond the data dependencies a cycle needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Data,
    Process,
    Realtime,
}

/// Names a cycle by its edges: `start → path…` with kinds named from
/// `allowed`; `order` adds the suffix.
fn classify(nodes: Vec<usize>, raw: Vec<Kinds>, allowed: Kinds, order: Order) -> Cycle {
    let kinds: Vec<Kinds> = raw.iter().map(|kinds| name_kind(*kinds, allowed)).collect();
    let rw = kinds.iter().filter(|kind| **kind == RW).count();
    let adjacent = (0..kinds.len()).any(|i| kinds[i] == RW && kinds[(i + 1) % kinds.len()] == RW);
    let base = match rw {
        0 if kinds.contains(&WR) => 1,
        0 => 0,
        1 => 2,
        _ if !adjacent => 3,
        _ => 4,
    };
    const NAMES: [[&str; 5]; 3] = [
        ["G0", "G1c", "G-single", "G-nonadjacent", "G2-item"],
        [
            "G0-process",
            "G1c-process",
            "G-single-process",
            "G-nonadjacent-process",
            "G2-item-process",
        ],
        [
            "G0-realtime",
            "G1c-realtime",
            "G-single-realtime",
            "G-nonadjacent-realtime",
            "G2-item-realtime",
        ],
    ];
    let row = match order {
        Order::Data => 0,
        Order::Process => 1,
        Order::Realtime => 2,
    };
    Cycle {
        name: NAMES[row][base],
        nodes,
        kinds,
    }
}

/// The cycle made of the edge `from → to` (with `kind`) and a path back.
fn close(
    from: usize,
    kind: Kinds,
    to: usize,
    path: Vec<(usize, Kinds)>,
) -> (Vec<usize>, Vec<Kinds>) {
    let mut nodes = vec![from, to];
    let mut kinds = vec![kind];
    for (node, kinds_in) in path {
        if node != from {
            nodes.push(node);
        }
        kinds.push(kinds_in);
    }
    // `kinds[i]` is the edge out of nodes[i]; the last one returns to `from`.
    (nodes, kinds)
}

/// Searches `graph` (data, process and real-time edges) for cycle anomalies,
/// until `deadline`.
pub fn search(graph: &Graph, limit: usize, deadline: Instant) -> Search {
    let mut search = Search::default();
    let everything = |_: usize| true;
    let mut member = vec![u32::MAX; graph.len()];
    for (number, component) in graph.components(DATA, &everything).into_iter().enumerate() {
        for &node in &component {
            member[node] = number as u32;
        }
        let number = number as u32;
        let inside = |node: usize| member[node] == number;
        if !in_component(graph, &component, &inside, &mut search, limit, deadline) {
            return search;
        }
    }
    // Process order is implied by real time (a client's next transaction
    // starts after its last one completed), so a component with a process
    // cycle holds a real-time one too; it is reported once, as the weaker.
    let mut explained = vec![false; graph.len()];
    for (extra, order, stage) in [
        (PR, Order::Process, "G-single-process"),
        (RT, Order::Realtime, "G-single-realtime"),
    ] {
        let mut member = vec![u32::MAX; graph.len()];
        for (number, component) in graph
            .components(DATA | extra, &everything)
            .into_iter()
            .enumerate()
        {
            if Instant::now() > deadline {
                search.cut_short = Some(stage);
                return search;
            }
            if component.iter().any(|&node| explained[node]) {
                continue;
            }
            for &node in &component {
                member[node] = number as u32;
            }
            let number = number as u32;
            let inside = |node: usize| member[node] == number;
            // An edge that is only process (or real-time) order: were every
            // such edge also a data dependency, the data pass found the cycle.
            let only_extra = |kinds: Kinds| kinds & DATA == 0 && kinds & extra != 0;
            let Some((from, to)) = internal_edge(graph, &component, &only_extra, &inside) else {
                continue;
            };
            if let Some(path) = graph.shortest_path(to, from, DATA | extra, &inside) {
                let (nodes, kinds) = close(from, extra, to, path);
                search.push(limit, classify(nodes, kinds, DATA | extra, order));
                for &node in &component {
                    explained[node] = true;
                }
            }
        }
    }
    search
}

/// The search inside one component of the data graph; false when the
/// deadline passed.
fn in_component(
    graph: &Graph,
    component: &[usize],
    inside: &dyn Fn(usize) -> bool,
    search: &mut Search,
    limit: usize,
    deadline: Instant,
) -> bool {
    // G0: a cycle of ww edges exists exactly where ww alone connects strongly.
    for sub in graph.components(WW, inside) {
        let set: FxHashSet<usize> = sub.iter().copied().collect();
        if let Some(path) = graph.shortest_path(sub[0], sub[0], WW, &|node| set.contains(&node)) {
            let (kinds, nodes): (Vec<Kinds>, Vec<usize>) =
                path.iter().map(|(node, kinds)| (*kinds, *node)).unzip();
            let mut nodes = nodes;
            nodes.rotate_right(1);
            search.push(limit, classify(nodes, kinds, WW, Order::Data));
        }
    }
    // G1c: a wr edge inside a component of ww ∪ wr closes a cycle with it.
    for sub in graph.components(WW | WR, inside) {
        let set: FxHashSet<usize> = sub.iter().copied().collect();
        let within = |node: usize| set.contains(&node);
        if let Some((from, to)) = internal_edge(graph, &sub, &|kinds| kinds & WR != 0, &within)
            && let Some(path) = graph.shortest_path(to, from, WW | WR, &within)
        {
            let (nodes, kinds) = close(from, WR, to, path);
            search.push(limit, classify(nodes, kinds, WW | WR, Order::Data));
        }
    }
    // G-single: an rw edge u → v with a path v ⇝ u of ww and wr edges. One
    // search from each distinct v answers every rw edge into it.
    let mut into: FxHashMap<usize, Vec<usize>> = FxHashMap::default();
    for &from in component {
        for &(to, kinds) in graph.out(from) {
            if kinds & RW != 0 && inside(to as usize) {
                into.entry(to as usize).or_default().push(from);
            }
        }
    }
    if into.is_empty() {
        return true;
    }
    let mut targets: Vec<usize> = into.keys().copied().collect();
    targets.sort_unstable();
    let mut single = false;
    for &to in &targets {
        if Instant::now() > deadline {
            search.cut_short = Some("G-single");
            return false;
        }
        let reach = reachable(graph, to, WW | WR, inside);
        for &from in &into[&to] {
            if reach.contains(&from)
                && let Some(path) = graph.shortest_path(to, from, WW | WR, inside)
            {
                let (nodes, kinds) = close(from, RW, to, path);
                search.push(limit, classify(nodes, kinds, WW | WR | RW, Order::Data));
                single = true;
                break;
            }
        }
        if single && search.counts.get("G-single").copied().unwrap_or(0) >= limit {
            break;
        }
    }
    if single {
        return true;
    }
    // G-nonadjacent: with no G-single, a cycle of "a non-rw edge, then at most
    // one rw edge" steps that uses an rw edge has several, none adjacent.
    if Instant::now() > deadline {
        search.cut_short = Some("G-nonadjacent");
        return false;
    }
    if let Some(cycle) = nonadjacent(graph, component, inside) {
        search.push(limit, cycle);
        return true;
    }
    // G2-item: any rw edge inside the component closes a cycle.
    let to = targets[0];
    let from = into[&to][0];
    if let Some(path) = graph.shortest_path(to, from, DATA, inside) {
        let (nodes, kinds) = close(from, RW, to, path);
        search.push(limit, classify(nodes, kinds, DATA, Order::Data));
    }
    true
}

/// An edge whose kinds `pick` accepts between two nodes of `nodes` (all of
/// them `inside`).
fn internal_edge(
    graph: &Graph,
    nodes: &[usize],
    pick: &dyn Fn(Kinds) -> bool,
    inside: &dyn Fn(usize) -> bool,
) -> Option<(usize, usize)> {
    nodes.iter().find_map(|&from| {
        graph
            .out(from)
            .iter()
            .find(|(to, kinds)| pick(*kinds) && inside(*to as usize))
            .map(|&(to, _)| (from, to as usize))
    })
}

fn reachable(
    graph: &Graph,
    from: usize,
    allowed: Kinds,
    inside: &dyn Fn(usize) -> bool,
) -> FxHashSet<usize> {
    let mut seen = FxHashSet::default();
    let mut stack = vec![from];
    while let Some(node) = stack.pop() {
        for &(to, kinds) in graph.out(node) {
            let to = to as usize;
            if kinds & allowed != 0 && inside(to) && seen.insert(to) {
                stack.push(to);
            }
        }
    }
    seen
}

/// A cycle in the graph of steps `u → w` where `u → w` is ww or wr, or
/// `u → v` is ww or wr and `v → w` is rw, that takes at least one rw step.
fn nonadjacent(
    graph: &Graph,
    component: &[usize],
    inside: &dyn Fn(usize) -> bool,
) -> Option<Cycle> {
    // Steps out of a node: (target, via) with via = the middle node of an rw step.
    let steps = |node: usize| -> Vec<(usize, Option<usize>)> {
        let mut out = Vec::new();
        for &(middle, kinds) in graph.out(node) {
            let middle = middle as usize;
            if kinds & (WW | WR) == 0 || !inside(middle) {
                continue;
            }
            out.push((middle, None));
            for &(target, kinds) in graph.out(middle) {
                if kinds & RW != 0 && inside(target as usize) {
                    out.push((target as usize, Some(middle)));
                }
            }
        }
        out
    };
    for &start in component {
        for (first, via) in steps(start) {
            let Some(via) = via else { continue };
            // A path first ⇝ start in the step graph closes the cycle.
            let mut parent: FxHashMap<usize, (usize, Option<usize>)> = FxHashMap::default();
            let mut queue = std::collections::VecDeque::from([first]);
            let mut reached = first == start;
            while let Some(node) = queue.pop_front() {
                if reached {
                    break;
                }
                for (target, middle) in steps(node) {
                    if target == first || parent.contains_key(&target) {
                        continue;
                    }
                    parent.insert(target, (node, middle));
                    if target == start {
                        reached = true;
                        break;
                    }
                    queue.push_back(target);
                }
            }
            if !reached {
                continue;
            }
            // Unroll: start →(via) first ⇝ start, each step one edge or two.
            let mut hops = Vec::new();
            let mut at = start;
            while at != first {
                let (previous, middle) = parent[&at];
                hops.push((previous, middle, at));
                at = previous;
            }
            hops.reverse();
            let mut nodes = vec![start];
            let mut kinds = Vec::new();
            let mut push_step = |from: usize, middle: Option<usize>, target: usize| {
                match middle {
                    Some(middle) => {
                        kinds.push(graph.kinds(from, middle));
                        nodes.push(middle);
                        kinds.push(RW);
                    }
                    None => kinds.push(graph.kinds(from, target)),
                }
                if target != start {
                    nodes.push(target);
                }
            };
            push_step(start, Some(via), first);
            for (from, middle, target) in hops {
                push_step(from, middle, target);
            }
            let kinds: Vec<Kinds> = kinds
                .into_iter()
                .map(|kind| {
                    if kind == RW {
                        RW
                    } else {
                        name_kind(kind, WW | WR)
                    }
                })
                .collect();
            return Some(classify(nodes, kinds, DATA, Order::Data));
        }
    }
    None
}
