//! A service provider's SAML 2.0 metadata (SAML metadata §2.3.2 EntityDescriptor, §2.4.4
//! SPSSODescriptor): what an administrator imports to register an application — its entity
//! ID, where Responses go, where logout answers go, and the certificates its requests are
//! signed with.
//!
//! A signature on the metadata is ignored: the administrator chose the file, and the trust
//! decision is theirs (metadata §3 makes signing optional).

use certgate_pki::Certificate;

use crate::dsig_verify::decode_base64_text;
use crate::error::SamlError;
use crate::request::{optional_boolean, parse_unsigned_short, trimmed_text, SAMLP};
use crate::signature::DS;
use crate::xml_in::{self, Element};

const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const HTTP_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
const HTTP_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

/// What certgate uses from an `md:EntityDescriptor` with an `md:SPSSODescriptor` supporting
/// SAML 2.0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpMetadata {
    /// `entityID`: the Issuer of the SP's requests and the Audience of its Assertions.
    pub entity_id: String,
    /// Every `md:AssertionConsumerService`, in document order, whatever its binding.
    pub assertion_consumer_services: Vec<IndexedEndpoint>,
    /// Every `md:SingleLogoutService`, in document order.
    pub single_logout_services: Vec<Endpoint>,
    /// The certificates (DER) of `md:KeyDescriptor`s with `use="signing"` or no `use`
    /// (metadata §2.4.1.1), each parsed to make sure it is one.
    pub signing_certificates: Vec<Vec<u8>>,
    /// `AuthnRequestsSigned` (absent = false).
    pub authn_requests_signed: bool,
    /// `WantAssertionsSigned` (absent = false).
    pub want_assertions_signed: bool,
    /// `md:NameIDFormat` values, in order.
    pub name_id_formats: Vec<String>,
}

/// An `md:AssertionConsumerService` (metadata §2.2.3 IndexedEndpointType).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexedEndpoint {
    /// The `Binding` URI (HTTP-POST is the one certgate answers with).
    pub binding: String,
    /// The `Location` URL: where the Response is sent.
    pub location: String,
    /// The `index`, unique among the SP's AssertionConsumerServices; what an AuthnRequest's
    /// `AssertionConsumerServiceIndex` names.
    pub index: u16,
    /// `isDefault`; absent = None (metadata §2.2.3 gives absent a weaker meaning than false).
    pub is_default: Option<bool>,
}

/// An `md:SingleLogoutService` (metadata §2.2.2 EndpointType).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The `Binding` URI (HTTP-Redirect is the one certgate uses).
    pub binding: String,
    /// The `Location` URL: where LogoutRequests go.
    pub location: String,
    /// `ResponseLocation`: where LogoutResponses go, if not to `location` (metadata §2.2.2).
    pub response_location: Option<String>,
}

impl SpMetadata {
    /// Reads an `md:EntityDescriptor`, or an `md:EntitiesDescriptor` holding exactly one.
    /// Input limit: 1 MiB.
    pub fn parse(xml: &[u8]) -> Result<SpMetadata, SamlError> {
        let document = xml_in::parse(xml, xml_in::METADATA_MAX_BYTES)?;
        let root = &document.root;
        let entity = if root.is(MD, "EntitiesDescriptor") {
            let mut entities = root.children_named(MD, "EntityDescriptor");
            match (entities.next(), entities.next()) {
                (Some(entity), None) => entity,
                (None, _) => return Err(metadata_invalid("the EntitiesDescriptor is empty")),
                (Some(_), Some(_)) => {
                    return Err(metadata_invalid(
                        "the EntitiesDescriptor holds several entities; import the one of this service provider",
                    ))
                }
            }
        } else if root.is(MD, "EntityDescriptor") {
            root
        } else {
            return Err(SamlError::UnexpectedMessage {
                expected: "md:EntityDescriptor",
                found: root.expanded_name().chars().take(200).collect(),
            });
        };
        read_entity(entity)
    }

    /// The AssertionConsumerServices with the HTTP-POST binding (the one certgate answers
    /// with, profiles §4.1.2), in document order.
    pub fn post_assertion_consumer_services(&self) -> impl Iterator<Item = &IndexedEndpoint> {
        self.assertion_consumer_services
            .iter()
            .filter(|e| e.binding == HTTP_POST)
    }

    /// The first SingleLogoutService with the HTTP-Redirect binding.
    pub fn redirect_single_logout_service(&self) -> Option<&Endpoint> {
        self.single_logout_services
            .iter()
            .find(|e| e.binding == HTTP_REDIRECT)
    }
}

