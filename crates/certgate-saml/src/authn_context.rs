//! Whether certgate can meet a `samlp:RequestedAuthnContext` (SAML core §3.3.2.2.1), and which
//! `AuthnContextClassRef` its assertion then states. Pure: the request and the kind of sign-in
//! in, a decision out.
//!
//! certgate signs in with a client certificate, optionally followed by a second factor, so it
//! can truthfully state three classes: `X509` and `TLSClient` (the same certificate sign-in,
//! named by two classes) and Microsoft's `multipleauthn` (certificate plus second factor). To
//! compare with what a service provider asks for, the classes certgate knows are ordered by
//! strength:
//!
//! | strength     | classes                                                              |
//! |--------------|----------------------------------------------------------------------|
//! | password     | `Password`, `PasswordProtectedTransport` (what a password would give) |
//! | certificate  | `X509`, `TLSClient`                                                   |
//! | multi-factor | `multipleauthn`, `wiaormultiauthn`, `MobileTwoFactorContract`, `TimeSyncToken` |
//!
//! Any other class (Kerberos, Smartcard, an SP's own URI) has no place in that order: certgate
//! cannot say whether it is weaker or stronger, so it never meets it.

use crate::assertion::AuthnContext;
use crate::request::{AuthnContextComparison, RequestedAuthnContext};

const PASSWORD_CLASSES: &[&str] = &[
    "urn:oasis:names:tc:SAML:2.0:ac:classes:Password",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
];
const CERTIFICATE_CLASSES: &[&str] = &[
    "urn:oasis:names:tc:SAML:2.0:ac:classes:X509",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:TLSClient",
];
/// The classes relying parties use to ask for multi-factor authentication; Entra ID sends
/// `multipleauthn`.
const MULTI_FACTOR_CLASSES: &[&str] = &[
    "http://schemas.microsoft.com/claims/multipleauthn",
    "http://schemas.microsoft.com/claims/wiaormultiauthn",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken",
];

/// A class's place in certgate's ordering, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Strength {
    Password,
    Certificate,
    MultiFactor,
}

fn strength_of(class_ref: &str) -> Option<Strength> {
    if PASSWORD_CLASSES.contains(&class_ref) {
        Some(Strength::Password)
    } else if CERTIFICATE_CLASSES.contains(&class_ref) {
        Some(Strength::Certificate)
    } else if MULTI_FACTOR_CLASSES.contains(&class_ref) {
        Some(Strength::MultiFactor)
    } else {
        None
    }
}

fn strength_stated(context: AuthnContext) -> Strength {
    match context {
        AuthnContext::X509 | AuthnContext::TlsClient => Strength::Certificate,
        AuthnContext::MultipleAuthn => Strength::MultiFactor,
        AuthnContext::PasswordProtectedTransport => Strength::Password,
    }
}

/// What sign-in a RequestedAuthnContext calls for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthnContextDecision {
    /// The certificate sign-in meets it (a second factor is asked for only when the user has
    /// one enrolled, as for any sign-in).
    CertificateSignIn,
    /// Only a multi-factor sign-in meets it: the second factor is always asked for.
    MultiFactorSignIn,
    /// Only a password class would do (`exact` Password or PasswordProtectedTransport, and no
    /// class certgate can state): the relying party's setting for password requests decides,
    /// as for WS-Federation's `wauth=password`.
    PasswordRequested,
    /// Nothing certgate can state meets it: the SP is answered with `NoAuthnContext`.
    Unsatisfiable,
}

impl RequestedAuthnContext {
    /// Whether an assertion stating `stated` meets this request:
    /// - `exact`: `stated` is one of the requested classes;
    /// - `minimum`: `stated` is at least as strong as one of them;
    /// - `better`: `stated` is stronger than one of them;
    /// - `maximum`: `stated` is no stronger than the strongest of them.
    ///
    /// Requested classes outside certgate's ordering count for `exact` only (where they never
    /// equal what certgate states).
    pub fn is_met_by(&self, stated: AuthnContext) -> bool {
        let stated_strength = strength_stated(stated);
        let mut requested = self.class_refs.iter().filter_map(|c| strength_of(c));
        match self.comparison {
            AuthnContextComparison::Exact => self.class_refs.iter().any(|c| c == stated.uri()),
            AuthnContextComparison::Minimum => requested.any(|r| r <= stated_strength),
            AuthnContextComparison::Better => requested.any(|r| r < stated_strength),
            AuthnContextComparison::Maximum => requested.any(|r| stated_strength <= r),
        }
    }

