//! The WS-Federation passive requestor's query parameters (WS-Federation 1.2 §13.2.1
//! parameter encoding, §13.2.2 sign-in request, §13.2.4 sign-out request; Microsoft's
//! profile of them in MS-MWBF), parsed from already URL-decoded pairs into a typed request.
//!
//! Everything here is untrusted input. The parser refuses rather than guesses: a parameter
//! given twice (which copy a proxy or framework would pick differs), an unknown `wa`, values
//! longer than certgate echoes back, and values in the wrong form, each with a stable code.
//! Parameters that are not WS-Federation's are ignored: Entra ID adds its own
//! (`client-request-id`, `username`, ...). An empty value counts as absent, because some
//! relying parties send every parameter, empty when unset.
//!
//! What the parser cannot know is left to the caller: whether `wtrealm` is a configured
//! relying party, and whether `wreply` belongs to it (§13.2.2: the IP/STS must check that
//! before sending anything there; otherwise it is an open redirect carrying a token).

use certgate_pki::UnixTime;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::SamlError;

/// `wctx` is opaque relying-party state that certgate posts back unchanged. Entra ID's
/// (`LoginOptions=…&estsredirect=…&estsrequest=…`) carries its own serialized request and is
/// commonly over 1 KiB, so it gets more room than the other parameters.
const CONTEXT_LIMIT: usize = 4096;
/// Every other parameter is a URI, a time or a number: 1 KiB is ample.
const VALUE_LIMIT: usize = 1024;

/// A WS-Federation passive request, by its `wa` action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WsFedRequest {
    /// `wa=wsignin1.0` (§13.2.2).
    SignIn(SignInRequest),
    /// `wa=wsignout1.0` (§13.2.4): the user signs out; clean up the session and the relying
    /// parties signed in through it.
    SignOut(SignOutRequest),
    /// `wa=wsignoutcleanup1.0` (§13.2.4): a sign-out initiated elsewhere; clean up local state.
    SignOutCleanup(SignOutRequest),
}

/// The parameters of `wa=wsignin1.0`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignInRequest {
    /// `wtrealm` (required): the relying party's realm URI, the token's Audience.
    pub realm: String,
    /// `wreply`: where the relying party wants the response posted. Unverified.
    pub reply: Option<String>,
    /// `wctx`: opaque state to return unchanged.
    pub context: Option<String>,
    /// `wct`: the relying party's clock when it sent the request.
    pub requestor_time: Option<UnixTime>,
    /// `wauth`: the authentication method the relying party asks for.
    pub requested_authentication: Option<RequestedAuthentication>,
    /// `wfresh`: the maximum age of the authentication the relying party accepts.
    pub freshness: Option<Freshness>,
    /// `whr`: the home realm (the account's identity provider) the user is directed to.
    pub home_realm: Option<String>,
}

/// The parameters of `wa=wsignout1.0` and `wa=wsignoutcleanup1.0`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignOutRequest {
    /// `wreply`: where to send the browser afterwards. Unverified.
    pub reply: Option<String>,
}

/// What a `wauth` URI asks for, by class (anchors §3 "prompt=login, wauth and wfresh"): a
/// certificate server meets `Certificate` with the certificate sign-in, and must treat
/// `Password` as a conflict (Entra sends it for `promptLoginBehavior =
/// TranslateToFreshPasswordAuth`) rather than silently satisfy it with a certificate.
/// URIs are compared exactly, as URIs are case-sensitive beyond scheme and host and no sender
/// varies these.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RequestedAuthentication {
    /// WIF `…/authenticationmethod/tlsclient` and `…/x509`, SAML 1.1 `urn:ietf:rfc:2246` (TLS)
    /// and `urn:oasis:names:tc:SAML:1.0:am:X509-PKI` (a key certified by an X.509 PKI, SAML 1.1
    /// core §7.1), SAML 2.0 `…:ac:classes:TLSClient` and `…:X509`.
    Certificate,
    /// WIF `…/authenticationmethod/password`, SAML 1.1 `urn:oasis:names:tc:SAML:1.0:am:password`,
    /// SAML 2.0 `…:ac:classes:Password` and `…:PasswordProtectedTransport`.
    Password,
    /// `http://schemas.microsoft.com/claims/multipleauthn`.
    MultiFactor,
    /// Anything else (Windows, Kerberos, a relying party's own), kept as sent.
    Other(String),
}

const WIF_METHOD: &str = "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/";
const SAML2_CLASS: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:";

