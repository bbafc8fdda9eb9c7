//! `clock`: move nodes' wall clocks through libfaketime — a bump (each node
//! its own offset) or a strobe (flipping between two offsets) — and set them
//! back to real time when healed.

use crate::nemesis::NemesisError;
use crate::nemesis::fault::{Arena, Draw, Fault, FaultKind, FaultType, Needs};
use crate::rng::Rng;
use crate::target_file::TargetConfig;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

/// The event that sets nodes' clocks to offsets.
pub const BUMP: &str = "bump";
/// The event that flips nodes' clocks between two offsets.
pub const STROBE: &str = "strobe";
/// The event that sets clocks back to real time.
pub const RESET: &str = "reset";

/// Skews clocks.
pub struct Clock;

impl FaultType for Clock {
    fn name(&self) -> &'static str {
        "clock"
    }

    fn start_events(&self) -> &'static [&'static str] {
        &[BUMP, STROBE]
    }

    fn end_event(&self) -> &'static str {
        RESET
    }

    fn needs(&self) -> Needs {
        Needs {
            clocks: true,
            ..Needs::default()
        }
    }

    fn refused(&self, config: &TargetConfig) -> Option<String> {
        if !config.capabilities.clock {
            return Some(format!(
                "the clock nemesis cannot skew {}'s clocks: {}; its config says capabilities.clock = false",
                config.name,
                config
                    .capabilities
                    .clock_note
                    .as_deref()
                    .unwrap_or("libfaketime does not reach its clock")
            ));
        }
        crate::clock::library().err().map(|error| error.to_string())
    }

    fn draw(&self, draw: &mut Draw) -> Fault {
        let nodes = draw.targets();
        let limit_s = draw.options.clock_offset_s;
        // Up to the limit either way, to the millisecond.
        let offset = |rng: &mut Rng| {
            let fraction = rng.below(2001) as f64 / 1000.0 - 1.0;
            (fraction * limit_s * 1000.0).round() / 1000.0
        };
        let end = (RESET, json!(nodes));
        if draw.rng.chance(0.5) {
            let offsets: BTreeMap<String, f64> = nodes
                .iter()
                .map(|node| (node.clone(), offset(draw.rng)))
                .collect();
            Fault {
                kind: FaultKind::of(&Clock),
                start: (BUMP, json!(offsets)),
                end,
                description: format!("clock bump {}", nodes.join(",")),
                step_period: None,
                nodes,
            }
        } else {
            let (low_s, high_s) = (offset(draw.rng), offset(draw.rng));
            let period_ms = 100 + draw.rng.below(400);
            Fault {
                kind: FaultKind::of(&Clock),
                start: (
                    STROBE,
                    json!({"nodes": nodes, "offsets": [low_s, high_s], "period_ms": period_ms}),
                ),
                end,
                description: format!("clock strobe {}", nodes.join(",")),
                step_period: Some(Duration::from_millis(period_ms)),
                nodes,
            }
        }
    }

    fn perform(&self, fault: &Fault, arena: &Arena) -> Result<(), NemesisError> {
        match fault.start.0 {
            BUMP => {
                let clocks = arena.clocks()?;
                for (node, offset) in fault.start.1.as_object().into_iter().flatten() {
                    clocks.set(node, offset.as_f64().unwrap_or(0.0))?;
                }
                Ok(())
            }
            _ => self.step(fault, 0, arena),
        }
    }

    /// A strobe's `step`-th flip: high first, then low, and so on.
    fn step(&self, fault: &Fault, step: u64, arena: &Arena) -> Result<(), NemesisError> {
        if fault.start.0 != STROBE {
            return Ok(());
        }
        let offsets = &fault.start.1["offsets"];
        let index = if step % 2 == 0 { 1 } else { 0 };
        let offset = offsets[index].as_f64().unwrap_or(0.0);
        let clocks = arena.clocks()?;
        for node in &fault.nodes {
            clocks.set(node, offset)?;
        }
        Ok(())
    }

    fn heal(&self, fault: &Fault, arena: &Arena) -> Result<(), NemesisError> {
        let clocks = arena.clocks()?;
        for node in &fault.nodes {
            clocks.set(node, 0.0)?;
        }
        Ok(())
    }

    fn heal_all(&self, arena: &Arena) -> Result<(), NemesisError> {
        let clocks = arena.clocks()?;
        for node in &arena.nodes {
            clocks.set(node, 0.0)?;
        }
        Ok(())
    }
}
