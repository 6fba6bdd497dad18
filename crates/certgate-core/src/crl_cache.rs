//! The CRL cache: what was last downloaded for each trusted CA, and the rules a download must
//! pass before it replaces the cached CRL. Every refusal keeps the cached CRL and has a stable
//! code (`crl-*`), so `certgate crl status` and the audit log say exactly what went wrong.

use std::cmp::Ordering;

use certgate_pki::{parse_crls, AlgorithmPolicy, Certificate, Crl, Reason, ReasonCode, UnixTime};
use serde::Serialize;

use crate::crl_fetch::FetchError;
use crate::store::StoreResult;
use crate::trusted_ca::CaId;
use std::future::Future;

/// Which of a CA's two CRL URLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CrlKind {
    /// A complete CRL; for a trusted CA, what its `crlDistributionPoint` serves.
    Base,
    /// A delta CRL (RFC 5280 §5.2.4): what changed since the base CRL it names; for a trusted
    /// CA, what its `deltaCrlDistributionPoint` serves.
    Delta,
}

impl CrlKind {
    /// `base` or `delta`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            CrlKind::Base => "base",
            CrlKind::Delta => "delta",
        }
    }
    /// Reads the name [`as_str`](Self::as_str) writes; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "base" => Some(CrlKind::Base),
            "delta" => Some(CrlKind::Delta),
            _ => None,
        }
    }
}

/// A CRL accepted into the cache, with what is needed to list it and to refresh it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedCrl {
    /// The trusted CA it belongs to.
    pub ca_id: CaId,
    /// Base or delta.
    pub kind: CrlKind,
    /// The URL it was downloaded from (the CA record's, at the time).
    pub url: String,
    /// The CRL, DER (a PEM download is stored decoded).
    pub der: Vec<u8>,
    /// Its cRLNumber, INTEGER content octets: what a newer download is compared with.
    pub crl_number: Vec<u8>,
    /// Its thisUpdate.
    pub this_update: UnixTime,
    /// Its nextUpdate; past it, the CRL is no longer current and validation fails closed.
    pub next_update: UnixTime,
    /// How many revoked certificates it lists.
    pub entry_count: i64,
    /// The download's `ETag`, for the next conditional GET.
    pub etag: Option<String>,
    /// The download's `Last-Modified`, for the next conditional GET.
    pub last_modified: Option<String>,
    /// When it was downloaded and accepted.
    pub fetched_at: UnixTime,
}

impl CachedCrl {
    /// What [`CrlCacheStore::put_cached_crl`] writes to cache this CRL.
    pub fn to_cache(&self) -> CrlToCache<'_> {
        CrlToCache {
            ca_id: self.ca_id,
            kind: self.kind,
            url: &self.url,
            der: &self.der,
            der_sha256: der_sha256(&self.der),
            crl_number: &self.crl_number,
            this_update: self.this_update,
            next_update: self.next_update,
            entry_count: self.entry_count,
            etag: self.etag.as_deref(),
            last_modified: self.last_modified.as_deref(),
            fetched_at: self.fetched_at,
        }
    }
}

/// A CRL to cache, borrowing its DER: the refresh stores the bytes its parsed CRL holds, so
/// that a 150 MB CRL is never copied on its way into the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrlToCache<'a> {
    /// The trusted CA it belongs to.
    pub ca_id: CaId,
    /// Base or delta.
    pub kind: CrlKind,
    /// The URL it was downloaded from.
    pub url: &'a str,
    /// The CRL, DER.
    pub der: &'a [u8],
    /// SHA-256 of `der` ([`der_sha256`]): what tells the same CRL downloaded again from a
    /// reused number without reading the cached bytes back.
    pub der_sha256: [u8; 32],
    /// Its cRLNumber, INTEGER content octets.
    pub crl_number: &'a [u8],
    /// Its thisUpdate.
    pub this_update: UnixTime,
    /// Its nextUpdate.
    pub next_update: UnixTime,
    /// How many revoked certificates it lists.
    pub entry_count: i64,
    /// The download's `ETag`.
    pub etag: Option<&'a str>,
    /// The download's `Last-Modified`.
    pub last_modified: Option<&'a str>,
    /// When it was downloaded and accepted.
    pub fetched_at: UnixTime,
}