impl RequestedAuthentication {
    /// Classifies a `wauth` URI.
    pub fn classify(uri: &str) -> Self {
        let wif = uri.strip_prefix(WIF_METHOD);
        let saml2 = uri.strip_prefix(SAML2_CLASS);
        match (uri, wif, saml2) {
            (_, Some("tlsclient" | "x509"), _)
            | ("urn:ietf:rfc:2246" | "urn:oasis:names:tc:SAML:1.0:am:X509-PKI", _, _)
            | (_, _, Some("TLSClient" | "X509")) => RequestedAuthentication::Certificate,
            (_, Some("password"), _)
            | ("urn:oasis:names:tc:SAML:1.0:am:password", _, _)
            | (_, _, Some("Password" | "PasswordProtectedTransport")) => {
                RequestedAuthentication::Password
            }
            ("http://schemas.microsoft.com/claims/multipleauthn", _, _) => {
                RequestedAuthentication::MultiFactor
            }
            _ => RequestedAuthentication::Other(uri.to_owned()),
        }
    }
}

/// `wfresh`: the maximum authentication age in minutes (§13.2.2). `0` asks the IdP to prompt
/// again before issuing, which is what Entra ID sends for `prompt=login`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Freshness(u32);

impl Freshness {
    /// The accepted authentication age in minutes.
    pub fn max_age_minutes(self) -> u32 {
        self.0
    }

    /// `wfresh=0`: an existing session does not do; the user must sign in again.
    pub fn requires_new_sign_in(self) -> bool {
        self.0 == 0
    }
}

/// The WS-Federation parameters this parser reads; anything else in the query is ignored.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Parameter {
    Action,
    Realm,
    Reply,
    Context,
    RequestorTime,
    Authentication,
    Freshness,
    HomeRealm,
}

const PARAMETERS: [(Parameter, &str); 8] = [
    (Parameter::Action, "wa"),
    (Parameter::Realm, "wtrealm"),
    (Parameter::Reply, "wreply"),
    (Parameter::Context, "wctx"),
    (Parameter::RequestorTime, "wct"),
    (Parameter::Authentication, "wauth"),
    (Parameter::Freshness, "wfresh"),
    (Parameter::HomeRealm, "whr"),
];

/// The non-empty WS-Federation values of one query, each seen at most once.
struct Values<'a>([Option<&'a str>; PARAMETERS.len()]);

impl<'a> Values<'a> {
    fn collect(query: &'a [(String, String)]) -> Result<Self, SamlError> {
        let mut seen = [false; PARAMETERS.len()];
        let mut values = [None; PARAMETERS.len()];
        for (name, value) in query {
            let Some(index) = PARAMETERS.iter().position(|(_, known)| known == name) else {
                continue;
            };
            let (parameter, name) = PARAMETERS[index];
            if seen[index] {
                return Err(SamlError::WsFedParameterDuplicated { parameter: name });
            }
            seen[index] = true;
            let limit = if parameter == Parameter::Context {
                CONTEXT_LIMIT
            } else {
                VALUE_LIMIT
            };
            if value.len() > limit {
                return Err(SamlError::WsFedParameterTooLong {
                    parameter: name,
                    length: value.len(),
                    limit,
                });
            }
            // Every value may end up in XML or HTML that certgate writes.
            let unwritable = |c: &char| c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}');
            if let Some(c) = value.chars().find(unwritable) {
                return Err(SamlError::WsFedParameterInvalid {
                    parameter: name,
                    reason: format!("contains the character U+{:04X}", u32::from(c)),
                });
            }
            if !value.is_empty() {
                values[index] = Some(value.as_str());
            }
        }
        Ok(Values(values))
    }

    fn get(&self, parameter: Parameter) -> Option<&'a str> {
        PARAMETERS
            .iter()
            .position(|(known, _)| *known == parameter)
            .and_then(|index| self.0[index])
    }
}

impl WsFedRequest {
    /// Parses the URL-decoded query pairs of a request to the passive endpoint.
    pub fn parse(query: &[(String, String)]) -> Result<Self, SamlError> {
        let values = Values::collect(query)?;
        let action = values
            .get(Parameter::Action)
            .ok_or(SamlError::WsFedParameterMissing { parameter: "wa" })?;
        let reply = values
            .get(Parameter::Reply)
            .map(|uri| absolute_uri("wreply", uri))
            .transpose()?;
        match action {
            "wsignin1.0" => {
                let realm =
                    values
                        .get(Parameter::Realm)
                        .ok_or(SamlError::WsFedParameterMissing {
                            parameter: "wtrealm",
                        })?;
                Ok(WsFedRequest::SignIn(SignInRequest {
                    realm: absolute_uri("wtrealm", realm)?,
                    reply,
                    context: values.get(Parameter::Context).map(str::to_owned),
                    requestor_time: values
                        .get(Parameter::RequestorTime)
                        .map(requestor_time)
                        .transpose()?,
                    requested_authentication: values
                        .get(Parameter::Authentication)
                        .map(|uri| {
                            absolute_uri("wauth", uri)
                                .map(|uri| RequestedAuthentication::classify(&uri))
                        })
                        .transpose()?,
                    freshness: values
                        .get(Parameter::Freshness)
                        .map(freshness)
                        .transpose()?,
                    home_realm: values.get(Parameter::HomeRealm).map(str::to_owned),
                }))
            }
            "wsignout1.0" => Ok(WsFedRequest::SignOut(SignOutRequest { reply })),
            "wsignoutcleanup1.0" => Ok(WsFedRequest::SignOutCleanup(SignOutRequest { reply })),
            other => Err(SamlError::WsFedUnknownAction {
                action: other.to_owned(),
            }),
        }
    }
}