    /// What sign-in this request calls for.
    pub fn decide(&self) -> AuthnContextDecision {
        let names_multi_factor = self
            .class_refs
            .iter()
            .any(|c| strength_of(c) == Some(Strength::MultiFactor));
        // An SP that names a multi-factor class gets the second factor whenever stating
        // multipleauthn meets its request, even when a certificate alone would (`exact` X509
        // or multipleauthn; `maximum` multipleauthn): Entra ID's conditional access relies on
        // it, and asking for more than needed never weakens a sign-in.
        if names_multi_factor && self.is_met_by(AuthnContext::MultipleAuthn) {
            return AuthnContextDecision::MultiFactorSignIn;
        }
        if self.is_met_by(AuthnContext::X509) || self.is_met_by(AuthnContext::TlsClient) {
            return AuthnContextDecision::CertificateSignIn;
        }
        // `better` X509: only a stronger sign-in than the certificate alone.
        if self.is_met_by(AuthnContext::MultipleAuthn) {
            return AuthnContextDecision::MultiFactorSignIn;
        }
        if self.comparison == AuthnContextComparison::Exact
            && self
                .class_refs
                .iter()
                .any(|c| strength_of(c) == Some(Strength::Password))
        {
            return AuthnContextDecision::PasswordRequested;
        }
        AuthnContextDecision::Unsatisfiable
    }