impl CrlToCache<'_> {
    /// The cached record it becomes (a copy of the DER: for in-memory stores).
    pub fn to_cached(&self) -> CachedCrl {
        CachedCrl {
            ca_id: self.ca_id,
            kind: self.kind,
            url: self.url.to_owned(),
            der: self.der.to_vec(),
            crl_number: self.crl_number.to_vec(),
            this_update: self.this_update,
            next_update: self.next_update,
            entry_count: self.entry_count,
            etag: self.etag.map(str::to_owned),
            last_modified: self.last_modified.map(str::to_owned),
            fetched_at: self.fetched_at,
        }
    }
}

/// SHA-256 of a CRL's DER, as [`CrlToCache::der_sha256`] and [`Previous::der_sha256`] hold it.
pub fn der_sha256(der: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// The cached CRL without its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedCrlSummary {
    /// The trusted CA it belongs to.
    pub ca_id: CaId,
    /// Base or delta.
    pub kind: CrlKind,
    /// The URL it was downloaded from.
    pub url: String,
    /// Its cRLNumber, INTEGER content octets.
    pub crl_number: Vec<u8>,
    /// Its thisUpdate.
    pub this_update: UnixTime,
    /// Its nextUpdate.
    pub next_update: UnixTime,
    /// How many revoked certificates it lists.
    pub entry_count: i64,
    /// Its size in bytes (DER).
    pub bytes: i64,
    /// SHA-256 of its DER; `None` for a CRL cached before certgate kept the digest.
    pub der_sha256: Option<Vec<u8>>,
    /// The download's `ETag`.
    pub etag: Option<String>,
    /// The download's `Last-Modified`.
    pub last_modified: Option<String>,
    /// When it was downloaded and accepted.
    pub fetched_at: UnixTime,
}

/// How the last attempts to refresh one CA's CRL went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrlFetchStatus {
    /// The CA.
    pub ca_id: CaId,
    /// Which of its CRLs.
    pub kind: CrlKind,
    /// When the last refresh was tried.
    pub last_attempt_at: UnixTime,
    /// When a refresh last succeeded (a new CRL, the same one, or 304 Not Modified).
    pub last_success_at: Option<UnixTime>,
    /// Code and message of the last failure; cleared by a success.
    pub last_error: Option<(String, String)>,
    /// Failures since the last success; the retry interval grows with it.
    pub consecutive_failures: i64,
    /// When the scheduler will try again.
    pub next_attempt_at: UnixTime,
}

/// Why a download did not replace the cached CRL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrlRefusal {
    /// The download itself failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The body is neither DER nor PEM (an HTML error page, say).
    #[error("the response is not a CRL (it starts with {start:?}); the URL serves something else, such as an error page")]
    NotACrl {
        /// The body's first 48 bytes, non-printable ones as `.`, for the message.
        start: String,
    },
    /// The body does not parse as a CRL.
    #[error("the response is not a valid CRL: {0}")]
    Malformed(Reason),
    /// A delta CRL at the base URL, or a base CRL at the delta URL.
    #[error("expected a {expected} CRL at this URL but got a {found} CRL; check which URL is the base and which the delta")]
    WrongKind {
        /// `base` or `delta`: what the URL is for.
        expected: &'static str,
        /// `base` or `delta`: what it served.
        found: &'static str,
    },
    /// The CRL's issuer is not the CA's subject.
    #[error("the CRL was issued by \"{crl_issuer}\", not by this CA (\"{ca_subject}\")")]
    IssuerMismatch {
        /// The CRL's issuer DN (Windows form).
        crl_issuer: String,
        /// The CA's subject DN (Windows form).
        ca_subject: String,
    },
    /// The CRL's authorityKeyIdentifier is not the CA's subjectKeyIdentifier: another key signed
    /// it.
    #[error("the CRL's authorityKeyIdentifier {crl_aki} does not match this CA's subjectKeyIdentifier {ca_ski}: it was signed by another key")]
    AuthorityKeyMismatch {
        /// The CRL's key identifier, lowercase hex.
        crl_aki: String,
        /// The CA's, lowercase hex.
        ca_ski: String,
    },
    /// The signature does not verify with the CA's public key.
    #[error("the CRL's signature does not verify with this CA's public key: {0}")]
    SignatureInvalid(Reason),
    /// No cRLNumber (RFC 5280 §5.2.3 requires one), so newer and older cannot be told apart.
    #[error("the CRL has no cRLNumber extension, so newer and older CRLs cannot be told apart")]
    NumberMissing,
    /// The CRL number is lower than the cached CRL's: an old CRL could hide revocations.
    #[error("the CRL number {offered} is lower than that of the cached CRL ({cached}); an older CRL is never accepted over a newer one")]
    NumberRegressed {
        /// The cached CRL's number, hex.
        cached: String,
        /// The downloaded CRL's number, hex.
        offered: String,
    },
    /// The cached CRL's number with other content: a CA must never reuse a CRL number.
    #[error("the CRL number {number} is the cached CRL's, but the content differs; a CA must never reuse a CRL number")]
    NumberReused {
        /// The number, hex.
        number: String,
    },
    /// thisUpdate is later than now plus the allowed clock skew.
    #[error("the CRL's thisUpdate {this_update} is in the future (now {now}); check the CA's clock or this server's")]
    NotYetValid {
        /// The CRL's thisUpdate, RFC 3339.
        this_update: String,
        /// Now, RFC 3339.
        now: String,
    },
    /// nextUpdate has passed: the CA is not publishing fresh CRLs.
    #[error("the CRL expired at {next_update} (nextUpdate; now {now}); the CA is not publishing fresh CRLs")]
    Stale {
        /// The CRL's nextUpdate, RFC 3339.
        next_update: String,
        /// Now, RFC 3339.
        now: String,
    },
    /// No nextUpdate, so certgate could not tell when the CRL stops being current.
    #[error("the CRL has no nextUpdate, so certgate cannot tell when it stops being current; publish CRLs with a nextUpdate")]
    NextUpdateMissing,
    /// The download holds several CRLs, or none.
    #[error("the file contains {count} CRLs; a CRL URL must serve exactly one")]
    NotExactlyOne {
        /// How many it holds.
        count: usize,
    },
}