/// An absolute URI: an RFC 3986 §3.1 scheme, `:`, and no whitespace. Enough to refuse a
/// relative path or a mangled value; matching against configuration is the caller's job.
fn absolute_uri(parameter: &'static str, value: &str) -> Result<String, SamlError> {
    let scheme_ok = value.split_once(':').is_some_and(|(scheme, rest)| {
        let mut bytes = scheme.bytes();
        bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
            && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
            && !rest.is_empty()
    });
    if scheme_ok && !value.chars().any(char::is_whitespace) {
        Ok(value.to_owned())
    } else {
        Err(SamlError::WsFedParameterInvalid {
            parameter,
            reason: "not an absolute URI".into(),
        })
    }
}

/// `wct`: an `xs:dateTime` with a time zone (§13.2.2 asks for UTC; an explicit offset is
/// unambiguous too, a missing one is not). RFC 3339 is that form, except that it also allows
/// lowercase `t` and `z` and a space for the `T`, which xs:dateTime does not.
fn requestor_time(value: &str) -> Result<UnixTime, SamlError> {
    let invalid = |reason: &str| SamlError::WsFedParameterInvalid {
        parameter: "wct",
        reason: format!("{reason}: \"{}\"", value.escape_debug()),
    };
    if value.as_bytes().get(10) != Some(&b'T') || value.contains(['t', 'z']) {
        return Err(invalid("not an xs:dateTime"));
    }
    let at = OffsetDateTime::parse(value, &Rfc3339)
        .map_err(|_| invalid("not an xs:dateTime with a time zone"))?;
    Ok(UnixTime(at.unix_timestamp()))
}

/// `wfresh`: decimal digits only (no sign, no spaces), as a number of minutes.
fn freshness(value: &str) -> Result<Freshness, SamlError> {
    let invalid = || SamlError::WsFedParameterInvalid {
        parameter: "wfresh",
        reason: format!(
            "\"{}\" is not a non-negative whole number of minutes up to {}",
            value.escape_debug(),
            u32::MAX
        ),
    };
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    value.parse().map(Freshness).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn wfresh_accepts_digits_only() {
        assert_eq!(freshness("0").unwrap(), Freshness(0));
        assert_eq!(freshness("0030").unwrap().max_age_minutes(), 30);
        for bad in ["-1", "+1", " 1", "1.5", "4294967296", "x"] {
            assert!(freshness(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn wct_parses_utc_and_offsets_and_refuses_local_time() {
        assert_eq!(
            requestor_time("2026-03-01T12:00:00Z").unwrap(),
            UnixTime(1_772_366_400)
        );
        assert_eq!(
            requestor_time("2026-03-01T13:00:00.250+01:00").unwrap(),
            UnixTime(1_772_366_400)
        );
        for bad in [
            "2026-03-01T12:00:00",
            "2026-03-01t12:00:00Z",
            "2026-03-01T12:00:00z",
            "2026-03-01 12:00:00Z",
            "2026-03-01",
            "1772366400",
            "2026-02-30T12:00:00Z",
        ] {
            assert!(requestor_time(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn absolute_uri_needs_a_scheme() {
        assert!(absolute_uri("p", "urn:federation:MicrosoftOnline").is_ok());
        assert!(absolute_uri("p", "https://a.example/x?y=1").is_ok());
        for bad in [
            "/relative",
            "a.example",
            "1http://x",
            ":x",
            "https:",
            "http://a b",
        ] {
            assert!(absolute_uri("p", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn values_that_are_not_parameters_are_ignored() {
        let parsed = WsFedRequest::parse(&query(&[
            ("client-request-id", "1"),
            ("client-request-id", "2"),
            ("wa", "wsignout1.0"),
            ("username", &"x".repeat(5000)),
        ]))
        .unwrap();
        assert_eq!(
            parsed,
            WsFedRequest::SignOut(SignOutRequest { reply: None })
        );
    }
}
