//! `packet`: delay and lose the traffic to and from nodes; restore it when
//! healed.

use crate::nemesis::NemesisError;
use crate::nemesis::fault::{Arena, Draw, Fault, FaultKind, FaultType, Needs};
use crate::net::Degradation;
use serde_json::json;

/// Degrades nodes' links.
pub struct Packet;

impl FaultType for Packet {
    fn name(&self) -> &'static str {
        "packet"
    }

    fn start_events(&self) -> &'static [&'static str] {
        &["start-packet"]
    }

    fn end_event(&self) -> &'static str {
        "stop-packet"
    }

    fn needs(&self) -> Needs {
        Needs {
            network: true,
            ..Needs::default()
        }
    }

    fn draw(&self, draw: &mut Draw) -> Fault {
        let nodes = draw.targets();
        // As the run's network can do it (namespaces lose but do not delay).
        let degradation = draw.cluster.packet;
        Fault {
            kind: FaultKind::of(&Packet),
            start: (
                "start-packet",
                json!({"nodes": nodes, "delay_ms": degradation.delay_ms, "loss": degradation.loss}),
            ),
            end: ("stop-packet", json!(nodes)),
            description: format!("packet {}", nodes.join(",")),
            step_period: None,
            nodes,
        }
    }

    fn perform(&self, fault: &Fault, arena: &Arena) -> Result<(), NemesisError> {
        let value = &fault.start.1;
        let degradation = Degradation {
            delay_ms: value["delay_ms"].as_u64().unwrap_or(0),
            loss: value["loss"].as_f64().unwrap_or(0.0),
        };
        let mut net = arena.net()?.lock().expect("net lock");
        Ok(net.degrade(&fault.nodes, degradation)?)
    }

    fn heal(&self, _fault: &Fault, arena: &Arena) -> Result<(), NemesisError> {
        self.heal_all(arena)
    }

    fn heal_all(&self, arena: &Arena) -> Result<(), NemesisError> {
        let mut net = arena.net()?.lock().expect("net lock");
        let none = Degradation {
            delay_ms: 0,
            loss: 0.0,
        };
        Ok(net.degrade(&[], none)?)
    }
}