impl CrlRefusal {
    /// Every code [`CrlRefusal::code`] answers with of its own (a failed download is one of
    /// [`FetchError::CODES`]). Each refusal keeps the cached CRL. `crl-malformed`,
    /// `crl-authority-key-mismatch`, `crl-signature-invalid`, `crl-number-missing`,
    /// `crl-not-yet-valid` and `crl-stale` mean what they mean at validation and are listed
    /// with [`certgate_pki::Reason`].
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "crl-not-a-crl",
            "The CRL URL served something that is not a CRL at all (neither DER nor PEM), such as an HTML error page; the cached CRL is kept.",
            "Open the CA's CRL URL (`certgate ca list` shows it) and check what it serves; correct it with `certgate ca set ID --crl-url URL`.",
        ),
        ReasonCode::new(
            "crl-wrong-kind",
            "The base CRL URL served a delta CRL, or the delta CRL URL served a base CRL; the cached CRL is kept.",
            "Swap or correct the CA's URLs (`certgate ca set ID --crl-url URL --delta-crl-url URL`).",
        ),
        ReasonCode::new(
            "crl-issuer-mismatch",
            "The downloaded CRL was issued by another CA than the trusted CA whose URL served it; the cached CRL is kept.",
            "Set the URL where this CA publishes its own CRL (`certgate ca set ID --crl-url URL`).",
        ),
        ReasonCode::new(
            "crl-number-regressed",
            "The downloaded CRL's number is lower than the cached CRL's; an older CRL is never accepted over a newer one (it could hide revocations), and the cached CRL is kept.",
            "Check every server and cache behind the CRL URL: one of them serves an old CRL.",
        ),
        ReasonCode::new(
            "crl-number-reused",
            "The downloaded CRL has the cached CRL's number but different content; a CA must never reuse a CRL number, and the cached CRL is kept.",
            "Ask the CA's operator to fix its CRL numbering; the next CRL with a higher number is accepted.",
        ),
        ReasonCode::new(
            "crl-next-update-missing",
            "The CRL has no nextUpdate, so certgate cannot tell when it stops being current; the cached CRL is kept.",
            "Have the CA's operator publish CRLs with a nextUpdate.",
        ),
        ReasonCode::new(
            "crl-not-exactly-one",
            "The file at the CRL URL holds several CRLs (or none); a CRL URL must serve exactly one. The cached CRL is kept.",
            "Point the CA's CRL URL at a single CRL (`certgate ca set ID --crl-url URL`).",
        ),
    ];

    /// The stable reason code: its own (listed in [`Self::CODES`]), certgate-pki's for the rules
    /// validation shares, or the fetcher's.
    pub fn code(&self) -> &'static str {
        match self {
            CrlRefusal::Fetch(error) => error.code(),
            CrlRefusal::NotACrl { .. } => "crl-not-a-crl",
            CrlRefusal::Malformed(_) => "crl-malformed",
            CrlRefusal::WrongKind { .. } => "crl-wrong-kind",
            CrlRefusal::IssuerMismatch { .. } => "crl-issuer-mismatch",
            CrlRefusal::AuthorityKeyMismatch { .. } => "crl-authority-key-mismatch",
            CrlRefusal::SignatureInvalid(_) => "crl-signature-invalid",
            CrlRefusal::NumberMissing => "crl-number-missing",
            CrlRefusal::NumberRegressed { .. } => "crl-number-regressed",
            CrlRefusal::NumberReused { .. } => "crl-number-reused",
            CrlRefusal::NotYetValid { .. } => "crl-not-yet-valid",
            CrlRefusal::Stale { .. } => "crl-stale",
            CrlRefusal::NextUpdateMissing => "crl-next-update-missing",
            CrlRefusal::NotExactlyOne { .. } => "crl-not-exactly-one",
        }
    }
}

