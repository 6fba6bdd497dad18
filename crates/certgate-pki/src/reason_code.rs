//! The entry of the reason-code reference. It lives in this crate, the one every other
//! certgate crate depends on, so that each crate's error enums can list their own codes.

/// One stable reason code, what it means and what to do about it. Every error enum with a
/// `code()` lists each code it answers with in a `CODES` constant of these; each crate gathers
/// its enums' lists in `reason_codes()`, and `docs/reason-codes.md` is generated from them all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReasonCode {
    /// Stable and kebab-case: clients, scripts and the audit log key on it.
    pub code: &'static str,
    /// What happened, in a sentence or two.
    pub meaning: &'static str,
    /// What the person who meets it (or their administrator) should do.
    pub what_to_do: &'static str,
}

impl ReasonCode {
    /// A code with its meaning and advice; `const` so that `CODES` lists are constants.
    pub const fn new(
        code: &'static str,
        meaning: &'static str,
        what_to_do: &'static str,
    ) -> ReasonCode {
        ReasonCode {
            code,
            meaning,
            what_to_do,
        }
    }
}

/// The codes of one error type: its path (for the reference) and its `CODES`.
pub type CodeList = (&'static str, &'static [ReasonCode]);
