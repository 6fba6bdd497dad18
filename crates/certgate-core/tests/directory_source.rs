//! Active Directory certificate mappings become exactly the certificateUserIds values
//! certgate derives from the certificate itself, so a mapping synchronised from AD binds the
//! certificate it names.

use certgate_core::directory_source::certificate_user_id_from_mapping;
use certgate_pki::{Certificate, Identity};
use rcgen::{CertificateParams, DistinguishedName, DnType, Issuer, KeyPair, SerialNumber};

/// A serial whose byte order matters (not a palindrome), as a Windows CA issues them.
const SERIAL: [u8; 10] = [0x2b, 0x00, 0x00, 0x00, 0x11, 0xac, 0x00, 0x00, 0x00, 0x12];

fn certificate() -> Certificate {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::new()).expect("params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name = DistinguishedName::new();
    ca.distinguished_name.push(DnType::CountryName, "US");
    ca.distinguished_name
        .push(DnType::OrganizationName, "Contoso");
    ca.distinguished_name
        .push(DnType::CommonName, "Contoso Issuing CA");
    let issuer = Issuer::from_params(&ca, &ca_key);

    let key = KeyPair::generate().expect("key");
    let mut leaf = CertificateParams::new(Vec::new()).expect("params");
    leaf.serial_number = Some(SerialNumber::from_slice(&SERIAL));
    leaf.distinguished_name = DistinguishedName::new();
    leaf.distinguished_name.push(DnType::CountryName, "US");
    leaf.distinguished_name
        .push(DnType::StateOrProvinceName, "Texas");
    leaf.distinguished_name
        .push(DnType::OrganizationName, "Contoso, Ltd");
    leaf.distinguished_name
        .push(DnType::CommonName, "Bob Archer");
    let der = leaf.signed_by(&key, &issuer).expect("leaf").der().to_vec();
    Certificate::from_der(&der).expect("parses")
}

fn identity_value(identity: &Identity, field: &str) -> String {
    identity
        .certificate_user_ids
        .iter()
        .find(|id| id.field == field)
        .map(|id| id.value.clone())
        .unwrap_or_else(|| panic!("no {field} value"))
}

#[test]
fn ad_mappings_written_the_windows_way_equal_the_certificates_own_values() {
    let certificate = certificate();
    let identity = Identity::of(&certificate);
    // What an administrator writes in altSecurityIdentities (KB5014754): DNs most significant
    // RDN first, as Windows shows them (`S=` for the state, spaces after commas, a quoted
    // value with a comma), the serial's bytes reversed in upper-case hex as certutil prints it.
    let issuer = "C=US, O=Contoso, CN=Contoso Issuing CA";
    let subject = "C=US, S=Texas, O=\"Contoso, Ltd\", CN=Bob Archer";
    let reversed_serial: String = SERIAL.iter().rev().map(|b| format!("{b:02X}")).collect();
    assert_eq!(reversed_serial, "12000000AC110000002B");
    let table = [
        (format!("X509:<I>{issuer}<S>{subject}"), "IssuerAndSubject"),
        (
            format!("X509:<I>{issuer}<SR>{reversed_serial}"),
            "IssuerAndSerialNumber",
        ),
        (format!("X509:<S>{subject}"), "Subject"),
        (
            format!(
                "X509:<SHA1-PUKEY>{}",
                identity.sha1_public_key.to_uppercase()
            ),
            "SHA1PublicKey",
        ),
    ];
    for (mapping, field) in table {
        assert_eq!(
            certificate_user_id_from_mapping(&mapping).expect("parses"),
            Some(identity_value(&identity, field)),
            "{mapping}"
        );
    }
}

#[test]
fn a_serial_in_certificate_order_does_not_bind() {
    // The mistake the <SR> rule guards against: the serial as the certificate encodes it.
    let certificate = certificate();
    let identity = Identity::of(&certificate);
    let in_certificate_order: String = SERIAL.iter().map(|b| format!("{b:02X}")).collect();
    let mapping = format!("X509:<I>C=US,O=Contoso,CN=Contoso Issuing CA<SR>{in_certificate_order}");
    assert_ne!(
        certificate_user_id_from_mapping(&mapping).expect("parses"),
        Some(identity_value(&identity, "IssuerAndSerialNumber"))
    );
}

#[test]
fn an_rdn_order_as_ldap_writes_it_does_not_bind() {
    // RFC 4514 order (least significant first) is not what AD stores in mappings.
    let certificate = certificate();
    let identity = Identity::of(&certificate);
    let mapping = "X509:<S>CN=Bob Archer,O=Contoso\\, Ltd,S=Texas,C=US";
    assert_ne!(
        certificate_user_id_from_mapping(mapping).expect("parses"),
        Some(identity_value(&identity, "Subject"))
    );
}
