//! `FederationMetadata.xml` (WS-Federation 1.2 §3.1), the document AD FS publishes at
//! `/FederationMetadata/2007-06/FederationMetadata.xml`: a SAML 2.0 metadata
//! `md:EntityDescriptor` whose `md:RoleDescriptor xsi:type="fed:SecurityTokenServiceType"`
//! (§3.1.2.2) describes the WS-Federation STS — token-signing certificates, token and claim
//! types offered (§3.1.8, §3.1.9), its passive requestor endpoint (§3.1.13) — optionally beside
//! the SAML 2.0 `md:IDPSSODescriptor`, so that one document serves both protocols as AD FS's
//! does.
//!
//! # `xsi:type="fed:…"` and exclusive canonicalization
//!
//! The role's type is a QName in an attribute *value*. Exclusive XML Canonicalization (§3)
//! renders a namespace declaration only where an element or attribute *name* uses the prefix
//! ("visibly utilized"), which a value never counts as. Signed with plain exc-c14n, the
//! canonical form would drop `xmlns:fed` from the RoleDescriptor (re-declaring it on each
//! `fed:` child instead): since this crate emits documents in their canonical form, the
//! served document would leave `fed:` in `xsi:type` unbound, and even a signer that kept the
//! declaration in the served bytes would leave the binding outside what is signed (it could
//! be pointed at another namespace without breaking the signature).
//!
//! So the reference's exc-c14n transform carries `<ec:InclusiveNamespaces PrefixList="fed">`
//! (exc-c14n §3, §4): `fed` is then canonicalized by the inclusive rule, declared on the first
//! element of the signed subtree where it is in scope, the RoleDescriptor, and covered by the
//! digest. `xsi` needs no listing: `xsi:type` visibly utilizes it. The `fed:` children inherit
//! the declaration rather than repeat it, under both rules.

use certgate_pki::UnixTime;

use crate::assertion::NameIdFormat;
use crate::canonical::{check_required, Writer};
use crate::error::SamlError;
use crate::id::MessageId;
use crate::metadata::{
    check_signing_certificates, entity_descriptor_start, write_key_descriptors, IdpSsoDescriptor,
};
use crate::signature::{SigningKey, Unsigned};
use crate::wsfed::rstr::ADDRESSING;
use crate::wsfed::saml11::SAML11;

const FED: &str = "http://docs.oasis-open.org/wsfed/federation/200706";
const AUTH: &str = "http://docs.oasis-open.org/wsfed/authorization/200706";
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// One `auth:ClaimType` in `fed:ClaimTypesOffered` (WS-Federation 1.2 §3.1.9), always
/// `Optional="true"`: which claims a relying party gets depends on its rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferedClaimType {
    /// The claim type URI.
    pub uri: String,
    /// `auth:DisplayName`.
    pub display_name: String,
    /// `auth:Description`; None = element omitted.
    pub description: Option<String>,
}

/// The SAML 2.0 identity provider role published beside the STS role (SAML metadata
/// §2.4.3 IDPSSODescriptor; the same content as [`crate::IdpMetadata`]'s).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Saml2IdpRole {
    /// `WantAuthnRequestsSigned`.
    pub want_authn_requests_signed: bool,
    /// SingleSignOnService, HTTP-Redirect binding.
    pub sso_redirect_url: String,
    /// SingleSignOnService, HTTP-POST binding.
    pub sso_post_url: String,
    /// SingleLogoutService, HTTP-Redirect binding.
    pub slo_redirect_url: String,
    /// `md:NameIDFormat`s, in this order.
    pub name_id_formats: Vec<NameIdFormat>,
}

/// The `FederationMetadata.xml` EntityDescriptor (WS-Federation 1.2 §3.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FederationMetadata {
    /// The EntityDescriptor's `ID`, which the signature references.
    pub id: MessageId,
    /// `entityID`: the STS's URI, the Issuer of its assertions (Microsoft 365: `issuerUri`).
    pub entity_id: String,
    /// Token-signing certificates (DER), each a `KeyDescriptor use="signing"` in every role:
    /// the current one and, ahead of a rollover, the next (Entra's `nextSigningCertificate`).
    pub signing_certificates: Vec<Vec<u8>>,
    /// The passive requestor endpoint (`fed:PassiveRequestorEndpoint`), where `wsignin1.0`
    /// arrives (Microsoft 365: `passiveSignInUri`). Also published as the
    /// `fed:SecurityTokenServiceEndpoint`, which the schema requires at least once; Entra ID's
    /// own federation metadata does the same with its passive `/wsfed` endpoint.
    pub passive_requestor_url: String,
    /// `fed:ClaimTypesOffered`, in this order; empty = element omitted.
    pub claim_types_offered: Vec<OfferedClaimType>,
    /// The SAML 2.0 IdP role, if this STS also speaks SAML 2.0.
    pub saml2_idp: Option<Saml2IdpRole>,
    /// `validUntil` on the EntityDescriptor; None = attribute omitted.
    pub valid_until: Option<UnixTime>,
}

