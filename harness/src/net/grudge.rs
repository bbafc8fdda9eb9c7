//! Partitions as grudges, Jepsen's term: each node maps to the peers whose
//! traffic it drops. Shapes are drawn from a seeded generator, so a seed always
//! cuts the same links; everything here is pure.

use crate::rng::Rng;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Node → the peers it drops traffic from.
pub type Grudge = BTreeMap<String, BTreeSet<String>>;

/// How a partition splits the nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// One random node cut off from all others.
    One,
    /// Two random halves; the larger is a majority.
    Majority,
    /// Each node sees a majority, but no two nodes see the same one (nodes in
    /// a ring, each talking to its nearest neighbours).
    MajoritiesRing,
    /// Two halves joined by one node that talks to both.
    Bridge,
    /// A random third of the nodes (at least one) cut off from the rest.
    MinorityThird,
    /// The same grudge every time, as given.
    Explicit(Grudge),
}

impl Shape {
    /// The shape's name, as `--partition` takes it (`grudge` for an explicit one).
    pub fn name(&self) -> &'static str {
        match self {
            Shape::One => "one",
            Shape::Majority => "majority",
            Shape::MajoritiesRing => "majorities-ring",
            Shape::Bridge => "bridge",
            Shape::MinorityThird => "minority-third",
            Shape::Explicit(_) => "grudge",
        }
    }

    /// The named shapes, for messages.
    pub const NAMES: &'static [&'static str] = &[
        "one",
        "majority",
        "majorities-ring",
        "bridge",
        "minority-third",
    ];

    /// Parses `--partition`: comma-separated shape names, or `all`.
    ///
    /// # Errors
    /// A message naming the unknown shape and the known ones.
    pub fn parse_list(text: &str) -> Result<Vec<Shape>, String> {
        let mut shapes = Vec::new();
        for name in text
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            match name {
                "all" => shapes.extend([
                    Shape::One,
                    Shape::Majority,
                    Shape::MajoritiesRing,
                    Shape::Bridge,
                    Shape::MinorityThird,
                ]),
                "one" => shapes.push(Shape::One),
                "majority" => shapes.push(Shape::Majority),
                "majorities-ring" => shapes.push(Shape::MajoritiesRing),
                "bridge" => shapes.push(Shape::Bridge),
                "minority-third" => shapes.push(Shape::MinorityThird),
                other => {
                    return Err(format!(
                        "unknown partition shape {other:?}; expected {} or all (or --grudge for an explicit one)",
                        Shape::NAMES.join(", ")
                    ));
                }
            }
        }
        if shapes.is_empty() {
            return Err(format!(
                "--partition is empty; expected {} or all",
                Shape::NAMES.join(", ")
            ));
        }
        Ok(shapes)
    }

    /// Parses `--grudge`: `node=peer+peer;node=peer…`, each node dropping
    /// traffic from the peers listed, checked against `nodes`.
    ///
    /// # Errors
    /// A message naming the unknown node or the malformed part.
    pub fn parse_grudge(text: &str, nodes: &[String]) -> Result<Shape, String> {
        let known = |node: &str| {
            if nodes.iter().any(|known| known == node) {
                Ok(node.to_string())
            } else {
                Err(format!(
                    "--grudge: unknown node {node:?}; the nodes are {}",
                    nodes.join(", ")
                ))
            }
        };
        let mut grudge = Grudge::new();
        for part in text
            .split(';')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            let (node, peers) = part.split_once('=').ok_or_else(|| {
                format!("--grudge: {part:?} is not node=peer+peer (e.g. n1=n2+n3;n2=n1)")
            })?;
            let node = known(node.trim())?;
            let peers = peers
                .split('+')
                .map(str::trim)
                .filter(|peer| !peer.is_empty())
                .map(known)
                .collect::<Result<BTreeSet<_>, _>>()?;
            if peers.contains(&node) {
                return Err(format!("--grudge: {node} cannot drop its own traffic"));
            }
            grudge.entry(node).or_default().extend(peers);
        }
        if grudge.values().all(BTreeSet::is_empty) {
            return Err("--grudge cuts no link; expected node=peer+peer;…".to_string());
        }
        Ok(Shape::Explicit(grudge))
    }

    /// The grudge for `nodes` (sorted ids), drawing from `rng`.
    pub fn grudge(&self, nodes: &[String], rng: &mut Rng) -> Grudge {
        let shuffled = shuffle(nodes, rng);
        let n = shuffled.len();
        match self {
            Shape::Explicit(grudge) => grudge.clone(),
            Shape::One => complete(&[shuffled[..1].to_vec(), shuffled[1..].to_vec()]),
            Shape::Majority => {
                let (minority, majority) = shuffled.split_at(n / 2);
                complete(&[minority.to_vec(), majority.to_vec()])
            }
            Shape::MinorityThird => {
                let (minority, rest) = shuffled.split_at((n / 3).max(1).min(n));
                complete(&[minority.to_vec(), rest.to_vec()])
            }
            Shape::Bridge => {
                // Halves around one node that keeps both sides.
                let bridge = &shuffled[0];
                let others = &shuffled[1..];
                let (left, right) = others.split_at(others.len() / 2);
                let mut grudge = complete(&[left.to_vec(), right.to_vec()]);
                grudge.entry(bridge.clone()).or_default();
                grudge
            }
            Shape::MajoritiesRing => {
                // In a ring, each node keeps a window of a majority around
                // itself and drops the rest; windows shift by one node, so no
                // two are the same. With an even window the extra node is on
                // the right, so grudges can be one-way (as in Jepsen).
                let majority = n / 2 + 1;
                let left = (majority - 1) / 2;
                let mut grudge = Grudge::new();
                for (index, node) in shuffled.iter().enumerate() {
                    let kept: BTreeSet<usize> = (0..majority)
                        .map(|offset| (index + n - left + offset) % n)
                        .collect();
                    let dropped = (0..n)
                        .filter(|other| !kept.contains(other))
                        .map(|other| shuffled[other].clone())
                        .collect();
                    grudge.insert(node.clone(), dropped);
                }
                grudge
            }
        }
    }
}

