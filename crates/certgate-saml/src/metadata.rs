//! The identity provider's SAML 2.0 metadata (SAML metadata §2.3.2 EntityDescriptor, §2.4.3
//! IDPSSODescriptor): the document a service provider imports to learn certgate's entity ID,
//! endpoints, NameID formats and token-signing certificates.
//!
//! Several signing certificates can be published at once, so that the next key is known to
//! relying parties before the rollover (metadata §2.4.1.1: each KeyDescriptor `use="signing"`
//! is a key the entity may sign with).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use certgate_pki::{Certificate, UnixTime};

use crate::assertion::NameIdFormat;
use crate::canonical::{check_required, Writer};
use crate::error::SamlError;
use crate::id::MessageId;
use crate::instant;
use crate::signature::{SigningKey, Unsigned, DS};

pub(crate) const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const HTTP_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
const HTTP_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// An `md:EntityDescriptor` with one `md:IDPSSODescriptor`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdpMetadata {
    /// The EntityDescriptor's `ID`, which a signature references.
    pub id: MessageId,
    /// `entityID`: the IdP's entity ID, the Issuer of its Assertions.
    pub entity_id: String,
    /// Token-signing certificates (DER), each published as a `KeyDescriptor use="signing"`
    /// in this order: the current one and, ahead of a rollover, the next. At least one.
    pub signing_certificates: Vec<Vec<u8>>,
    /// `WantAuthnRequestsSigned` on the IDPSSODescriptor.
    pub want_authn_requests_signed: bool,
    /// SingleSignOnService, HTTP-Redirect binding.
    pub sso_redirect_url: String,
    /// SingleSignOnService, HTTP-POST binding.
    pub sso_post_url: String,
    /// SingleLogoutService, HTTP-Redirect binding.
    pub slo_redirect_url: String,
    /// `md:NameIDFormat`s, in this order.
    pub name_id_formats: Vec<NameIdFormat>,
    /// `validUntil` on the EntityDescriptor; None = attribute omitted.
    pub valid_until: Option<UnixTime>,
}

impl IdpMetadata {
    /// The metadata unsigned, as canonical XML (UTF-8, no XML declaration).
    pub fn xml(&self) -> Result<String, SamlError> {
        let unsigned = self.unsigned()?;
        Ok(unsigned.head + &unsigned.tail)
    }

    /// The metadata with an enveloped signature (the EntityDescriptor's first child, metadata
    /// §3 / XML schema order), as canonical XML.
    pub fn sign(&self, key: &SigningKey) -> Result<String, SamlError> {
        self.unsigned()?.sign(&self.id, key)
    }

    fn unsigned(&self) -> Result<Unsigned, SamlError> {
        check_required("entity_id", &self.entity_id)?;
        let descriptor = IdpSsoDescriptor {
            want_authn_requests_signed: self.want_authn_requests_signed,
            sso_redirect_url: &self.sso_redirect_url,
            sso_post_url: &self.sso_post_url,
            slo_redirect_url: &self.slo_redirect_url,
            name_id_formats: &self.name_id_formats,
            signing_certificates: &self.signing_certificates,
        };
        descriptor.check()?;
        let head = entity_descriptor_start(&self.id, &self.entity_id, self.valid_until)?;

        let mut w = Writer::new();
        descriptor.write(&mut w);
        w.close("md:EntityDescriptor");
        Ok(Unsigned {
            head,
            tail: w.finish(),
        })
    }
}

/// The `md:EntityDescriptor` start tag (SAML metadata §2.3.2) of certgate's metadata
/// documents: its `ID`, `entityID` and optional `validUntil`.
pub(crate) fn entity_descriptor_start(
    id: &MessageId,
    entity_id: &str,
    valid_until: Option<UnixTime>,
) -> Result<String, SamlError> {
    let valid_until = valid_until
        .map(|at| instant::format("valid_until", at))
        .transpose()?;
    let mut attributes = vec![("ID", id.as_str()), ("entityID", entity_id)];
    if let Some(valid_until) = &valid_until {
        attributes.push(("validUntil", valid_until));
    }
    let mut head = Writer::new();
    head.open("md:EntityDescriptor", Some(("md", MD)), &attributes);
    Ok(head.finish())
}

