//! Policy probes (`expect_failure`): the module states how the probe must fail, and the
//! finished report is judged against it. A probe that fails as stated passes; one that passes
//! every phase fails with `unexpected_success` in the last phase it ran; one that fails another
//! way keeps its real failure.

use crate::config::ExpectFailure;
use crate::report::{Expectation, Failure, FailureClass, Phase, ProbeReport, StepLog};

/// Judges `report` against `expect`, the module's `expect_failure`; a report of a module without
/// one, or of a target the restrictions refused, is left as it is.
pub(super) fn judge(expect: Option<&ExpectFailure>, report: &mut ProbeReport, log: &mut StepLog) {
    let Some(expect) = expect else {
        return;
    };
    if report.rejected.is_some() {
        return;
    }
    let expectation = match report.failure.take() {
        Some(failure) if expect.matches(&failure) => {
            log.note(format!("failed as the module expects: {failure}"));
            Expectation::Met(failure)
        }
        Some(failure) => {
            log.note(format!("failed, but not as the module expects: {failure}"));
            report.failure = Some(failure);
            Expectation::OtherFailure
        }
        None => {
            let last = report.phases.last().map_or(Phase::Connect, |(p, _)| *p);
            log.note(format!(
                "every phase passed, but the module expects the probe to fail: class {} in phase {last}",
                FailureClass::UnexpectedSuccess
            ));
            report.failure = Some(Failure::bare(last, FailureClass::UnexpectedSuccess));
            Expectation::UnexpectedSuccess
        }
    };
    report.expectation = Some(expectation);
}