    /// The class an assertion states for a sign-in that was (or was not) multi-factor: the
    /// first true statement that meets this request, strongest first. A multi-factor sign-in
    /// was also a certificate sign-in, so it may be stated as `X509` or `TLSClient` when the
    /// request caps or pins the class there. None when no true statement meets the request.
    pub fn statement_for(&self, multi_factor: bool) -> Option<AuthnContext> {
        let candidates: &[AuthnContext] = if multi_factor {
            &[
                AuthnContext::MultipleAuthn,
                AuthnContext::X509,
                AuthnContext::TlsClient,
            ]
        } else {
            &[AuthnContext::X509, AuthnContext::TlsClient]
        };
        candidates.iter().copied().find(|c| self.is_met_by(*c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AuthnContextComparison::{Better, Exact, Maximum, Minimum};
    use AuthnContextDecision::{
        CertificateSignIn, MultiFactorSignIn, PasswordRequested, Unsatisfiable,
    };

    const PASSWORD: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password";
    const PPT: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";
    const X509: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:X509";
    const TLS_CLIENT: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:TLSClient";
    const MULTIPLE_AUTHN: &str = "http://schemas.microsoft.com/claims/multipleauthn";
    const TIME_SYNC_TOKEN: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken";
    const KERBEROS: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:Kerberos";
    const SMARTCARD: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard";

    fn requested(comparison: AuthnContextComparison, classes: &[&str]) -> RequestedAuthnContext {
        RequestedAuthnContext {
            comparison,
            class_refs: classes.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    /// (classes, decision, statement after a single-factor sign-in, after a multi-factor one)
    type Case = (
        &'static [&'static str],
        AuthnContextDecision,
        Option<AuthnContext>,
        Option<AuthnContext>,
    );

    fn check(comparison: AuthnContextComparison, cases: &[Case]) {
        for (classes, decision, single, multi) in cases {
            let request = requested(comparison, classes);
            assert_eq!(request.decide(), *decision, "{comparison:?} {classes:?}");
            assert_eq!(
                request.statement_for(false),
                *single,
                "{comparison:?} {classes:?} single-factor"
            );
            assert_eq!(
                request.statement_for(true),
                *multi,
                "{comparison:?} {classes:?} multi-factor"
            );
        }
    }

    #[test]
    fn exact_needs_a_class_certgate_states() {
        use AuthnContext::{MultipleAuthn, TlsClient, X509 as X};
        check(
            Exact,
            &[
                (&[X509], CertificateSignIn, Some(X), Some(X)),
                (
                    &[TLS_CLIENT],
                    CertificateSignIn,
                    Some(TlsClient),
                    Some(TlsClient),
                ),
                (&[KERBEROS, X509], CertificateSignIn, Some(X), Some(X)),
                (
                    &[MULTIPLE_AUTHN],
                    MultiFactorSignIn,
                    None,
                    Some(MultipleAuthn),
                ),
                (
                    &[X509, MULTIPLE_AUTHN],
                    MultiFactorSignIn,
                    Some(X),
                    Some(MultipleAuthn),
                ),
                (&[PPT], PasswordRequested, None, None),
                (&[PASSWORD], PasswordRequested, None, None),
                (&[PPT, X509], CertificateSignIn, Some(X), Some(X)),
                (&[KERBEROS], Unsatisfiable, None, None),
                (&[SMARTCARD, KERBEROS], Unsatisfiable, None, None),
                // A multi-factor class certgate cannot state word for word.
                (&[TIME_SYNC_TOKEN], Unsatisfiable, None, None),
            ],
        );
    }

    #[test]
    fn minimum_is_met_by_a_class_at_least_as_strong() {
        use AuthnContext::{MultipleAuthn, X509 as X};
        check(
            Minimum,
            &[
                // Microsoft 365's default request: met by the certificate.
                (&[PPT], CertificateSignIn, Some(X), Some(MultipleAuthn)),
                (&[PASSWORD], CertificateSignIn, Some(X), Some(MultipleAuthn)),
                (&[X509], CertificateSignIn, Some(X), Some(MultipleAuthn)),
                (
                    &[TLS_CLIENT],
                    CertificateSignIn,
                    Some(X),
                    Some(MultipleAuthn),
                ),
                (
                    &[MULTIPLE_AUTHN],
                    MultiFactorSignIn,
                    None,
                    Some(MultipleAuthn),
                ),
                (
                    &[TIME_SYNC_TOKEN],
                    MultiFactorSignIn,
                    None,
                    Some(MultipleAuthn),
                ),
                (&[KERBEROS], Unsatisfiable, None, None),
                (
                    &[KERBEROS, PPT],
                    CertificateSignIn,
                    Some(X),
                    Some(MultipleAuthn),
                ),
            ],
        );
    }

    #[test]
    fn better_needs_a_strictly_stronger_class() {
        use AuthnContext::{MultipleAuthn, X509 as X};
        check(
            Better,
            &[
                (&[PPT], CertificateSignIn, Some(X), Some(MultipleAuthn)),
                // Only a second factor is stronger than the certificate alone.
                (&[X509], MultiFactorSignIn, None, Some(MultipleAuthn)),
                (&[TLS_CLIENT], MultiFactorSignIn, None, Some(MultipleAuthn)),
                (&[MULTIPLE_AUTHN], Unsatisfiable, None, None),
                (&[SMARTCARD], Unsatisfiable, None, None),
            ],
        );
    }

    #[test]
    fn maximum_caps_the_class_stated() {
        use AuthnContext::{MultipleAuthn, X509 as X};
        check(
            Maximum,
            &[
                // A multi-factor sign-in is stated as the certificate sign-in it also was.
                (&[X509], CertificateSignIn, Some(X), Some(X)),
                (&[TLS_CLIENT], CertificateSignIn, Some(X), Some(X)),
                (
                    &[MULTIPLE_AUTHN],
                    MultiFactorSignIn,
                    Some(X),
                    Some(MultipleAuthn),
                ),
                (&[PPT], Unsatisfiable, None, None),
                (&[PASSWORD, PPT], Unsatisfiable, None, None),
                (&[KERBEROS], Unsatisfiable, None, None),
                (&[KERBEROS, X509], CertificateSignIn, Some(X), Some(X)),
            ],
        );
    }

    #[test]
    fn every_statement_chosen_meets_the_request() {
        let classes = [
            PASSWORD,
            PPT,
            X509,
            TLS_CLIENT,
            MULTIPLE_AUTHN,
            TIME_SYNC_TOKEN,
            KERBEROS,
        ];
        for comparison in [Exact, Minimum, Better, Maximum] {
            for first in classes {
                for second in classes {
                    let request = requested(comparison, &[first, second]);
                    for multi_factor in [false, true] {
                        if let Some(stated) = request.statement_for(multi_factor) {
                            assert!(request.is_met_by(stated), "{request:?} {stated:?}");
                        }
                    }
                    // A sign-in the decision leads to can always be stated.
                    match request.decide() {
                        CertificateSignIn => {
                            assert!(request.statement_for(false).is_some(), "{request:?}");
                            assert!(request.statement_for(true).is_some(), "{request:?}");
                        }
                        MultiFactorSignIn => {
                            assert!(request.statement_for(true).is_some(), "{request:?}")
                        }
                        PasswordRequested | Unsatisfiable => {
                            assert_eq!(request.statement_for(true), None, "{request:?}")
                        }
                    }
                }
            }
        }
    }
}