/// What the cache held before, for the ordering checks.
#[derive(Clone, Copy, Debug)]
pub struct Previous<'a> {
    /// The cached CRL's number, INTEGER content octets.
    pub crl_number: &'a [u8],
    /// SHA-256 of the cached CRL's DER ([`der_sha256`]), to tell a reused number from the
    /// same CRL without holding the cached bytes beside the download.
    pub der_sha256: &'a [u8],
}

/// The result of a download that passed every check.
#[derive(Debug)]
pub enum Accepted {
    /// The same CRL as the cached one (same number, same bytes).
    Unchanged,
    /// A CRL with a higher number: it replaces the cached one.
    New(Box<Crl>),
}

/// Decides whether downloaded `bytes` may replace the cached CRL of `ca` (RFC 5280 §5, §6.3.3
/// and Entra's rules: DER or PEM, issued and signed by this CA, AKI = the CA's SKI, a CRL
/// number that never goes backwards, thisUpdate not in the future, nextUpdate present and not
/// past). `clock_skew` tolerates a CA clock slightly ahead of ours.
pub fn accept_downloaded_crl(
    bytes: Vec<u8>,
    kind: CrlKind,
    ca: &Certificate,
    previous: Option<Previous<'_>>,
    now: UnixTime,
    clock_skew_seconds: i64,
) -> Result<Accepted, CrlRefusal> {
    if !looks_like_crl(&bytes) {
        return Err(CrlRefusal::NotACrl {
            start: printable_start(&bytes),
        });
    }
    let mut crls = parse_crls(bytes).map_err(CrlRefusal::Malformed)?;
    if crls.len() != 1 {
        return Err(CrlRefusal::NotExactlyOne { count: crls.len() });
    }
    let crl = crls.remove(0);
    let found = if crl.is_delta() { "delta" } else { "base" };
    if found != kind.as_str() {
        return Err(CrlRefusal::WrongKind {
            expected: kind.as_str(),
            found,
        });
    }
    if crl.issuer() != ca.subject() {
        return Err(CrlRefusal::IssuerMismatch {
            crl_issuer: crl.issuer().to_windows(),
            ca_subject: ca.subject().to_windows(),
        });
    }
    let crl_key_id = crl.authority_key_id().and_then(|aki| aki.key_id.as_deref());
    if let (Some(crl_aki), Some(ca_ski)) = (crl_key_id, ca.extensions().subject_key_id.as_deref()) {
        if crl_aki != ca_ski {
            return Err(CrlRefusal::AuthorityKeyMismatch {
                crl_aki: crate::hex(crl_aki),
                ca_ski: crate::hex(ca_ski),
            });
        }
    }
    crl.verify_signature(ca, &AlgorithmPolicy::default())
        .map_err(CrlRefusal::SignatureInvalid)?;
    let number = crl.crl_number().ok_or(CrlRefusal::NumberMissing)?;
    let mut unchanged = false;
    if let Some(previous) = previous {
        match compare_crl_numbers(number, previous.crl_number) {
            Ordering::Less => {
                return Err(CrlRefusal::NumberRegressed {
                    cached: crate::hex(previous.crl_number),
                    offered: crate::hex(number),
                })
            }
            // The cached CRL again: still checked for currency below, so that a CA serving
            // the same CRL past its nextUpdate is reported as `crl-stale`, not as a success.
            Ordering::Equal if der_sha256(crl.der()).as_slice() == previous.der_sha256 => {
                unchanged = true
            }
            Ordering::Equal => {
                return Err(CrlRefusal::NumberReused {
                    number: crate::hex(number),
                })
            }
            Ordering::Greater => {}
        }
    }
    if crl.this_update().0 > now.0.saturating_add(clock_skew_seconds) {
        return Err(CrlRefusal::NotYetValid {
            this_update: crate::clock::rfc3339(crl.this_update()),
            now: crate::clock::rfc3339(now),
        });
    }
    let next_update = crl.next_update().ok_or(CrlRefusal::NextUpdateMissing)?;
    if next_update.0 < now.0 {
        return Err(CrlRefusal::Stale {
            next_update: crate::clock::rfc3339(next_update),
            now: crate::clock::rfc3339(now),
        });
    }
    if unchanged {
        return Ok(Accepted::Unchanged);
    }
    Ok(Accepted::New(Box::new(crl)))
}

