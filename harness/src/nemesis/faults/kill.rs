//! `kill`: SIGKILL nodes (or the target's kill command), as a crash; restart
//! them with the same address and data when healed.

use crate::nemesis::NemesisError;
use crate::nemesis::fault::{Arena, Draw, Fault, FaultKind, FaultType};
use crate::target_file::TargetConfig;
use serde_json::json;

/// Crashes nodes.
pub struct Kill;

impl FaultType for Kill {
    fn name(&self) -> &'static str {
        "kill"
    }

    fn start_events(&self) -> &'static [&'static str] {
        &["kill"]
    }

    fn end_event(&self) -> &'static str {
        "start"
    }

    fn refused(&self, config: &TargetConfig) -> Option<String> {
        (!config.capabilities.kill).then(|| {
            format!(
                "{}'s config says capabilities.kill = false: no kill nemesis",
                config.name
            )
        })
    }

    fn draw(&self, draw: &mut Draw) -> Fault {
        let nodes = draw.targets();
        Fault {
            kind: FaultKind::of(&Kill),
            start: ("kill", json!(nodes)),
            end: ("start", json!(nodes)),
            description: format!("kill {}", nodes.join(",")),
            step_period: None,
            nodes,
        }
    }

    fn perform(&self, fault: &Fault, arena: &Arena) -> Result<(), NemesisError> {
        for node in &fault.nodes {
            arena.cluster.lock().expect("cluster lock").kill(node);
        }
        Ok(())
    }

    fn heal(&self, fault: &Fault, arena: &Arena) -> Result<(), NemesisError> {
        for node in &fault.nodes {
            arena.cluster.lock().expect("cluster lock").restart(node)?;
        }
        Ok(())
    }

    fn heal_all(&self, arena: &Arena) -> Result<(), NemesisError> {
        let mut cluster = arena.cluster.lock().expect("cluster lock");
        for node in &arena.nodes {
            if !cluster.running(node) {
                cluster.restart(node)?;
            }
        }
        Ok(())
    }
}