/// `nodes` in a random order drawn from `rng` (Fisher–Yates).
pub fn shuffle(nodes: &[String], rng: &mut Rng) -> Vec<String> {
    let mut shuffled = nodes.to_vec();
    for index in (1..shuffled.len()).rev() {
        shuffled.swap(index, rng.below(index as u64 + 1) as usize);
    }
    shuffled
}

/// Every node drops every node outside its own component.
pub fn complete(components: &[Vec<String>]) -> Grudge {
    let mut grudge = Grudge::new();
    for (index, component) in components.iter().enumerate() {
        let outside: BTreeSet<String> = components
            .iter()
            .enumerate()
            .filter(|(other, _)| *other != index)
            .flat_map(|(_, nodes)| nodes.iter().cloned())
            .collect();
        for node in component {
            grudge.insert(node.clone(), outside.clone());
        }
    }
    grudge
}

/// The directed links a grudge cuts, `(from, to)`: a node that drops a peer's
/// traffic hears nothing on connections in either direction, so both are cut.
pub fn cut_links(grudge: &Grudge) -> BTreeSet<(String, String)> {
    grudge
        .iter()
        .flat_map(|(node, peers)| {
            peers
                .iter()
                .flat_map(move |peer| [(node.clone(), peer.clone()), (peer.clone(), node.clone())])
        })
        .collect()
}

/// Which nodes a node can still hear from, itself included.
fn heard(grudge: &Grudge, nodes: &[String], node: &str) -> BTreeSet<String> {
    nodes
        .iter()
        .filter(|peer| {
            let dropped = |a: &str, b: &str| grudge.get(a).is_some_and(|set| set.contains(b));
            !dropped(node, peer) && !dropped(peer, node)
        })
        .cloned()
        .collect()
}

