//! The Microsoft 365 (Entra ID) WS-Federation preset: the SAML 1.1 Assertion AD FS's
//! "Microsoft Office 365 Identity Platform" relying-party trust issues (anchors §3,
//! "WS-Federation", "MFA claim", "Certificate claims for revocation"), for a certificate
//! sign-in.

use certgate_pki::UnixTime;

use crate::assertion::{NameId, NameIdFormat, Validity};
use crate::canonical::check_required;
use crate::error::SamlError;
use crate::id::MessageId;
use crate::microsoft365::AUDIENCE;
use crate::wsfed::saml11::{AuthenticationMethod, Claim, ClaimType, Saml11Assertion};

/// The user's UPN, which Entra matches against `userPrincipalName`.
pub const UPN: &str = "http://schemas.xmlsoap.org/claims/UPN";
/// The user's `onPremisesImmutableId`.
pub const IMMUTABLE_ID: &str = "http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID";
/// The client certificate's serial number; Entra copies it into the refresh token and checks
/// it against the issuer's CRL.
pub const CERTIFICATE_SERIAL_NUMBER: &str =
    "http://schemas.microsoft.com/ws/2008/06/identity/claims/serialnumber";
/// The client certificate's issuer, which selects the CRL Entra checks.
pub const CERTIFICATE_ISSUER: &str =
    "http://schemas.microsoft.com/2012/12/certificatecontext/field/issuer";
/// Every method the sign-in used (AD FS's A-POL claim).
pub const AUTHENTICATION_METHODS_REFERENCES: &str =
    "http://schemas.microsoft.com/claims/authnmethodsreferences";

/// How the user signed in to certgate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignInMethod {
    /// The client certificate alone.
    Certificate,
    /// The client certificate and a second factor (TOTP): multi-factor, which Entra accepts
    /// as MFA done by the federated IdP (`federatedIdpMfaBehavior`).
    CertificateAndSecondFactor,
}

/// The certificate claims Entra needs to revoke refresh tokens with the CRL, in the forms
/// AD FS writes them (the caller formats them from the presented certificate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateClaims {
    /// The serial number as uppercase hexadecimal without separators (.NET
    /// `X509Certificate2.SerialNumber`).
    pub serial_number: String,
    /// The issuer's distinguished name as a string (.NET `X509Certificate2.Issuer`, e.g.
    /// `CN=Contoso Issuing CA, O=Contoso`).
    pub issuer: String,
}

/// The SAML 1.1 Assertion for Microsoft 365.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Microsoft365WsFedAssertion {
    /// `AssertionID`.
    pub id: MessageId,
    /// The federated domain's `issuerUri`.
    pub issuer_uri: String,
    /// The user's `onPremisesImmutableId` exactly as Entra stores it (typically the base64
    /// objectGUID, `+` and `/` included). AD FS sends it unescaped over WS-Federation; the
    /// `.2B` escaping of [`crate::ImmutableId`] belongs to Entra's SAML 2.0 integration.
    pub immutable_id: String,
    /// Must equal the user's `userPrincipalName` in Entra.
    pub upn: String,
    /// IssueInstant and the Conditions window; the RSTR's Lifetime repeats it.
    pub validity: Validity,
    /// When the user signed in (Entra's sign-in frequency reads it).
    pub authentication_instant: UnixTime,
    /// Chooses `AuthenticationMethod` and the `authnmethodsreferences` values.
    pub sign_in_method: SignInMethod,
    /// The presented client certificate's serial number and issuer.
    pub certificate: CertificateClaims,
}

impl Microsoft365WsFedAssertion {
    /// The generic assertion: audience `urn:federation:MicrosoftOnline`, persistent
    /// NameIdentifier = ImmutableID, the UPN, ImmutableID, certificate and
    /// authnmethodsreferences claims, and the AuthenticationMethod.
    ///
    /// The certificate sign-in is reported as WIF's `…/authenticationmethod/tlsclient`
    /// rather than SAML 1.1's `urn:ietf:rfc:2246`: it is the value AD FS itself issues for
    /// certificate authentication, so it is what Entra has been reading from AD FS tokens,
    /// and the same URI goes into `authnmethodsreferences`, where only the WIF identifiers
    /// are in use. A multi-factor sign-in is reported as `multipleauthn` in both places, the
    /// value Entra reads as MFA (anchors §3).
    pub fn into_assertion(self) -> Result<Saml11Assertion, SamlError> {
        // Entra needs every one of these; an empty one would be accepted by the generic
        // assertion (a claim value may be empty) and fail only at Entra.
        check_required("immutable_id", &self.immutable_id)?;
        check_required("upn", &self.upn)?;
        check_required("certificate serial_number", &self.certificate.serial_number)?;
        check_required("certificate issuer", &self.certificate.issuer)?;
        let (authentication_method, methods) = match self.sign_in_method {
            SignInMethod::Certificate => (
                AuthenticationMethod::TlsClient,
                vec![AuthenticationMethod::TlsClient],
            ),
            SignInMethod::CertificateAndSecondFactor => (
                AuthenticationMethod::MultipleAuthn,
                vec![
                    AuthenticationMethod::TlsClient,
                    AuthenticationMethod::MultipleAuthn,
                ],
            ),
        };
        let claim = |claim_type: &str, values: Vec<String>| -> Result<Claim, SamlError> {
            Ok(Claim {
                claim_type: ClaimType::parse(claim_type)?,
                values,
            })
        };
        Ok(Saml11Assertion {
            id: self.id,
            issuer: self.issuer_uri,
            name_identifier: NameId {
                format: NameIdFormat::Persistent,
                value: self.immutable_id.clone(),
            },
            audience: AUDIENCE.to_owned(),
            validity: self.validity,
            authentication_method,
            authentication_instant: self.authentication_instant,
            claims: vec![
                claim(UPN, vec![self.upn])?,
                claim(IMMUTABLE_ID, vec![self.immutable_id])?,
                claim(
                    CERTIFICATE_SERIAL_NUMBER,
                    vec![self.certificate.serial_number],
                )?,
                claim(CERTIFICATE_ISSUER, vec![self.certificate.issuer])?,
                claim(
                    AUTHENTICATION_METHODS_REFERENCES,
                    methods
                        .into_iter()
                        .map(|method| method.uri().to_owned())
                        .collect(),
                )?,
            ],
        })
    }
}