fn read_entity(entity: &Element) -> Result<SpMetadata, SamlError> {
    let entity_id = entity
        .attribute("entityID")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| metadata_invalid("the EntityDescriptor has no entityID"))?
        .to_owned();
    let mut descriptors = entity.children_named(MD, "SPSSODescriptor").filter(|d| {
        d.attribute("protocolSupportEnumeration")
            .is_some_and(|p| p.split(xml_in::is_xml_whitespace).any(|u| u == SAMLP))
    });
    let descriptor = match (descriptors.next(), descriptors.next()) {
        (Some(d), None) => d,
        (None, _) => {
            return Err(metadata_invalid(
                "no SPSSODescriptor supports SAML 2.0 (protocolSupportEnumeration); is this an identity provider's metadata?",
            ))
        }
        (Some(_), Some(_)) => {
            return Err(metadata_invalid(
                "more than one SPSSODescriptor supports SAML 2.0",
            ))
        }
    };

    let mut signing_certificates = Vec::new();
    for key_descriptor in descriptor.children_named(MD, "KeyDescriptor") {
        match key_descriptor.attribute("use") {
            None | Some("signing") => {}
            Some("encryption") => continue,
            Some(other) => {
                return Err(metadata_invalid(&format!(
                    "KeyDescriptor use={other:?} is neither signing nor encryption"
                )))
            }
        }
        for key_info in key_descriptor.children_named(DS, "KeyInfo") {
            for data in key_info.children_named(DS, "X509Data") {
                for certificate in data.children_named(DS, "X509Certificate") {
                    let der = decode_base64_text("X509Certificate", &certificate.text())?;
                    Certificate::from_der(&der).map_err(|e| {
                        metadata_invalid(&format!(
                            "a signing X509Certificate does not parse: {e:?}"
                        ))
                    })?;
                    signing_certificates.push(der);
                }
            }
        }
    }

    let mut assertion_consumer_services = Vec::new();
    for acs in descriptor.children_named(MD, "AssertionConsumerService") {
        let (binding, location) = binding_and_location(acs, "AssertionConsumerService")?;
        let index = acs
            .attribute("index")
            .and_then(parse_unsigned_short)
            .ok_or_else(|| {
                metadata_invalid("an AssertionConsumerService has no valid index (0 to 65535)")
            })?;
        let is_default = match acs.attribute("isDefault") {
            None => None,
            Some(_) => Some(optional_boolean(acs, "isDefault")?),
        };
        assertion_consumer_services.push(IndexedEndpoint {
            binding,
            location,
            index,
            is_default,
        });
    }
    if assertion_consumer_services.is_empty() {
        return Err(metadata_invalid(
            "the SPSSODescriptor has no AssertionConsumerService",
        ));
    }
    for (i, a) in assertion_consumer_services.iter().enumerate() {
        if assertion_consumer_services[..i]
            .iter()
            .any(|b| b.index == a.index)
        {
            return Err(metadata_invalid(&format!(
                "two AssertionConsumerServices have index {}",
                a.index
            )));
        }
    }

    let mut single_logout_services = Vec::new();
    for slo in descriptor.children_named(MD, "SingleLogoutService") {
        let (binding, location) = binding_and_location(slo, "SingleLogoutService")?;
        single_logout_services.push(Endpoint {
            binding,
            location,
            response_location: slo.attribute("ResponseLocation").map(str::to_owned),
        });
    }

    Ok(SpMetadata {
        entity_id,
        assertion_consumer_services,
        single_logout_services,
        signing_certificates,
        authn_requests_signed: optional_boolean(descriptor, "AuthnRequestsSigned")?,
        want_assertions_signed: optional_boolean(descriptor, "WantAssertionsSigned")?,
        name_id_formats: descriptor
            .children_named(MD, "NameIDFormat")
            .map(|e| trimmed_text(e).to_owned())
            .filter(|f| !f.is_empty())
            .collect(),
    })
}

fn binding_and_location(endpoint: &Element, kind: &str) -> Result<(String, String), SamlError> {
    match (
        endpoint.attribute("Binding"),
        endpoint.attribute("Location"),
    ) {
        (Some(binding), Some(location)) if !binding.is_empty() && !location.is_empty() => {
            Ok((binding.to_owned(), location.to_owned()))
        }
        _ => Err(metadata_invalid(&format!(
            "a {kind} lacks its Binding or Location"
        ))),
    }
}

fn metadata_invalid(reason: &str) -> SamlError {
    SamlError::MetadataInvalid {
        reason: reason.to_owned(),
    }
}