/// The nodes in the largest group that all hear one another (for the side a
/// store's configuration service stands with): the first node, in order, that
/// hears the most peers, and those peers.
pub fn best_connected(grudge: &Grudge, nodes: &[String]) -> BTreeSet<String> {
    nodes
        .iter()
        .map(|node| heard(grudge, nodes, node))
        .max_by_key(BTreeSet::len)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    fn heard_counts(grudge: &Grudge, nodes: &[String]) -> Vec<usize> {
        nodes
            .iter()
            .map(|node| heard(grudge, nodes, node).len())
            .collect()
    }

    #[test]
    fn shapes_cut_what_their_names_say() {
        let mut rng = Rng::new(7);
        for n in [3, 5, 7] {
            let nodes = nodes(n);
            let majority = n / 2 + 1;
            for _ in 0..20 {
                let one = Shape::One.grudge(&nodes, &mut rng);
                let mut counts = heard_counts(&one, &nodes);
                counts.sort();
                assert_eq!(counts[0], 1, "one node alone: {one:?}");
                assert!(counts[1..].iter().all(|&c| c == n - 1));

                let halves = Shape::Majority.grudge(&nodes, &mut rng);
                let counts = heard_counts(&halves, &nodes);
                assert_eq!(counts.iter().filter(|&&c| c == majority).count(), majority);
                assert_eq!(
                    counts.iter().filter(|&&c| c == n - majority).count(),
                    n - majority
                );

                let ring = Shape::MajoritiesRing.grudge(&nodes, &mut rng);
                let kept = |node: &String| -> BTreeSet<String> {
                    nodes
                        .iter()
                        .filter(|peer| !ring[node].contains(*peer))
                        .cloned()
                        .collect()
                };
                assert!(
                    nodes
                        .iter()
                        .all(|node| kept(node).len() == majority && kept(node).contains(node)),
                    "every node hears exactly a majority, itself included: {ring:?}"
                );
                let seen: BTreeSet<_> = nodes.iter().map(kept).collect();
                assert_eq!(seen.len(), n, "no two nodes hear the same majority");

                let bridge = Shape::Bridge.grudge(&nodes, &mut rng);
                let counts = heard_counts(&bridge, &nodes);
                assert_eq!(counts.iter().filter(|&&c| c == n).count(), 1, "{bridge:?}");

                let third = Shape::MinorityThird.grudge(&nodes, &mut rng);
                let mut counts = heard_counts(&third, &nodes);
                counts.sort();
                assert_eq!(counts[0], (n / 3).max(1));
            }
        }
    }

    #[test]
    fn a_seed_always_draws_the_same_grudge() {
        let nodes = nodes(5);
        let draw = |seed| Shape::Majority.grudge(&nodes, &mut Rng::new(seed));
        assert_eq!(draw(11), draw(11));
        assert!((0..20).any(|seed| draw(seed) != draw(11)), "seeds differ");
    }

    #[test]
    fn grudges_and_shape_lists_parse_with_clear_errors() {
        let nodes = nodes(3);
        let Shape::Explicit(grudge) = Shape::parse_grudge("n1=n2+n3; n2=n1", &nodes).unwrap()
        else {
            panic!("an explicit grudge");
        };
        assert_eq!(grudge["n1"].len(), 2);
        assert_eq!(
            cut_links(&grudge).len(),
            4,
            "n1↔n2 and n1↔n3, both directions"
        );
        assert!(
            Shape::parse_grudge("n1=n9", &nodes)
                .unwrap_err()
                .contains("unknown node \"n9\"")
        );
        assert!(
            Shape::parse_grudge("n1", &nodes)
                .unwrap_err()
                .contains("node=peer+peer")
        );
        assert!(
            Shape::parse_grudge("n1=n1", &nodes)
                .unwrap_err()
                .contains("its own")
        );
        assert_eq!(Shape::parse_list("all").unwrap().len(), 5);
        assert!(
            Shape::parse_list("triangle")
                .unwrap_err()
                .contains("majorities-ring")
        );
    }

    #[test]
    fn the_best_connected_side_is_the_majority() {
        let nodes = nodes(5);
        let grudge = complete(&[
            vec!["n1".into(), "n4".into()],
            vec!["n2".into(), "n3".into(), "n5".into()],
        ]);
        let side: Vec<_> = best_connected(&grudge, &nodes).into_iter().collect();
        assert_eq!(side, ["n2", "n3", "n5"]);
    }
}
