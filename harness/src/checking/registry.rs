//! The checker registry: every checker faultline runs, each a history in and
//! a typed report out, in the order they run (a later one may use an earlier
//! one's verdict: the weak models skip what linearizability already proved).
//! A workload names the checkers that judge it; a history from elsewhere is
//! judged by those that fit its operations. A new checker is one
//! implementation and one line in [`ALL`].

use super::{CheckError, Checkers, LINEARIZABLE, PROFILE, TRANSACTIONAL};
use checkers::Validity;
use checkers::linearizable;
use checkers::txn::{self, TxnOptions};
use checkers::weak;
use histories::History;

/// What a check is asked for.
pub struct Request<'a> {
    /// The linearizability search's options (model, budget, threads).
    pub linearizable: &'a linearizable::Options,
    /// The transactional checker's options (isolation model, budget).
    pub transactional: &'a TxnOptions,
    /// The consistency models asked for (`--models`).
    pub models: &'a [&'a str],
}

/// A checker.
pub trait Checker: Sync {
    /// Its name, as workloads and results name it.
    fn name(&self) -> &'static str;
    /// Whether `history`'s operations are of the kind it judges.
    fn fits(&self, history: &History) -> bool;
    /// Judges `history`, adding its report to `into`.
    ///
    /// # Errors
    /// The history does not fit the checker (a message naming the line).
    fn check(
        &self,
        history: &History,
        request: &Request,
        into: &mut Checkers,
    ) -> Result<(), CheckError>;
}

/// Every checker, in the order they run.
pub const ALL: &[&dyn Checker] = &[&Linearizable, &Profile, &Transactional];

/// The checker named `name`.
pub fn by_name(name: &str) -> Option<&'static dyn Checker> {
    ALL.iter().copied().find(|checker| checker.name() == name)
}

/// Whether a history is made of transactions (its first operation is a `txn`).
pub fn transactional(history: &History) -> bool {
    history
        .operations
        .first()
        .is_some_and(|operation| history.invocation(operation).f == "txn")
}

/// Linearizability per key (Knossos-style search).
struct Linearizable;

impl Checker for Linearizable {
    fn name(&self) -> &'static str {
        LINEARIZABLE
    }

    fn fits(&self, history: &History) -> bool {
        !transactional(history)
    }

    fn check(
        &self,
        history: &History,
        request: &Request,
        into: &mut Checkers,
    ) -> Result<(), CheckError> {
        if request.models.contains(&LINEARIZABLE) {
            into.linearizable = Some(
                linearizable::check(history, request.linearizable)
                    .map_err(|error| CheckError::Unfit(error.to_string()))?,
            );
        }
        Ok(())
    }
}

/// The weak models of the consistency profile: sequential, causal, session.
struct Profile;

impl Checker for Profile {
    fn name(&self) -> &'static str {
        PROFILE
    }

    fn fits(&self, history: &History) -> bool {
        !transactional(history)
    }

    fn check(
        &self,
        history: &History,
        request: &Request,
        into: &mut Checkers,
    ) -> Result<(), CheckError> {
        if !weak::MODELS
            .iter()
            .any(|model| request.models.contains(model))
        {
            return Ok(());
        }
        let known = into
            .linearizable
            .as_ref()
            .is_some_and(|report| report.valid == Validity::Valid);
        into.profile =
            weak::check_given(history, request.models, &request.linearizable.budget, known);
        Ok(())
    }
}

/// Transactional isolation (Elle-style cycles).
struct Transactional;

impl Checker for Transactional {
    fn name(&self) -> &'static str {
        TRANSACTIONAL
    }

    fn fits(&self, history: &History) -> bool {
        transactional(history)
    }

    fn check(
        &self,
        history: &History,
        request: &Request,
        into: &mut Checkers,
    ) -> Result<(), CheckError> {
        into.transactional = Some(
            txn::check(history, request.transactional)
                .map_err(|error| CheckError::Unfit(error.to_string()))?,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A register history checked for linearizability alone runs no analysis
    /// of the weak models (counted, not timed); asked for one, it does.
    #[test]
    fn a_linearizability_check_runs_no_weak_analysis() {
        use histories::HistoryBuilder;
        use serde_json::json;
        // p1 reads the initial value after p0's write completed: not
        // linearizable, and not even read-your-writes-clean for the weak
        // models to skip by implication.
        let history = HistoryBuilder::new()
            .invoke(0, "write", json!(1))
            .ok(0, "write", json!(1))
            .invoke(1, "read", json!(null))
            .ok(1, "read", json!(null))
            .invoke(0, "read", json!(null))
            .ok(0, "read", json!(null))
            .build()
            .unwrap();
        let options = linearizable::Options::new(checkers::ModelKind::CasRegister);
        let txn_options = TxnOptions::default();
        let check = |models: &[&str]| {
            weak::work::take();
            let checkers =
                crate::checking::check_history(&history, &options, &txn_options, models, None)
                    .unwrap();
            (checkers, weak::work::take())
        };
        let (checkers, work) = check(&[LINEARIZABLE]);
        assert_eq!(checkers.linearizable.unwrap().valid, Validity::Invalid);
        assert!(work.is_empty(), "weak analyses ran: {work:?}");
        let (_, work) = check(&[LINEARIZABLE, "read-your-writes"]);
        assert_eq!(
            work.into_keys().collect::<Vec<_>>(),
            ["clocks", "ops", "sessions"]
        );
    }

    #[test]
    fn every_checker_is_registered_once_and_found_by_name() {
        for checker in ALL {
            assert!(std::ptr::addr_eq(
                by_name(checker.name()).unwrap(),
                *checker
            ));
        }
        for workload in crate::workload::ALL {
            for name in workload.checkers() {
                assert!(by_name(name).is_some(), "{} names {name}", workload.name());
            }
        }
    }
}