/// The `md:IDPSSODescriptor` (SAML metadata §2.4.3), shared by [`IdpMetadata`] and the
/// WS-Federation metadata, which publishes the same SAML 2.0 role beside its STS role.
pub(crate) struct IdpSsoDescriptor<'a> {
    pub(crate) want_authn_requests_signed: bool,
    pub(crate) sso_redirect_url: &'a str,
    pub(crate) sso_post_url: &'a str,
    pub(crate) slo_redirect_url: &'a str,
    pub(crate) name_id_formats: &'a [NameIdFormat],
    pub(crate) signing_certificates: &'a [Vec<u8>],
}

impl IdpSsoDescriptor<'_> {
    pub(crate) fn check(&self) -> Result<(), SamlError> {
        check_required("sso_redirect_url", self.sso_redirect_url)?;
        check_required("sso_post_url", self.sso_post_url)?;
        check_required("slo_redirect_url", self.slo_redirect_url)?;
        check_signing_certificates(self.signing_certificates)
    }

    /// Written as an EntityDescriptor's child, which declares `md`.
    pub(crate) fn write(&self, w: &mut Writer) {
        w.open(
            "md:IDPSSODescriptor",
            None,
            &[
                (
                    "WantAuthnRequestsSigned",
                    if self.want_authn_requests_signed {
                        "true"
                    } else {
                        "false"
                    },
                ),
                ("protocolSupportEnumeration", PROTOCOL),
            ],
        );
        write_key_descriptors(w, self.signing_certificates);
        w.leaf(
            "md:SingleLogoutService",
            None,
            &[
                ("Binding", HTTP_REDIRECT),
                ("Location", self.slo_redirect_url),
            ],
            "",
        );
        for format in self.name_id_formats {
            w.leaf("md:NameIDFormat", None, &[], format.uri());
        }
        w.leaf(
            "md:SingleSignOnService",
            None,
            &[
                ("Binding", HTTP_REDIRECT),
                ("Location", self.sso_redirect_url),
            ],
            "",
        );
        w.leaf(
            "md:SingleSignOnService",
            None,
            &[("Binding", HTTP_POST), ("Location", self.sso_post_url)],
            "",
        );
        w.close("md:IDPSSODescriptor");
    }
}

/// At least one certificate, each of which parses.
pub(crate) fn check_signing_certificates(certificates: &[Vec<u8>]) -> Result<(), SamlError> {
    if certificates.is_empty() {
        return Err(SamlError::invalid(
            "signing_certificates",
            "at least one signing certificate must be published",
        ));
    }
    for der in certificates {
        Certificate::from_der(der).map_err(|e| {
            SamlError::invalid(
                "signing_certificates",
                format!("certificate does not parse: {e:?}"),
            )
        })?;
    }
    Ok(())
}

/// One `md:KeyDescriptor use="signing"` per certificate, inside a role descriptor.
pub(crate) fn write_key_descriptors(w: &mut Writer, certificates: &[Vec<u8>]) {
    for der in certificates {
        w.open("md:KeyDescriptor", None, &[("use", "signing")]);
        // exc-c14n renders `ds` here: no output ancestor declares it (an enveloped
        // Signature is a sibling of the role descriptor, not an ancestor).
        w.open("ds:KeyInfo", Some(("ds", DS)), &[]);
        w.open("ds:X509Data", None, &[]);
        w.leaf("ds:X509Certificate", None, &[], &STANDARD.encode(der));
        w.close("ds:X509Data");
        w.close("ds:KeyInfo");
        w.close("md:KeyDescriptor");
    }
}
