//! `pause`: SIGSTOP nodes (or the target's pause command); SIGCONT them when
//! healed.

use crate::nemesis::NemesisError;
use crate::nemesis::fault::{Arena, Draw, Fault, FaultKind, FaultType};
use crate::target_file::TargetConfig;
use nix::sys::signal::Signal;
use serde_json::json;

/// Freezes nodes.
pub struct Pause;

impl FaultType for Pause {
    fn name(&self) -> &'static str {
        "pause"
    }

    fn start_events(&self) -> &'static [&'static str] {
        &["pause"]
    }

    fn end_event(&self) -> &'static str {
        "resume"
    }

    fn refused(&self, config: &TargetConfig) -> Option<String> {
        (!config.capabilities.pause).then(|| {
            format!(
                "{}'s config says capabilities.pause = false: no pause nemesis",
                config.name
            )
        })
    }

    fn draw(&self, draw: &mut Draw) -> Fault {
        let nodes = draw.targets();
        Fault {
            kind: FaultKind::of(&Pause),
            start: ("pause", json!(nodes)),
            end: ("resume", json!(nodes)),
            description: format!("pause {}", nodes.join(",")),
            step_period: None,
            nodes,
        }
    }

    fn perform(&self, fault: &Fault, arena: &Arena) -> Result<(), NemesisError> {
        for node in &fault.nodes {
            let mut cluster = arena.cluster.lock().expect("cluster lock");
            cluster.signal(node, Signal::SIGSTOP);
        }
        Ok(())
    }

    fn heal(&self, fault: &Fault, arena: &Arena) -> Result<(), NemesisError> {
        for node in &fault.nodes {
            let mut cluster = arena.cluster.lock().expect("cluster lock");
            cluster.signal(node, Signal::SIGCONT);
        }
        Ok(())
    }

    fn heal_all(&self, arena: &Arena) -> Result<(), NemesisError> {
        let mut cluster = arena.cluster.lock().expect("cluster lock");
        for node in &arena.nodes {
            if cluster.running(node) {
                cluster.signal(node, Signal::SIGCONT);
            }
        }
        Ok(())
    }
}