impl FederationMetadata {
    /// The metadata unsigned, as canonical XML (UTF-8, no declaration).
    pub fn xml(&self) -> Result<String, SamlError> {
        let unsigned = self.unsigned()?;
        Ok(unsigned.head + &unsigned.tail)
    }

    /// The metadata with an enveloped signature as the EntityDescriptor's first child, its
    /// exc-c14n transform listing `fed` as an inclusive prefix (see the module docs).
    pub fn sign(&self, key: &SigningKey) -> Result<String, SamlError> {
        self.unsigned()?
            .sign_with_inclusive_prefixes(&self.id, key, &["fed"])
    }

    fn unsigned(&self) -> Result<Unsigned, SamlError> {
        check_required("entity_id", &self.entity_id)?;
        check_required("passive_requestor_url", &self.passive_requestor_url)?;
        check_signing_certificates(&self.signing_certificates)?;
        for claim in &self.claim_types_offered {
            check_required("offered claim type uri", &claim.uri)?;
            check_required("offered claim type display_name", &claim.display_name)?;
            if let Some(description) = &claim.description {
                check_required("offered claim type description", description)?;
            }
        }
        let saml2_idp = self.saml2_idp.as_ref().map(|role| IdpSsoDescriptor {
            want_authn_requests_signed: role.want_authn_requests_signed,
            sso_redirect_url: &role.sso_redirect_url,
            sso_post_url: &role.sso_post_url,
            slo_redirect_url: &role.slo_redirect_url,
            name_id_formats: &role.name_id_formats,
            signing_certificates: &self.signing_certificates,
        });
        if let Some(descriptor) = &saml2_idp {
            descriptor.check()?;
        }
        let head = entity_descriptor_start(&self.id, &self.entity_id, self.valid_until)?;

        let mut w = Writer::new();
        // `fed` is declared here, where the inclusive PrefixList rule renders it (the first
        // element in scope); `xsi` here, where `xsi:type` visibly utilizes it.
        w.open_qualified(
            "md:RoleDescriptor",
            &[("fed", FED), ("xsi", XSI)],
            &[("protocolSupportEnumeration", FED)],
            &[(XSI, "xsi:type", "fed:SecurityTokenServiceType")],
        );
        write_key_descriptors(&mut w, &self.signing_certificates);
        w.open("fed:TokenTypesOffered", None, &[]);
        w.leaf("fed:TokenType", None, &[("Uri", SAML11)], "");
        w.close("fed:TokenTypesOffered");
        if !self.claim_types_offered.is_empty() {
            w.open("fed:ClaimTypesOffered", None, &[]);
            for claim in &self.claim_types_offered {
                w.open(
                    "auth:ClaimType",
                    Some(("auth", AUTH)),
                    &[("Optional", "true"), ("Uri", &claim.uri)],
                );
                w.leaf("auth:DisplayName", None, &[], &claim.display_name);
                if let Some(description) = &claim.description {
                    w.leaf("auth:Description", None, &[], description);
                }
                w.close("auth:ClaimType");
            }
            w.close("fed:ClaimTypesOffered");
        }
        for endpoint in [
            "fed:SecurityTokenServiceEndpoint",
            "fed:PassiveRequestorEndpoint",
        ] {
            w.open(endpoint, None, &[]);
            w.open("wsa:EndpointReference", Some(("wsa", ADDRESSING)), &[]);
            w.leaf("wsa:Address", None, &[], &self.passive_requestor_url);
            w.close("wsa:EndpointReference");
            w.close(endpoint);
        }
        w.close("md:RoleDescriptor");
        if let Some(descriptor) = &saml2_idp {
            descriptor.write(&mut w);
        }
        w.close("md:EntityDescriptor");
        Ok(Unsigned {
            head,
            tail: w.finish(),
        })
    }
}