/// A DER SEQUENCE or a PEM block: anything else (HTML, JSON, plain text) is not a CRL at all,
/// which deserves its own message rather than a DER decoding error.
fn looks_like_crl(bytes: &[u8]) -> bool {
    bytes.first() == Some(&0x30) || bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

fn printable_start(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take(48)
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        })
        .collect()
}

/// Compares two CRL numbers (non-negative INTEGER contents, RFC 5280 §5.2.3) by value.
pub fn compare_crl_numbers(a: &[u8], b: &[u8]) -> Ordering {
    fn trimmed(n: &[u8]) -> &[u8] {
        let start = n.iter().position(|&b| b != 0).unwrap_or(n.len());
        &n[start..]
    }
    let (a, b) = (trimmed(a), trimmed(b));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// The CRLs fetched for the trusted CAs, and each URL's fetch status.
pub trait CrlCacheStore: Send + Sync + 'static {
    /// Every cached CRL, DER included (what the validation state is built from).
    fn cached_crls(&self) -> impl Future<Output = StoreResult<Vec<CachedCrl>>> + Send;
    /// The cached CRL of one CA and kind (base or delta), if any.
    fn cached_crl(
        &self,
        ca: CaId,
        kind: CrlKind,
    ) -> impl Future<Output = StoreResult<Option<CachedCrl>>> + Send;
    /// What is cached, without the CRLs' bytes (status pages, metrics, scheduling).
    fn cached_crl_summaries(
        &self,
    ) -> impl Future<Output = StoreResult<Vec<CachedCrlSummary>>> + Send;
    /// Replaces the cached CRL and records the successful attempt, atomically. The DER is
    /// written without being copied whole (a CRL can be 150 MB). In the same
    /// transaction, every unrevoked certificate derived from a certificate of that CA
    /// (`ParentCertificate::trusted_ca`) which the CRL lists is revoked with its descendants
    /// and audited (`authority::ParentRevocations`).
    fn put_cached_crl(
        &self,
        crl: &CrlToCache<'_>,
        status: &CrlFetchStatus,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Records an attempt that did not replace the CRL (failed, or not modified).
    fn put_fetch_status(
        &self,
        status: &CrlFetchStatus,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// The fetch status of every CRL URL.
    fn fetch_statuses(&self) -> impl Future<Output = StoreResult<Vec<CrlFetchStatus>>> + Send;

    /// A number that grows whenever the trust store or the CRL cache changes, so that other
    /// processes on the same database know when to rebuild their validation state.
    fn generation(&self) -> impl Future<Output = StoreResult<i64>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crl_numbers_compare_by_value_whatever_their_padding() {
        assert_eq!(compare_crl_numbers(&[0, 5], &[5]), Ordering::Equal);
        assert_eq!(compare_crl_numbers(&[1, 0], &[0xff]), Ordering::Greater);
        assert_eq!(compare_crl_numbers(&[2], &[0, 0x10]), Ordering::Less);
    }

    #[test]
    fn an_html_page_is_not_a_crl() {
        let html = b"<html><head><title>Service Unavailable</title></head></html>".to_vec();
        let pki = certgate_testpki::TestPki::three_level(&certgate_testpki::ChainSpec::default())
            .expect("test PKI");
        let ca = Certificate::from_der(&pki.root.der).expect("root");
        let refusal =
            accept_downloaded_crl(html, CrlKind::Base, &ca, None, UnixTime(0), 0).unwrap_err();
        assert_eq!(refusal.code(), "crl-not-a-crl");
        assert!(refusal.to_string().contains("<html><head><title>Service"));
    }
}
