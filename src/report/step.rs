//! Which `query_response` step a failed dialogue stopped at: its index in the module's list and
//! what it was doing, as `probe_query_failed_step_info{step, kind}` labels them.

use std::fmt;

/// What a `query_response` step was doing when the dialogue failed; `as_str()` is the `kind`
/// label value, the name of the step's key in the module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepKind {
    /// Reading lines until one matches `expect`.
    Expect,
    /// Reading the bytes of `expect_bytes`.
    ExpectBytes,
    /// Writing `send`.
    Send,
    /// The STARTTLS handshake of `starttls: true`.
    Starttls,
}

impl StepKind {
    /// Every kind, in the order a step runs them.
    pub const ALL: [StepKind; 4] = [
        StepKind::Expect,
        StepKind::ExpectBytes,
        StepKind::Send,
        StepKind::Starttls,
    ];

    /// The `kind` label value: `expect`, `expect_bytes`, `send` or `starttls`.
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Expect => "expect",
            StepKind::ExpectBytes => "expect_bytes",
            StepKind::Send => "send",
            StepKind::Starttls => "starttls",
        }
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The step a failed `query_response` dialogue stopped at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryStep {
    /// Index in the module's `query_response` list, from 0 (as load errors name it:
    /// `query_response[2]`); bounded by the module's own list.
    pub index: usize,
    /// What the step was doing.
    pub kind: StepKind,
}

impl fmt::Display for QueryStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "query_response[{}] ({})", self.index, self.kind)
    }
}
