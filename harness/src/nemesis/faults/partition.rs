//! `partition`: cut the links a grudge names (each node drops its peers'
//! traffic), in one of the `--partition` shapes; heal every link when healed.

use crate::nemesis::NemesisError;
use crate::nemesis::fault::{Arena, Draw, Fault, FaultKind, FaultType, Needs};
use crate::net::grudge::{self, Grudge};
use serde_json::{Value, json};

/// Splits the cluster.
pub struct Partition;

impl FaultType for Partition {
    fn name(&self) -> &'static str {
        "partition"
    }

    fn start_events(&self) -> &'static [&'static str] {
        &["start-partition"]
    }

    fn end_event(&self) -> &'static str {
        "stop-partition"
    }

    fn needs(&self) -> Needs {
        Needs {
            network: true,
            ..Needs::default()
        }
    }

    fn draw(&self, draw: &mut Draw) -> Fault {
        let shapes = &draw.options.shapes;
        let shape = &shapes[draw.rng.below(shapes.len() as u64) as usize];
        let grudge = shape.grudge(draw.cluster.nodes, draw.rng);
        let grudge = with_bystanders(grudge, draw.cluster.nodes, draw.cluster.ids);
        Fault {
            kind: FaultKind::of(&Partition),
            nodes: grudge.keys().cloned().collect(),
            start: (
                "start-partition",
                json!({"shape": shape.name(), "grudge": grudge}),
            ),
            end: ("stop-partition", Value::Null),
            description: format!("partition {}", shape.name()),
            step_period: None,
        }
    }

    fn perform(&self, fault: &Fault, arena: &Arena) -> Result<(), NemesisError> {
        let grudge: Grudge = serde_json::from_value(fault.start.1["grudge"].clone())
            .map_err(|error| NemesisError::Unsupported(format!("a grudge: {error}")))?;
        let mut net = arena.net()?.lock().expect("net lock");
        Ok(net.partition(&grudge)?)
    }

    fn heal(&self, _fault: &Fault, arena: &Arena) -> Result<(), NemesisError> {
        self.heal_all(arena)
    }

    fn heal_all(&self, arena: &Arena) -> Result<(), NemesisError> {
        let mut net = arena.net()?.lock().expect("net lock");
        Ok(net.partition(&Grudge::new())?)
    }
}

/// The processes that are not nodes (a configuration master) stand with the
/// best-connected side: they drop what that side drops, so a partition of the
/// nodes does not also cut them off by accident.
fn with_bystanders(mut grudge: Grudge, nodes: &[String], ids: &[String]) -> Grudge {
    let side = grudge::best_connected(&grudge, nodes);
    for id in ids.iter().filter(|id| !nodes.contains(id)) {
        let dropped = nodes
            .iter()
            .filter(|node| !side.contains(*node))
            .cloned()
            .collect();
        grudge.insert(id.clone(), dropped);
    }
    grudge
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn the_master_stands_with_the_majority() {
        let nodes = names(&["n1", "n2", "n3"]);
        let ids = names(&["master", "n1", "n2", "n3"]);
        let grudge = grudge::complete(&[vec!["n2".into()], vec!["n1".into(), "n3".into()]]);
        let grudge = with_bystanders(grudge, &nodes, &ids);
        assert_eq!(grudge["master"].iter().collect::<Vec<_>>(), ["n2"]);
    }
}
