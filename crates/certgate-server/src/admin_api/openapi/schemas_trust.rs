//! The schemas of the trusted CAs and their CRL cache, and of certgate's own CA (issued
//! certificates, revocation, published CRLs).

use serde_json::{json, Value};

use super::{
    boolean, integer, nullable, nullable_time, one_of, reference, request, resource, string, time,
};

/// Trusted CAs, their CRL status and refresh reports.
pub(super) fn schemas() -> Value {
    json!({
        "CertificateAuthority": resource("A trusted CA: Graph's certificateAuthority plus certgate's fields.", json!({
            "id": integer(""),
            "displayName": string(""),
            "isRootAuthority": boolean("A trust anchor (true) or an intermediate used to build paths (false)."),
            "certificate": {"type": "string", "contentEncoding": "base64", "description": "The DER certificate."},
            "certificateRevocationListUrl": nullable("http(s) URL of the base CRL."),
            "deltaCertificateRevocationListUrl": nullable("http(s) URL of the delta CRL."),
            "issuer": string("The CA's subject DN (Windows form)."),
            "issuerSki": nullable("The CA's subjectKeyIdentifier, lowercase hex."),
            "isExemptFromCrlValidation": boolean("Certificates from this CA may have an unknown revocation status."),
            "isIssuerHintEnabled": boolean("Named in the TLS CertificateRequest."),
            "sha256Thumbprint": string(""),
            "notBefore": time(""),
            "notAfter": time(""),
            "createdDateTime": time(""),
        })),
        "NewCertificateAuthority": request("A CA to trust.", &["certificate"], json!({
            "certificate": {"type": "string", "contentEncoding": "base64", "description": "A DER or PEM certificate, or a PKCS#7 (.p7b) bundle whose CAs are added together or not at all."},
            "isRootAuthority": boolean("Default: true for a self-signed certificate."),
            "certificateRevocationListUrl": string("Only for a single certificate."),
            "deltaCertificateRevocationListUrl": string("Needs certificateRevocationListUrl."),
            "displayName": string("Default: the CA's subject."),
            "isExemptFromCrlValidation": boolean("Default false. Weakens revocation: only for CAs that publish no CRL."),
            "isIssuerHintEnabled": boolean("Default true."),
        })),
        "CertificateAuthorityPatch": request("Changes to a trusted CA; absent fields stay.", &[], json!({
            "displayName": string(""),
            "isRootAuthority": boolean(""),
            "certificateRevocationListUrl": nullable("null removes it."),
            "deltaCertificateRevocationListUrl": nullable("null removes it."),
            "isExemptFromCrlValidation": boolean(""),
            "isIssuerHintEnabled": boolean(""),
        })),
        "CachedCrl": resource("The CRL in the cache.", json!({
            "crlNumber": string("Hex."),
            "thisUpdate": time(""),
            "nextUpdate": time(""),
            "entries": integer(""),
            "bytes": integer(""),
            "fetchedAt": time(""),
            "etag": nullable(""),
            "lastModified": nullable(""),
        })),
        "CrlStatus": resource("One CA's base or delta CRL.", json!({
            "caId": integer(""),
            "ca": string("The CA's display name."),
            "kind": one_of(&["base", "delta"], ""),
            "url": string(""),
            "cached": {"oneOf": [reference("CachedCrl"), {"type": "null"}], "description": "null: nothing cached, certificates from this CA fail with crl-unavailable."},
            "lastAttempt": nullable_time(""),
            "lastSuccess": nullable_time(""),
            "lastErrorCode": nullable("e.g. crl-fetch-timeout, crl-signature-invalid."),
            "lastError": nullable(""),
            "consecutiveFailures": integer(""),
            "nextAttempt": nullable_time(""),
        })),
        "CrlRefreshReport": resource("What one download did.", json!({
            "caId": integer(""),
            "kind": one_of(&["base", "delta"], ""),
            "url": string(""),
            "outcome": one_of(&["updated", "not-modified", "unchanged", "failed"], ""),
            "code": nullable("The refusal code when it failed."),
            "detail": string(""),
        })),
    })
}

/// certgate's own CA: issued certificates, revocation, published CRLs.
pub(super) fn own_ca_schemas() -> Value {
    json!({
        "IssuedCertificate": resource("A certificate certgate's own CA issued, with its status now.", json!({
            "serial": string("Hex."),
            "upn": string(""),
            "email": nullable(""),
            "subject": string(""),
            "notBefore": time(""),
            "notAfter": time(""),
            "status": one_of(&["valid", "expired", "revoked"], ""),
            "revokedAt": nullable_time(""),
            "revocationReason": nullable("RFC 5280 reason name, e.g. keyCompromise."),
            "parentSerial": nullable("The certificate it was issued on the strength of (EST re-enrollment, /my/device); revoking that one revokes this one."),
            "parentIssuer": nullable(""),
        })),
        "RevocationRequest": request("Why the certificate is revoked.", &["reason"], json!({
            "reason": one_of(&["keyCompromise", "cACompromise", "affiliationChanged", "superseded", "cessationOfOperation", "certificateHold", "privilegeWithdrawn", "unspecified"], "RFC 5280 reason name."),
        })),
        "CertificateRevocation": resource("What a revocation did.", json!({
            "certificate": reference("IssuedCertificate"),
            "revokedNow": boolean("false: the certificate was revoked before (its first revocation stands) and only descendants were revoked now."),
            "descendants": {"type": "array", "items": reference("IssuedCertificate"), "description": "Certificates issued on its strength, and theirs, revoked now; parents before children."},
        })),
        "PublishedCrl": resource("A CRL certgate's own CA published.", json!({
            "ca": one_of(&["root", "issuing"], "Which of certgate's CAs signed it."),
            "kind": one_of(&["base", "delta"], ""),
            "crlNumber": integer(""),
            "baseCrlNumber": {"type": ["integer", "null"], "description": "For a delta CRL, the base it applies to."},
            "thisUpdate": time(""),
            "nextUpdate": time(""),
            "entries": integer(""),
            "url": string("Where relying parties fetch it."),
        })),
    })
}
