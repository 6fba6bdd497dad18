//! Name constraints (RFC 5280 §4.2.1.10) as path validation applies them: the state starts
//! unbounded (§6.1.2 (b), (c)), every certificate's names are checked against it (§6.1.3 (b),
//! (c)) and every CA's nameConstraints extension narrows it (§6.1.4 (g)).
//!
//! certgate evaluates dNSName, rfc822Name, uniformResourceIdentifier, iPAddress and
//! directoryName subtrees. Everything else fails closed: a subtree of another form
//! (otherName, x400Address, ediPartyName, registeredID) or a base that does not decode, rejects
//! any certificate carrying a name of that same form, because certgate cannot tell whether
//! the name lies inside the subtree. Names of a form no subtree mentions are never restricted
//! ("restrictions apply only when the specified name form is present", §4.2.1.10).
//!
//! The trust anchor's own nameConstraints seed the state (RFC 5280 §6.2 lets the anchor's
//! constraints be path-validation inputs; webpki, pyca/cryptography, Go, NSS and OpenSSL all
//! apply them), so a constrained root or trusted intermediate constrains every path below it.
//! The extension itself must be well formed (§4.2.1.10): critical, only in CA certificates,
//! at least one non-empty subtree list, and no minimum/maximum. Matching work is bounded by
//! [`NameConstraintBudget`] so that a certificate with thousands of names under a CA with
//! thousands of subtrees cannot make validation quadratic without limit.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::certificate::{Certificate, GeneralName, NameConstraints};
use crate::error::Reason;
use crate::extension_der::Kind;
use crate::name::Name;
use crate::oid::known;

use x509_parser::der_parser::asn1_rs::{Any, Class, FromDer, Tag};

/// The name-constraint comparisons one validation may spend, across every path it tries.
///
/// Each certificate checked against a constrained state costs (its names: subject DN, DN
/// e-mail addresses and subjectAltName entries) × (the subtrees in force), charged before any
/// comparison is made; a certificate whose charge would exceed what is left is rejected with
/// `name-constraints-budget-exceeded`. webpki and pyca/cryptography bound the same work
/// (250,000 comparisons by default).
#[derive(Debug)]
pub(crate) struct NameConstraintBudget {
    limit: u64,
    used: Cell<u64>,
}

impl NameConstraintBudget {
    pub(crate) fn new(limit: u64) -> Self {
        NameConstraintBudget {
            limit,
            used: Cell::new(0),
        }
    }

    fn charge(&self, comparisons: u64) -> Result<(), Reason> {
        let used = self.used.get().saturating_add(comparisons);
        if used > self.limit {
            return Err(Reason::NameConstraintsBudgetExceeded { budget: self.limit });
        }
        self.used.set(used);
        Ok(())
    }
}

/// What makes a nameConstraints extension value (RFC 5280 §4.2.1.10) malformed, if anything.
/// x509-parser reads past these, so they are checked on the raw DER:
///
/// ```text
/// NameConstraints ::= SEQUENCE {
///      permittedSubtrees       [0]     GeneralSubtrees OPTIONAL,
///      excludedSubtrees        [1]     GeneralSubtrees OPTIONAL }
/// GeneralSubtrees ::= SEQUENCE SIZE (1..MAX) OF GeneralSubtree
/// GeneralSubtree ::= SEQUENCE {
///      base                    GeneralName,
///      minimum         [0]     BaseDistance DEFAULT 0,
///      maximum         [1]     BaseDistance OPTIONAL }
/// ```
///
/// "Conforming CAs MUST NOT issue certificates where name constraints is an empty sequence",
/// GeneralSubtrees has SIZE (1..MAX), and "minimum MUST be zero, and maximum MUST be absent"
/// (in DER a zero minimum is omitted, so neither field may appear; CA/B Forum BRs 7.1.2.10.8:
/// "MUST NOT be present").
pub(crate) fn structural_defect(value: &[u8]) -> Option<&'static str> {
    let Ok((rest, outer)) = Any::from_der(value) else {
        return Some("the extension value does not decode");
    };
    if !rest.is_empty() || outer.class() != Class::Universal || outer.tag() != Tag::Sequence {
        return Some("the extension value is not one SEQUENCE");
    }
    if outer.data.is_empty() {
        return Some("neither permittedSubtrees nor excludedSubtrees is present");
    }
    let mut content = outer.data;
    let mut last_tag: Option<u32> = None;
    while !content.is_empty() {
        let Ok((rest, field)) = Any::from_der(content) else {
            return Some("a field does not decode");
        };
        content = rest;
        let tag = field.tag().0;
        if field.class() != Class::ContextSpecific
            || tag > 1
            || last_tag.is_some_and(|last| last >= tag)
        {
            return Some("a field other than permittedSubtrees [0] and excludedSubtrees [1]");
        }
        last_tag = Some(tag);
        if field.data.is_empty() {
            return Some(if tag == 0 {
                "permittedSubtrees is present but empty"
            } else {
                "excludedSubtrees is present but empty"
            });
        }
        let mut subtrees = field.data;
        while !subtrees.is_empty() {
            let Ok((rest, subtree)) = Any::from_der(subtrees) else {
                return Some("a GeneralSubtree does not decode");
            };
            subtrees = rest;
            if subtree.class() != Class::Universal || subtree.tag() != Tag::Sequence {
                return Some("a GeneralSubtree is not a SEQUENCE");
            }
            let Ok((bounds, _base)) = Any::from_der(subtree.data) else {
                return Some("a GeneralSubtree has no base");
            };
            if !bounds.is_empty() {
                return Some("a GeneralSubtree has a minimum or maximum, which must be absent");
            }
        }
    }
    None
}

/// The `permitted_subtrees` and `excluded_subtrees` state variables of RFC 5280 §6.1.2.
///
/// `permitted_subtrees` is kept per name form as the list of permitted sets seen so far, one
/// per CA whose permittedSubtrees named that form. A name must lie inside some subtree of
/// *every* set: that conjunction is exactly the intersection §6.1.4 (g)(i) asks for, including
/// its corner cases (two disjoint sets permit nothing of the form; `example.com` then
/// `.example.com` permits only subdomains), without computing subtree intersections by hand
/// for five syntaxes. A form absent from the map is unbounded. The lists grow by at most one
/// set per CA on the path, which the path length already bounds.
#[derive(Clone, Debug, Default)]
pub(crate) struct NameConstraintsState {
    permitted: BTreeMap<Form, Vec<Vec<Subtree>>>,
    excluded: Vec<Subtree>,
}

impl NameConstraintsState {
    /// §6.1.2 (b), (c): permitted = unbounded, excluded = empty.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// True when no constraint has been recorded (fast path).
    pub(crate) fn is_unconstrained(&self) -> bool {
        self.permitted.is_empty() && self.excluded.is_empty()
    }

    /// §6.1.3 (b), (c): checks certificate i's subject DN and subjectAltName names.
    ///
    /// Self-issued certificates other than the end entity are skipped (§6.1.3 (b)): they carry
    /// the CA's own name (key rollover), which commonly lies outside the subtrees that CA
    /// imposes on what it issues (PKITS 4.13.19). A self-issued end entity is a real subject
    /// and is checked (PKITS 4.13.20).
    ///
    /// The end entity is also checked for carrying nameConstraints itself (§4.2.1.10: "MUST be
    /// used only in a CA certificate"); a leaf whose basicConstraints says cA is a CA
    /// certificate and may carry them. The comparisons are charged to `budget` first.
    pub(crate) fn check(
        &self,
        cert: &Certificate,
        is_end_entity: bool,
        budget: &NameConstraintBudget,
    ) -> Result<(), Reason> {
        if is_end_entity && !cert.is_ca() && cert.has_extension(Kind::NameConstraints) {
            return Err(Reason::NameConstraintsInEndEntity);
        }
        if self.is_unconstrained() || (cert.is_self_issued() && !is_end_entity) {
            return Ok(());
        }
        let sans = cert
            .extensions()
            .subject_alt_names
            .as_deref()
            .unwrap_or(&[]);
        let dn_emails = cert
            .subject()
            .rdns()
            .iter()
            .flatten()
            .filter(|a| a.oid().as_str() == known::ATTR_EMAIL_ADDRESS)
            .count();
        let names = 1 + dn_emails as u64 + sans.len() as u64;
        budget.charge(names.saturating_mul(self.subtree_count()))?;
        self.check_names(cert.subject(), sans)
    }

    /// Subtrees in force, of every form: the per-name cost of a check.
    fn subtree_count(&self) -> u64 {
        let permitted: usize = self.permitted.values().flatten().map(Vec::len).sum();
        (permitted + self.excluded.len()) as u64
    }

    /// §6.1.4 (g) for the CA certificate `ca` (an intermediate on the path, or the trust
    /// anchor itself, §6.2): validates its nameConstraints extension, if any, and folds it in.
    pub(crate) fn apply(&mut self, ca: &Certificate) -> Result<(), Reason> {
        if !ca.has_extension(Kind::NameConstraints) {
            return Ok(());
        }
        let Some(constraints) = &ca.extensions().name_constraints else {
            return Ok(());
        };
        // §4.2.1.10: "Conforming CAs MUST mark this extension as critical". A relying party
        // that ignored a non-critical one would be fail-open; one that applied it would
        // disagree with software that ignores it. Rejecting is what pyca/cryptography does.
        if !constraints.critical {
            return Err(Reason::NameConstraintsNotCritical {
                ca: ca.subject().to_string(),
            });
        }
        if let Some(defect) = constraints.defect {
            return Err(Reason::NameConstraintsMalformed {
                ca: ca.subject().to_string(),
                detail: defect.into(),
            });
        }
        self.update(constraints);
        Ok(())
    }

    /// §6.1.4 (g): intersects permitted_subtrees with the extension's permittedSubtrees and
    /// adds its excludedSubtrees to excluded_subtrees.
    pub(crate) fn update(&mut self, constraints: &NameConstraints) {
        if let Some(permitted) = &constraints.permitted {
            let mut by_form: BTreeMap<Form, Vec<Subtree>> = BTreeMap::new();
            for base in permitted {
                let subtree = Subtree::parse(base);
                by_form.entry(subtree.form()).or_default().push(subtree);
            }
            for (form, set) in by_form {
                self.permitted.entry(form).or_default().push(set);
            }
        }
        if let Some(excluded) = &constraints.excluded {
            self.excluded.extend(excluded.iter().map(Subtree::parse));
        }
    }

    fn check_names(&self, subject: &Name, sans: &[GeneralName]) -> Result<(), Reason> {
        // An empty subject names nothing; RFC 5280 §4.1.2.6 lets the name live only in the
        // subjectAltName, which is checked below (PKITS 4.13.14 relies on this).
        if !subject.is_empty() && self.constrains(Form::Directory) {
            self.check_name(&GeneralName::Directory(subject.clone()))?;
        }
        // §4.2.1.10 applies rfc822Name constraints to the subject's emailAddress attributes
        // when the certificate has no subjectAltName. certgate checks them always (as OpenSSL
        // does): an address in the DN that a constraint excludes must not slip through because
        // the SAN happens to carry a permitted one, since DN e-mail is shown to people and
        // some mappings read it.
        if self.constrains(Form::Rfc822) {
            for attribute in subject.rdns().iter().flatten() {
                if attribute.oid().as_str() != known::ATTR_EMAIL_ADDRESS {
                    continue;
                }
                match attribute.text() {
                    Some(email) => self.check_name(&GeneralName::Rfc822(email))?,
                    None => {
                        return Err(Reason::NameConstraintsViolated {
                            name: "email:(undecodable emailAddress attribute)".into(),
                        })
                    }
                }
            }
        }
        for name in sans {
            self.check_name(name)?;
        }
        Ok(())
    }

    fn constrains(&self, form: Form) -> bool {
        self.permitted.contains_key(&form) || self.excluded.iter().any(|s| s.form() == form)
    }

    /// One name against the subtrees of its own form.
    fn check_name(&self, name: &GeneralName) -> Result<(), Reason> {
        let form = Form::of(name);
        let permitted: &[Vec<Subtree>] = self.permitted.get(&form).map_or(&[], Vec::as_slice);
        let excluded: Vec<&Subtree> = self.excluded.iter().filter(|s| s.form() == form).collect();
        if permitted.is_empty() && excluded.is_empty() {
            return Ok(());
        }
        let unevaluable = permitted
            .iter()
            .flatten()
            .chain(excluded.iter().copied())
            .find_map(|s| match s {
                Subtree::Unevaluable { form, malformed } => Some((*form, *malformed)),
                _ => None,
            });
        if let Some((form, malformed)) = unevaluable {
            let form = if malformed {
                format!("malformed {}", form.label())
            } else {
                form.label()
            };
            return Err(Reason::NameConstraintsUnsupported { form });
        }
        let violated = || Reason::NameConstraintsViolated { name: render(name) };
        // A name certgate cannot take apart cannot be shown to lie inside a permitted subtree
        // or outside an excluded one.
        let presented = Presented::parse(name).ok_or_else(violated)?;
        for set in permitted {
            if !set.iter().any(|s| s.contains(&presented)) {
                return Err(violated());
            }
        }
        if excluded.iter().any(|s| s.intersects(&presented)) {
            return Err(violated());
        }
        Ok(())
    }
}

/// GeneralName forms, by their context tag (RFC 5280 §4.2.1.6). A subtree restricts only names
/// of its own form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Form {
    OtherName,
    Rfc822,
    Dns,
    X400Address,
    Directory,
    EdiPartyName,
    Uri,
    Ip,
    RegisteredId,
    /// A context tag X.509 does not define.
    Unknown(u32),
}

impl Form {
    fn from_tag(tag: u32) -> Form {
        match tag {
            0 => Form::OtherName,
            1 => Form::Rfc822,
            2 => Form::Dns,
            3 => Form::X400Address,
            4 => Form::Directory,
            5 => Form::EdiPartyName,
            6 => Form::Uri,
            7 => Form::Ip,
            8 => Form::RegisteredId,
            other => Form::Unknown(other),
        }
    }

    fn of(name: &GeneralName) -> Form {
        match name {
            GeneralName::OtherName { .. } => Form::OtherName,
            GeneralName::Rfc822(_) => Form::Rfc822,
            GeneralName::Dns(_) => Form::Dns,
            GeneralName::Directory(_) => Form::Directory,
            GeneralName::Uri(_) => Form::Uri,
            GeneralName::Ip(_) => Form::Ip,
            GeneralName::RegisteredId(_) => Form::RegisteredId,
            // A name that did not decode keeps its tag, so it still meets the subtrees of its
            // form and fails closed there.
            GeneralName::Unsupported { tag } => Form::from_tag(*tag),
        }
    }

    /// The ASN.1 field name, for messages.
    fn label(self) -> String {
        match self {
            Form::OtherName => "otherName".into(),
            Form::Rfc822 => "rfc822Name".into(),
            Form::Dns => "dNSName".into(),
            Form::X400Address => "x400Address".into(),
            Form::Directory => "directoryName".into(),
            Form::EdiPartyName => "ediPartyName".into(),
            Form::Uri => "uniformResourceIdentifier".into(),
            Form::Ip => "iPAddress".into(),
            Form::RegisteredId => "registeredID".into(),
            Form::Unknown(tag) => format!("[{tag}]"),
        }
    }
}

/// A subtree base, decoded once when the CA's extension is folded into the state.
#[derive(Clone, Debug)]
enum Subtree {
    Dns(DomainPattern),
    Rfc822(MailboxPattern),
    /// Applies to the host part of a URI (§4.2.1.10).
    Uri(DomainPattern),
    Ip(IpSubnet),
    Directory(Name),
    /// A form certgate does not evaluate, or a base that is malformed: any name of `form`
    /// fails closed against it.
    Unevaluable {
        form: Form,
        malformed: bool,
    },
}

impl Subtree {
    fn parse(base: &GeneralName) -> Subtree {
        let form = Form::of(base);
        let malformed = Subtree::Unevaluable {
            form,
            malformed: true,
        };
        match base {
            GeneralName::Dns(text) => {
                // An empty dNSName base is read as the whole DNS name space, as NSS, Go and
                // OpenSSL do: permitted it restricts nothing, excluded it forbids every dNSName.
                if text.is_empty() {
                    return Subtree::Dns(DomainPattern {
                        labels: Vec::new(),
                        scope: Scope::OrSubdomains,
                    });
                }
                DomainPattern::parse(text, Scope::OrSubdomains).map_or(malformed, Subtree::Dns)
            }
            GeneralName::Rfc822(text) => {
                MailboxPattern::parse(text).map_or(malformed, Subtree::Rfc822)
            }
            GeneralName::Uri(text) => {
                DomainPattern::parse(text, Scope::Exactly).map_or(malformed, Subtree::Uri)
            }
            GeneralName::Ip(bytes) => IpSubnet::parse(bytes).map_or(malformed, Subtree::Ip),
            GeneralName::Directory(name) => Subtree::Directory(name.clone()),
            GeneralName::Unsupported { .. } if is_evaluated_form(form) => malformed,
            GeneralName::OtherName { .. }
            | GeneralName::RegisteredId(_)
            | GeneralName::Unsupported { .. } => Subtree::Unevaluable {
                form,
                malformed: false,
            },
        }
    }

    fn form(&self) -> Form {
        match self {
            Subtree::Dns(_) => Form::Dns,
            Subtree::Rfc822(_) => Form::Rfc822,
            Subtree::Uri(_) => Form::Uri,
            Subtree::Ip(_) => Form::Ip,
            Subtree::Directory(_) => Form::Directory,
            Subtree::Unevaluable { form, .. } => *form,
        }
    }

    /// The name lies entirely inside this subtree (the permitted_subtrees test).
    fn contains(&self, name: &Presented<'_>) -> bool {
        match (self, name) {
            (Subtree::Dns(pattern), Presented::Dns(labels)) => pattern.matches(labels),
            (Subtree::Rfc822(pattern), Presented::Mailbox { local, domain }) => {
                pattern.matches(local, domain)
            }
            (Subtree::Uri(pattern), Presented::UriHost(host)) => pattern.matches(host),
            (Subtree::Ip(subnet), Presented::Ip(address)) => subnet.contains(address),
            (Subtree::Directory(prefix), Presented::Directory(name)) => name.starts_with(prefix),
            _ => false,
        }
    }

    /// Some name the presented one stands for lies inside this subtree (the excluded_subtrees
    /// test). Wider than [`Subtree::contains`] for two names that stand for more than one:
    /// a wildcard dNSName, and an IPv4-mapped IPv6 address.
    fn intersects(&self, name: &Presented<'_>) -> bool {
        if self.contains(name) {
            return true;
        }
        match (self, name) {
            // `*.example.com` covers `bad.example.com`: excluding the latter excludes the former.
            (Subtree::Dns(pattern), Presented::Dns(labels)) => {
                labels.first().is_some_and(|l| l == "*") && pattern.covered_by_wildcard(labels)
            }
            // `::ffff:10.0.0.1` is 10.0.0.1 to a dual-stack peer; an IPv4 exclusion must not
            // be sidestepped by writing the address the other way (and vice versa).
            (Subtree::Ip(subnet), Presented::Ip(address)) => {
                other_ip_family(address).is_some_and(|alias| subnet.contains(&alias))
            }
            _ => false,
        }
    }
}

fn is_evaluated_form(form: Form) -> bool {
    matches!(
        form,
        Form::Rfc822 | Form::Dns | Form::Directory | Form::Uri | Form::Ip
    )
}

/// How much of the DNS tree below `labels` a domain pattern covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    /// Exactly that host: rfc822Name `host` and URI `host` constraints.
    Exactly,
    /// The domain and every name below it: dNSName constraints ("adding zero or more labels
    /// to the left-hand side", §4.2.1.10).
    OrSubdomains,
    /// Only names below it: the leading-dot forms (`.example.com`) of rfc822Name and URI
    /// constraints ("a domain with a leading period ... all subdomains", §4.2.1.10), and of
    /// dNSName constraints. RFC 5280 gives dNSName no leading-dot form, but CAs write one to
    /// mean "subdomains only" and webpki, pyca/cryptography, Go and OpenSSL all read it so;
    /// reading it as "the domain and its subdomains" instead would permit `example.com` under
    /// `.example.com`, which such a CA meant to keep out.
    SubdomainsOnly,
}

#[derive(Clone, Debug)]
struct DomainPattern {
    /// Lowercase labels, left to right.
    labels: Vec<String>,
    scope: Scope,
}

impl DomainPattern {
    /// `plain` is the scope of a base without a leading dot.
    fn parse(base: &str, plain: Scope) -> Option<DomainPattern> {
        let (rest, scope) = match base.strip_prefix('.') {
            Some(rest) => (rest, Scope::SubdomainsOnly),
            None => (base, plain),
        };
        Some(DomainPattern {
            labels: domain_labels(rest, Wildcard::Rejected)?,
            scope,
        })
    }

    fn matches(&self, name: &[String]) -> bool {
        // DNS comparison is case-insensitive: both sides are lowercased when parsed.
        name.ends_with(&self.labels)
            && match self.scope {
                Scope::Exactly => name.len() == self.labels.len(),
                Scope::OrSubdomains => true,
                Scope::SubdomainsOnly => name.len() > self.labels.len(),
            }
    }

    /// `wildcard` is `*.rest`; true when one of the names it covers (`x.rest`, one label
    /// instead of `*`) lies inside this pattern.
    fn covered_by_wildcard(&self, wildcard: &[String]) -> bool {
        let rest = wildcard.get(1..).unwrap_or_default();
        let one_label_below =
            |labels: &[String]| labels.len() == rest.len() + 1 && labels.ends_with(rest);
        match self.scope {
            // Some `x.rest` equals the host, or the host's domain tree.
            Scope::Exactly | Scope::OrSubdomains => one_label_below(&self.labels),
            // `x.rest` lies strictly below `labels` only if `rest` is inside `labels`, which
            // `contains` already decided.
            Scope::SubdomainsOnly => false,
        }
    }
}

/// An rfc822Name base (§4.2.1.10): a mailbox, all mailboxes on a host, or all mailboxes in a
/// domain (leading dot).
#[derive(Clone, Debug)]
enum MailboxPattern {
    /// Local part compared exactly (RFC 5321 §2.4: it is case-sensitive); domain lowercase.
    Mailbox {
        local: String,
        domain: Vec<String>,
    },
    Domain(DomainPattern),
}

impl MailboxPattern {
    fn parse(base: &str) -> Option<MailboxPattern> {
        if base.contains('@') {
            let (local, domain) = split_mailbox(base)?;
            Some(MailboxPattern::Mailbox {
                local: local.to_string(),
                domain,
            })
        } else {
            DomainPattern::parse(base, Scope::Exactly).map(MailboxPattern::Domain)
        }
    }

    fn matches(&self, local: &str, domain: &[String]) -> bool {
        match self {
            MailboxPattern::Mailbox {
                local: l,
                domain: d,
            } => l == local && d.as_slice() == domain,
            MailboxPattern::Domain(pattern) => pattern.matches(domain),
        }
    }
}

/// Splits `local@domain`. Quoted or escaped local parts are refused: two spellings of one
/// mailbox would let a name slip past an excluded mailbox, and certgate does not unquote.
fn split_mailbox(text: &str) -> Option<(&str, Vec<String>)> {
    let (local, domain) = text.rsplit_once('@')?;
    if local.is_empty()
        || !local
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\' && b != b'@')
    {
        return None;
    }
    Some((local, domain_labels(domain, Wildcard::Rejected)?))
}

#[derive(Clone, Debug)]
struct IpSubnet {
    address: Vec<u8>,
    mask: Vec<u8>,
}

impl IpSubnet {
    /// An iPAddress base is address then mask: 8 octets for IPv4, 32 for IPv6 (§4.2.1.10).
    /// The mask must be contiguous ones then zeros (a CIDR prefix); anything else is malformed.
    fn parse(bytes: &[u8]) -> Option<IpSubnet> {
        if bytes.len() != 8 && bytes.len() != 32 {
            return None;
        }
        let (address, mask) = bytes.split_at(bytes.len() / 2);
        let mut seen_zero = false;
        for byte in mask {
            for bit in (0..8).rev() {
                let one = byte & (1 << bit) != 0;
                if one && seen_zero {
                    return None;
                }
                seen_zero |= !one;
            }
        }
        Some(IpSubnet {
            address: address.to_vec(),
            mask: mask.to_vec(),
        })
    }

    fn contains(&self, address: &[u8]) -> bool {
        address.len() == self.address.len()
            && address
                .iter()
                .zip(&self.address)
                .zip(&self.mask)
                .all(|((a, b), m)| a & m == b & m)
    }
}

/// The same address in the other family: IPv4 for an IPv4-mapped IPv6 address
/// (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2) and the mapped form for an IPv4 address.
fn other_ip_family(address: &[u8]) -> Option<Vec<u8>> {
    match address.len() {
        4 => Some([[0u8; 10].as_slice(), &[0xff, 0xff], address].concat()),
        16 => {
            let (prefix, v4) = address.split_at(12);
            (prefix == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]).then(|| v4.to_vec())
        }
        _ => None,
    }
}

/// A certificate's name, taken apart for matching.
enum Presented<'a> {
    Dns(Vec<String>),
    Mailbox { local: &'a str, domain: Vec<String> },
    UriHost(Vec<String>),
    Ip(&'a [u8]),
    Directory(&'a Name),
}

impl<'a> Presented<'a> {
    /// `None` when the name is malformed, or cannot be compared with subtrees of its form.
    fn parse(name: &'a GeneralName) -> Option<Presented<'a>> {
        match name {
            GeneralName::Dns(text) => {
                domain_labels(text, Wildcard::LeftmostLabel).map(Presented::Dns)
            }
            GeneralName::Rfc822(text) => {
                let (local, domain) = split_mailbox(text)?;
                Some(Presented::Mailbox { local, domain })
            }
            GeneralName::Uri(text) => uri_host(text).map(Presented::UriHost),
            GeneralName::Ip(bytes) => {
                (bytes.len() == 4 || bytes.len() == 16).then_some(Presented::Ip(bytes))
            }
            GeneralName::Directory(name) => Some(Presented::Directory(name)),
            GeneralName::OtherName { .. }
            | GeneralName::RegisteredId(_)
            | GeneralName::Unsupported { .. } => None,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Wildcard {
    /// A leftmost `*` label is allowed (dNSName in a certificate).
    LeftmostLabel,
    Rejected,
}

/// Lowercase labels of a domain name, or `None` when it is not a plain ASCII host name: empty
/// labels (including an absolute name's trailing dot), characters other than letters, digits,
/// `-` and `_`, or a `*` anywhere but as a whole leftmost label where allowed. Refusing these
/// keeps comparison a matter of equal labels: no IDN, percent-encoding or IP-literal
/// look-alikes for a name to hide behind.
fn domain_labels(text: &str, wildcard: Wildcard) -> Option<Vec<String>> {
    text.split('.')
        .enumerate()
        .map(|(i, label)| {
            let star = i == 0 && wildcard == Wildcard::LeftmostLabel && label == "*";
            let plain = !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            (star || plain).then(|| label.to_ascii_lowercase())
        })
        .collect()
}

/// The host of a URI, as labels: the part URI constraints apply to (§4.2.1.10).
///
/// `None` when there is no host to compare: a URI without an authority (`urn:`, `mailto:`), an
/// empty host, or an IP address (`http://10.0.0.1/`, `http://[::1]/`). URI subtrees are
/// domain names, so such a URI cannot be shown to lie inside a permitted one; and letting it
/// past an excluded one would hand a constrained CA a way to issue URIs the constraint never
/// looks at. certgate rejects them whenever URI constraints are in force, as Go does.
fn uri_host(uri: &str) -> Option<Vec<String>> {
    let (scheme, rest) = uri.split_once(':')?;
    let scheme_ok = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    let after_slashes = rest.strip_prefix("//")?;
    if !scheme_ok {
        return None;
    }
    let authority = after_slashes
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host_port.starts_with('[') {
        return None;
    }
    let host = match host_port.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        Some(_) => return None,
        None => host_port,
    };
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        // Empty, or an IPv4 address.
        return None;
    }
    domain_labels(host, Wildcard::Rejected)
}

/// `dns:foo.example`, `email:a@b`, `dn:CN=...`: readable, with control characters escaped
/// because the text comes from an untrusted certificate and ends up in logs.
fn render(name: &GeneralName) -> String {
    match name {
        GeneralName::Rfc822(text) => format!("email:{}", text.escape_debug()),
        GeneralName::Dns(text) => format!("dns:{}", text.escape_debug()),
        GeneralName::Uri(text) => format!("uri:{}", text.escape_debug()),
        GeneralName::Ip(bytes) => {
            if let Ok(v4) = <[u8; 4]>::try_from(bytes.as_slice()) {
                format!("ip:{}", Ipv4Addr::from(v4))
            } else if let Ok(v6) = <[u8; 16]>::try_from(bytes.as_slice()) {
                format!("ip:{}", Ipv6Addr::from(v6))
            } else {
                format!("ip:(malformed, {} octets)", bytes.len())
            }
        }
        GeneralName::Directory(name) => format!("dn:{}", name.to_rfc4514().escape_debug()),
        GeneralName::OtherName { type_id, .. } => format!("othername:{type_id}"),
        GeneralName::RegisteredId(oid) => format!("registeredid:{oid}"),
        GeneralName::Unsupported { tag } => {
            format!("{}:(undecodable)", Form::from_tag(*tag).label())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::NameAttribute;
    use crate::oid::Oid;

    fn dns(s: &str) -> GeneralName {
        GeneralName::Dns(s.into())
    }
    fn email(s: &str) -> GeneralName {
        GeneralName::Rfc822(s.into())
    }
    fn uri(s: &str) -> GeneralName {
        GeneralName::Uri(s.into())
    }
    fn ip(bytes: &[u8]) -> GeneralName {
        GeneralName::Ip(bytes.to_vec())
    }

    /// A name from (attribute OID, value) pairs, one attribute per RDN, PrintableString/IA5.
    fn dn(parts: &[(&str, &str)]) -> Name {
        let rdns = parts
            .iter()
            .map(|(oid, value)| {
                let tag = if *oid == known::ATTR_EMAIL_ADDRESS {
                    22
                } else {
                    19
                };
                vec![NameAttribute {
                    oid: Oid::new(*oid),
                    tag,
                    value: value.as_bytes().to_vec(),
                }]
            })
            .collect();
        Name::from_rdns(rdns)
    }
    const C: &str = "2.5.4.6";
    const O: &str = "2.5.4.10";
    const CN: &str = "2.5.4.3";
    const EMAIL: &str = known::ATTR_EMAIL_ADDRESS;

    fn permitting(bases: &[GeneralName]) -> NameConstraints {
        NameConstraints {
            permitted: Some(bases.to_vec()),
            excluded: None,
            critical: true,
            defect: None,
        }
    }
    fn excluding(bases: &[GeneralName]) -> NameConstraints {
        NameConstraints {
            permitted: None,
            excluded: Some(bases.to_vec()),
            critical: true,
            defect: None,
        }
    }
    fn state(constraints: &[NameConstraints]) -> NameConstraintsState {
        let mut state = NameConstraintsState::new();
        for c in constraints {
            state.update(c);
        }
        state
    }
    fn accepts(state: &NameConstraintsState, name: &GeneralName) -> bool {
        match state.check_name(name) {
            Ok(()) => true,
            Err(Reason::NameConstraintsViolated { .. }) => false,
            Err(other) => panic!("{name:?}: unexpected {other:?}"),
        }
    }
    fn unsupported(state: &NameConstraintsState, name: &GeneralName) -> Option<String> {
        match state.check_name(name) {
            Err(Reason::NameConstraintsUnsupported { form }) => Some(form),
            _ => None,
        }
    }

    // ---- State ------------------------------------------------------------------------------

    #[test]
    fn new_state_is_unconstrained_and_accepts_everything() {
        let state = NameConstraintsState::new();
        assert!(state.is_unconstrained());
        assert!(state
            .check_names(
                &dn(&[(CN, "x")]),
                &[dns("anything"), GeneralName::Unsupported { tag: 3 }]
            )
            .is_ok());
    }

    #[test]
    fn state_with_only_excluded_subtrees_is_constrained() {
        assert!(!state(&[excluding(&[dns("example.com")])]).is_unconstrained());
        assert!(!state(&[permitting(&[dns("example.com")])]).is_unconstrained());
        assert!(state(&[NameConstraints {
            permitted: None,
            excluded: None,
            critical: true,
            defect: None,
        }])
        .is_unconstrained());
    }

    // ---- dNSName ------------------------------------------------------------------------------

    #[test]
    fn dns_constraint_permits_the_domain_and_names_below_it_case_insensitively() {
        let s = state(&[permitting(&[dns("Example.COM")])]);
        assert!(accepts(&s, &dns("example.com")));
        assert!(accepts(&s, &dns("x.example.com")));
        assert!(accepts(&s, &dns("A.B.EXAMPLE.com")));
        assert!(!accepts(&s, &dns("example.org")));
        assert!(!accepts(&s, &dns("com")));
    }

    #[test]
    fn dns_constraint_matches_whole_labels_only() {
        let s = state(&[permitting(&[dns("example.com")])]);
        assert!(!accepts(&s, &dns("badexample.com")));
        let s = state(&[excluding(&[dns("example.com")])]);
        assert!(accepts(&s, &dns("badexample.com")));
    }

    #[test]
    fn dns_leading_dot_constraint_matches_only_names_below_the_domain() {
        let s = state(&[permitting(&[dns(".example.com")])]);
        assert!(accepts(&s, &dns("x.example.com")));
        assert!(!accepts(&s, &dns("example.com")));
        assert!(!accepts(&s, &dns("badexample.com")));
    }

    #[test]
    fn dns_excluded_subtree_rejects_the_domain_and_names_below_it() {
        let s = state(&[excluding(&[dns("bad.example")])]);
        assert!(!accepts(&s, &dns("bad.example")));
        assert!(!accepts(&s, &dns("WWW.Bad.Example")));
        assert!(accepts(&s, &dns("good.example")));
    }

    #[test]
    fn dns_empty_constraint_covers_every_dns_name() {
        let s = state(&[permitting(&[dns("")])]);
        assert!(accepts(&s, &dns("anything.example")));
        let s = state(&[excluding(&[dns("")])]);
        assert!(!accepts(&s, &dns("anything.example")));
    }

    #[test]
    fn dns_wildcard_name_is_excluded_when_it_covers_an_excluded_host() {
        let s = state(&[excluding(&[dns("bad.example.com")])]);
        assert!(!accepts(&s, &dns("*.example.com")));
        assert!(accepts(&s, &dns("*.good.example.com")));
        assert!(!accepts(&s, &dns("*.bad.example.com")));
        // A wildcard covers one label: it does not reach two labels below.
        let s = state(&[excluding(&[dns("x.bad.example.com")])]);
        assert!(accepts(&s, &dns("*.example.com")));
        // A leading-dot exclusion of bad.example.com's subdomains does not cover bad.example.com.
        let s = state(&[excluding(&[dns(".bad.example.com")])]);
        assert!(accepts(&s, &dns("*.example.com")));
    }

    #[test]
    fn dns_wildcard_name_is_permitted_only_when_every_name_it_covers_is() {
        let s = state(&[permitting(&[dns("example.com")])]);
        assert!(accepts(&s, &dns("*.example.com")));
        let s = state(&[permitting(&[dns("a.example.com")])]);
        assert!(!accepts(&s, &dns("*.example.com")));
    }

    #[test]
    fn malformed_dns_names_are_rejected_when_dns_constraints_apply() {
        let s = state(&[excluding(&[dns("bad.example")])]);
        for name in [
            "good.example.",
            "a..example",
            "",
            "ex ample.com",
            "f*.example",
            "a.*.example",
            "bücher.example",
        ] {
            assert!(!accepts(&s, &dns(name)), "{name}");
        }
        assert!(!accepts(&s, &GeneralName::Unsupported { tag: 2 }));
    }

    #[test]
    fn malformed_dns_base_fails_closed_for_dns_names_only() {
        let s = state(&[permitting(&[dns("a..example")])]);
        assert_eq!(
            unsupported(&s, &dns("a.example")).as_deref(),
            Some("malformed dNSName")
        );
        assert!(accepts(&s, &email("a@b.example")));
    }

    // ---- rfc822Name ---------------------------------------------------------------------------

    #[test]
    fn rfc822_host_constraint_permits_mailboxes_on_that_host_only() {
        let s = state(&[permitting(&[email("testcertificates.gov")])]);
        assert!(accepts(&s, &email("alice@testcertificates.gov")));
        assert!(accepts(&s, &email("Alice@TestCertificates.GOV")));
        assert!(!accepts(&s, &email("alice@mail.testcertificates.gov")));
        assert!(!accepts(&s, &email("alice@badtestcertificates.gov")));
    }

    #[test]
    fn rfc822_leading_dot_constraint_permits_mailboxes_below_the_domain_only() {
        let s = state(&[permitting(&[email(".testcertificates.gov")])]);
        assert!(accepts(&s, &email("alice@mail.testcertificates.gov")));
        assert!(accepts(&s, &email("alice@a.b.testcertificates.gov")));
        assert!(!accepts(&s, &email("alice@testcertificates.gov")));
    }

    #[test]
    fn rfc822_mailbox_constraint_compares_local_part_exactly_and_domain_without_case() {
        let s = state(&[permitting(&[email("Alice@Example.com")])]);
        assert!(accepts(&s, &email("Alice@example.COM")));
        assert!(!accepts(&s, &email("alice@example.com")));
        assert!(!accepts(&s, &email("Alice@sub.example.com")));
        let s = state(&[excluding(&[email("ceo@example.com")])]);
        assert!(!accepts(&s, &email("ceo@EXAMPLE.com")));
        assert!(accepts(&s, &email("cfo@example.com")));
    }

    #[test]
    fn rfc822_excluded_host_rejects_mailboxes_on_it() {
        let s = state(&[excluding(&[email("testcertificates.gov")])]);
        assert!(!accepts(&s, &email("x@testcertificates.gov")));
        assert!(accepts(&s, &email("x@other.gov")));
    }

    #[test]
    fn malformed_rfc822_names_are_rejected_when_rfc822_constraints_apply() {
        let s = state(&[excluding(&[email("bad.example")])]);
        for name in [
            "no-at-sign.example",
            "@good.example",
            "a@",
            "\"a@b\"@good.example",
            "a@[192.0.2.1]",
            "a b@good.example",
        ] {
            assert!(!accepts(&s, &email(name)), "{name}");
        }
    }

    #[test]
    fn malformed_rfc822_base_fails_closed() {
        for base in ["", "@example.com", "a@b@", "exa mple.com"] {
            let s = state(&[permitting(&[email(base)])]);
            assert_eq!(
                unsupported(&s, &email("a@example.com")).as_deref(),
                Some("malformed rfc822Name"),
                "{base}"
            );
        }
    }

    // ---- uniformResourceIdentifier ------------------------------------------------------------

    #[test]
    fn uri_host_constraint_permits_exactly_that_host() {
        let s = state(&[permitting(&[uri("testcertificates.gov")])]);
        assert!(accepts(&s, &uri("http://testcertificates.gov/index.html")));
        assert!(accepts(
            &s,
            &uri("https://user:pw@TestCertificates.gov:8443/a?b#c")
        ));
        assert!(accepts(&s, &uri("ldap://testcertificates.gov?cn")));
        assert!(!accepts(&s, &uri("http://www.testcertificates.gov/")));
        assert!(!accepts(
            &s,
            &uri("http://testcertificates.gov.evil.example/")
        ));
    }

    #[test]
    fn uri_leading_dot_constraint_permits_hosts_below_the_domain_only() {
        let s = state(&[permitting(&[uri(".testcertificates.gov")])]);
        assert!(accepts(&s, &uri("http://www.testcertificates.gov/")));
        assert!(!accepts(&s, &uri("http://testcertificates.gov/")));
    }

    #[test]
    fn uri_excluded_host_does_not_exclude_hosts_below_it() {
        let s = state(&[excluding(&[uri("invalidcertificates.gov")])]);
        assert!(!accepts(
            &s,
            &uri("ftp://invalidcertificates.gov:21/test37/")
        ));
        assert!(accepts(
            &s,
            &uri("http://testserver.invalidcertificates.gov/index.html")
        ));
    }

    /// URI subtrees name hosts; a URI without a host name cannot be placed inside or outside
    /// one, so it fails closed even against excluded-only constraints.
    #[test]
    fn uri_without_a_host_name_is_rejected_against_uri_constraints() {
        for constraints in [
            permitting(&[uri(".example.com")]),
            excluding(&[uri("bad.example.com")]),
        ] {
            let s = state(&[constraints]);
            for name in [
                "urn:uuid:1234",
                "mailto:a@example.com",
                "file:///etc/passwd",
                "http:///path",
                "no-scheme",
            ] {
                assert!(!accepts(&s, &uri(name)), "{name}");
            }
        }
    }

    #[test]
    fn uri_with_an_ip_host_is_rejected_against_uri_constraints() {
        let s = state(&[excluding(&[uri("bad.example.com")])]);
        assert!(!accepts(&s, &uri("http://192.0.2.1/")));
        assert!(!accepts(&s, &uri("http://[2001:db8::1]:443/")));
        assert!(!accepts(&s, &uri("http://host.example.com:notaport/")));
        assert!(accepts(&s, &uri("http://good.example.com/")));
    }

    #[test]
    fn uri_constraints_do_not_restrict_uris_when_only_other_forms_are_constrained() {
        let s = state(&[permitting(&[dns("example.com")])]);
        assert!(accepts(&s, &uri("urn:uuid:1234")));
    }

    // ---- iPAddress ----------------------------------------------------------------------------

    #[test]
    fn ipv4_subnet_permits_addresses_inside_it() {
        let s = state(&[permitting(&[ip(&[192, 0, 2, 0, 255, 255, 255, 0])])]);
        assert!(accepts(&s, &ip(&[192, 0, 2, 77])));
        assert!(!accepts(&s, &ip(&[192, 0, 3, 77])));
    }

    #[test]
    fn ipv6_subnet_permits_addresses_inside_it() {
        // 2001:db8::/48
        let base: Vec<u8> = [
            [0x20, 0x01, 0x0d, 0xb8].as_slice(),
            &[0; 12],
            &[0xff; 6],
            &[0; 10],
        ]
        .concat();
        let s = state(&[permitting(&[GeneralName::Ip(base)])]);
        // 2001:db8:0:1:: and 2001:db8:1::
        let inside = [[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1].as_slice(), &[0; 8]].concat();
        let outside = [[0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0].as_slice(), &[0; 8]].concat();
        assert!(accepts(&s, &GeneralName::Ip(inside)));
        assert!(!accepts(&s, &GeneralName::Ip(outside)));
    }

    #[test]
    fn ip_subtree_of_one_family_never_permits_the_other() {
        let s = state(&[permitting(&[ip(&[0, 0, 0, 0, 0, 0, 0, 0])])]);
        assert!(accepts(&s, &ip(&[10, 0, 0, 1])));
        assert!(!accepts(&s, &ip(&[0; 16])));
    }

    #[test]
    fn ipv4_mapped_ipv6_address_is_caught_by_an_excluded_ipv4_subnet() {
        let s = state(&[excluding(&[ip(&[10, 0, 0, 0, 255, 0, 0, 0])])]);
        let mapped = [[0u8; 10].as_slice(), &[0xff, 0xff], &[10, 1, 2, 3]].concat();
        assert!(!accepts(&s, &GeneralName::Ip(mapped)));
        assert!(!accepts(&s, &ip(&[10, 1, 2, 3])));
        assert!(accepts(&s, &ip(&[11, 1, 2, 3])));
    }

    #[test]
    fn malformed_ip_addresses_are_rejected_when_ip_constraints_apply() {
        let s = state(&[excluding(&[ip(&[10, 0, 0, 0, 255, 0, 0, 0])])]);
        assert!(!accepts(&s, &ip(&[1, 2, 3])));
        assert!(!accepts(&s, &ip(&[1, 2, 3, 4, 5])));
    }

    #[test]
    fn ip_base_with_a_bad_length_fails_closed() {
        let s = state(&[permitting(&[ip(&[10, 0, 0, 0])])]);
        assert_eq!(
            unsupported(&s, &ip(&[10, 0, 0, 1])).as_deref(),
            Some("malformed iPAddress")
        );
        let s = state(&[excluding(&[ip(&[10, 0, 0, 0, 255, 0, 0])])]);
        assert_eq!(
            unsupported(&s, &ip(&[11, 0, 0, 1])).as_deref(),
            Some("malformed iPAddress")
        );
    }

    #[test]
    fn ip_base_with_a_non_contiguous_mask_fails_closed() {
        let s = state(&[permitting(&[ip(&[10, 0, 0, 0, 255, 0, 255, 0])])]);
        assert_eq!(
            unsupported(&s, &ip(&[10, 0, 0, 1])).as_deref(),
            Some("malformed iPAddress")
        );
        let s = state(&[permitting(&[ip(&[10, 0, 0, 0, 0b1011_1111, 0, 0, 0])])]);
        assert!(unsupported(&s, &ip(&[10, 0, 0, 1])).is_some());
    }

    #[test]
    fn malformed_ip_base_does_not_affect_certificates_without_ip_names() {
        let s = state(&[permitting(&[ip(&[10, 0, 0, 0])])]);
        assert!(accepts(&s, &dns("example.com")));
    }

    // ---- directoryName ------------------------------------------------------------------------

    #[test]
    fn directory_constraint_permits_names_below_the_prefix() {
        let s = state(&[permitting(&[GeneralName::Directory(dn(&[
            (C, "US"),
            (O, "Test"),
        ]))])]);
        assert!(accepts(
            &s,
            &GeneralName::Directory(dn(&[(C, "us"), (O, "TEST"), (CN, "Alice")]))
        ));
        assert!(accepts(
            &s,
            &GeneralName::Directory(dn(&[(C, "US"), (O, "Test")]))
        ));
        assert!(!accepts(
            &s,
            &GeneralName::Directory(dn(&[(C, "US"), (O, "Other"), (CN, "Alice")]))
        ));
        assert!(!accepts(&s, &GeneralName::Directory(dn(&[(C, "US")]))));
    }

    #[test]
    fn subject_and_directory_sans_are_both_checked() {
        let s = state(&[excluding(&[GeneralName::Directory(dn(&[
            (C, "US"),
            (O, "Bad"),
        ]))])]);
        let good = dn(&[(C, "US"), (O, "Good"), (CN, "a")]);
        let bad = dn(&[(C, "US"), (O, "Bad"), (CN, "a")]);
        assert!(s.check_names(&good, &[]).is_ok());
        assert!(s.check_names(&bad, &[]).is_err());
        assert!(s
            .check_names(&good, &[GeneralName::Directory(bad.clone())])
            .is_err());
    }

    #[test]
    fn empty_subject_is_not_checked_against_directory_constraints() {
        let s = state(&[permitting(&[GeneralName::Directory(dn(&[
            (C, "US"),
            (O, "Test"),
        ]))])]);
        assert!(s.check_names(&dn(&[]), &[dns("example.com")]).is_ok());
    }

    #[test]
    fn violation_names_the_offending_name_readably() {
        let s = state(&[permitting(&[GeneralName::Directory(dn(&[(C, "US")]))])]);
        let err = s
            .check_names(&dn(&[(C, "FR"), (CN, "Bob")]), &[])
            .unwrap_err();
        assert_eq!(
            err,
            Reason::NameConstraintsViolated {
                name: "dn:CN=Bob,C=FR".into()
            }
        );
        assert_eq!(err.code(), "name-constraints-violated");
        let s = state(&[excluding(&[
            dns("bad.example"),
            email("bad.example"),
            ip(&[10, 0, 0, 0, 255, 0, 0, 0]),
        ])]);
        let render_of = |n: &GeneralName| match s.check_name(n) {
            Err(Reason::NameConstraintsViolated { name }) => name,
            other => panic!("{other:?}"),
        };
        assert_eq!(render_of(&dns("x.bad.example")), "dns:x.bad.example");
        assert_eq!(render_of(&email("a@bad.example")), "email:a@bad.example");
        assert_eq!(render_of(&ip(&[10, 1, 2, 3])), "ip:10.1.2.3");
        assert_eq!(
            render_of(&dns("evil\n.bad.example")),
            "dns:evil\\n.bad.example"
        );
    }

    // ---- Subject emailAddress -----------------------------------------------------------------

    #[test]
    fn subject_email_is_checked_against_rfc822_constraints_when_no_rfc822_san() {
        let s = state(&[permitting(&[email("good.example")])]);
        let subject = dn(&[(C, "US"), (CN, "a"), (EMAIL, "a@bad.example")]);
        assert!(s.check_names(&subject, &[]).is_err());
        // A SAN of another form does not stop the fallback.
        assert!(s
            .check_names(&subject, &[dns("host.good.example")])
            .is_err());
        let subject = dn(&[(C, "US"), (CN, "a"), (EMAIL, "a@good.example")]);
        assert!(s.check_names(&subject, &[]).is_ok());
    }

    #[test]
    fn subject_email_is_checked_even_when_an_rfc822_san_is_present() {
        let s = state(&[permitting(&[email("good.example")])]);
        let outside = dn(&[(C, "US"), (CN, "a"), (EMAIL, "a@bad.example")]);
        let inside = dn(&[(C, "US"), (CN, "a"), (EMAIL, "a@good.example")]);
        assert!(s.check_names(&outside, &[email("a@good.example")]).is_err());
        assert!(s.check_names(&inside, &[email("a@good.example")]).is_ok());
        assert!(s.check_names(&inside, &[email("a@bad.example")]).is_err());
    }

    #[test]
    fn undecodable_subject_email_is_rejected_when_rfc822_constraints_apply() {
        let s = state(&[excluding(&[email("bad.example")])]);
        let attribute = NameAttribute {
            oid: Oid::new(EMAIL),
            tag: 4,
            value: vec![0xff],
        };
        let subject = Name::from_rdns(vec![vec![attribute]]);
        assert!(s.check_names(&subject, &[]).is_err());
        assert!(state(&[excluding(&[dns("bad.example")])])
            .check_names(&subject, &[])
            .is_ok());
    }

    // ---- Forms certgate does not evaluate -----------------------------------------------------

    #[test]
    fn unsupported_constraint_form_rejects_a_name_of_that_form() {
        let upn = Oid::new(known::UPN);
        let other_name = GeneralName::OtherName {
            type_id: upn.clone(),
            value: vec![0x0c, 0x01, b'a'],
        };
        let cases = [
            (other_name.clone(), other_name.clone(), "otherName"),
            (
                GeneralName::RegisteredId(Oid::new("1.2.3")),
                GeneralName::RegisteredId(Oid::new("1.2.4")),
                "registeredID",
            ),
            (
                GeneralName::Unsupported { tag: 3 },
                GeneralName::Unsupported { tag: 3 },
                "x400Address",
            ),
            (
                GeneralName::Unsupported { tag: 5 },
                GeneralName::Unsupported { tag: 5 },
                "ediPartyName",
            ),
        ];
        for (base, name, form) in cases {
            for s in [
                state(&[permitting(std::slice::from_ref(&base))]),
                state(&[excluding(std::slice::from_ref(&base))]),
            ] {
                assert_eq!(unsupported(&s, &name).as_deref(), Some(form));
                let err = s
                    .check_names(&dn(&[(CN, "a")]), &[dns("a.example"), name.clone()])
                    .unwrap_err();
                assert_eq!(err.code(), "name-constraints-unsupported");
            }
        }
    }

    #[test]
    fn unsupported_constraint_form_is_ignored_without_a_name_of_that_form() {
        let s = state(&[excluding(&[
            GeneralName::Unsupported { tag: 3 },
            GeneralName::RegisteredId(Oid::new("1.2.3")),
        ])]);
        assert!(s
            .check_names(&dn(&[(CN, "a")]), &[dns("a.example"), email("a@b.example")])
            .is_ok());
    }

    #[test]
    fn unsupported_name_form_is_accepted_without_a_constraint_of_that_form() {
        let s = state(&[permitting(&[dns("example.com")])]);
        let names = [
            GeneralName::OtherName {
                type_id: Oid::new(known::UPN),
                value: vec![],
            },
            GeneralName::RegisteredId(Oid::new("1.2.3")),
            GeneralName::Unsupported { tag: 3 },
            GeneralName::Unsupported { tag: 5 },
            dns("x.example.com"),
        ];
        assert!(s.check_names(&dn(&[(CN, "a")]), &names).is_ok());
    }

    #[test]
    fn undecodable_base_of_an_evaluated_form_fails_closed_as_malformed() {
        let s = state(&[excluding(&[GeneralName::Unsupported { tag: 4 }])]);
        assert_eq!(
            unsupported(&s, &GeneralName::Directory(dn(&[(CN, "a")]))).as_deref(),
            Some("malformed directoryName")
        );
        assert!(s.check_names(&dn(&[(CN, "a")]), &[]).is_err());
        assert!(s.check_names(&dn(&[]), &[dns("a.example")]).is_ok());
    }

    // ---- Intersection and union across CAs (§6.1.4 (g)) ---------------------------------------

    #[test]
    fn constraints_restrict_only_names_of_their_own_form() {
        let s = state(&[permitting(&[dns("example.com")])]);
        assert!(accepts(&s, &email("a@elsewhere.org")));
        assert!(accepts(&s, &ip(&[192, 0, 2, 1])));
        assert!(accepts(&s, &uri("http://elsewhere.org/")));
    }

    #[test]
    fn permitted_subtrees_of_two_cas_intersect() {
        let s = state(&[
            permitting(&[dns("example.com")]),
            permitting(&[dns("a.example.com"), dns("other.org")]),
        ]);
        assert!(accepts(&s, &dns("a.example.com")));
        assert!(accepts(&s, &dns("x.a.example.com")));
        assert!(!accepts(&s, &dns("b.example.com")));
        assert!(!accepts(&s, &dns("other.org")));
        // Order does not matter.
        let s = state(&[
            permitting(&[dns("a.example.com"), dns("other.org")]),
            permitting(&[dns("example.com")]),
        ]);
        assert!(accepts(&s, &dns("a.example.com")));
        assert!(!accepts(&s, &dns("other.org")));
    }

    #[test]
    fn disjoint_permitted_subtrees_permit_nothing_of_that_form() {
        let s = state(&[
            permitting(&[dns("a.example")]),
            permitting(&[dns("b.example")]),
        ]);
        assert!(!accepts(&s, &dns("a.example")));
        assert!(!accepts(&s, &dns("b.example")));
        assert!(accepts(&s, &email("x@c.example")));
        let s = state(&[
            permitting(&[ip(&[10, 0, 0, 0, 255, 0, 0, 0])]),
            permitting(&[ip(&[11, 0, 0, 0, 255, 0, 0, 0])]),
        ]);
        assert!(!accepts(&s, &ip(&[10, 0, 0, 1])));
        assert!(!accepts(&s, &ip(&[11, 0, 0, 1])));
    }

    #[test]
    fn permitted_intersection_of_host_and_leading_dot_domain_keeps_only_subdomains() {
        let s = state(&[
            permitting(&[dns("example.com")]),
            permitting(&[dns(".example.com")]),
        ]);
        assert!(!accepts(&s, &dns("example.com")));
        assert!(accepts(&s, &dns("x.example.com")));
    }

    #[test]
    fn permitted_intersection_is_per_form() {
        // The second CA constrains only rfc822Name: dNSName stays as the first CA left it.
        let s = state(&[
            permitting(&[dns("example.com")]),
            permitting(&[email("example.com")]),
        ]);
        assert!(accepts(&s, &dns("x.example.com")));
        assert!(!accepts(&s, &dns("x.example.org")));
        assert!(accepts(&s, &email("a@example.com")));
        assert!(!accepts(&s, &email("a@example.org")));
    }

    #[test]
    fn excluded_subtrees_of_all_cas_accumulate() {
        let s = state(&[
            excluding(&[dns("a.example")]),
            excluding(&[dns("b.example")]),
            permitting(&[dns("example")]),
        ]);
        assert!(!accepts(&s, &dns("a.example")));
        assert!(!accepts(&s, &dns("b.example")));
        assert!(accepts(&s, &dns("c.example")));
    }

    #[test]
    fn excluded_wins_over_permitted() {
        let s = state(&[NameConstraints {
            permitted: Some(vec![dns("example.com")]),
            excluded: Some(vec![dns("bad.example.com")]),
            critical: true,
            defect: None,
        }]);
        assert!(accepts(&s, &dns("good.example.com")));
        assert!(!accepts(&s, &dns("x.bad.example.com")));
    }

    // ---- Reason codes -------------------------------------------------------------------------

    #[test]
    fn unsupported_reason_has_a_stable_code_and_names_the_form() {
        let reason = Reason::NameConstraintsUnsupported {
            form: "x400Address".into(),
        };
        assert_eq!(reason.code(), "name-constraints-unsupported");
        assert!(reason.to_string().contains("x400Address"));
    }

    // ---- PKITS ----------------------------------------------------------------------------------

    mod pkits {
        use std::path::PathBuf;

        use super::super::{NameConstraintBudget, NameConstraintsState};
        use crate::certificate::Certificate;
        use crate::error::Reason;

        /// The PKITS data directory (holding `certs/`): `PKITS_DIR`, else the installed
        /// `cryptography-vectors` package.
        fn pkits_dir() -> PathBuf {
            let dir = std::env::var_os("PKITS_DIR").map(PathBuf::from).unwrap_or_else(|| {
                PathBuf::from(
                    "/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages/cryptography_vectors/x509/PKITS_data",
                )
            });
            assert!(
                dir.join("certs").is_dir(),
                "PKITS data not found at {}: install the PyPI package cryptography-vectors or set PKITS_DIR",
                dir.display()
            );
            dir
        }

        fn certificate(stem: &str) -> Certificate {
            let path = pkits_dir().join("certs").join(format!("{stem}.crt"));
            let der = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            Certificate::from_der(&der).unwrap_or_else(|e| panic!("{stem}: {e}"))
        }

        /// The shared expectations: `PKITS_EXPECTATIONS`, else `shared/` beside the repository.
        fn expectations() -> Vec<serde_json::Value> {
            let path = std::env::var_os("PKITS_EXPECTATIONS")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                        .join("../../../shared/conformance/pkits/expectations.json")
                });
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!(
                    "PKITS expectations not found at {} ({e}); set PKITS_EXPECTATIONS",
                    path.display()
                )
            });
            let json: serde_json::Value =
                serde_json::from_str(&text).expect("expectations.json is JSON");
            json["tests"]
                .as_array()
                .expect("expectations.json has a tests array")
                .clone()
        }

        /// Runs the name-constraints part of path validation over certs[1..] (the trust
        /// anchor contributes no constraints) and returns the rejection, if any.
        fn run(stems: &[&str]) -> Option<Reason> {
            let path: Vec<Certificate> = stems.iter().skip(1).map(|s| certificate(s)).collect();
            let mut state = NameConstraintsState::new();
            let budget = NameConstraintBudget::new(250_000);
            for (i, cert) in path.iter().enumerate() {
                let is_end_entity = i + 1 == path.len();
                if let Err(reason) = state.check(cert, is_end_entity, &budget) {
                    return Some(reason);
                }
                if !is_end_entity {
                    if let Err(reason) = state.apply(cert) {
                        return Some(reason);
                    }
                }
            }
            None
        }

        fn budget() -> NameConstraintBudget {
            NameConstraintBudget::new(250_000)
        }

        fn stems(entry: &serde_json::Value) -> Vec<&str> {
            entry["certs"]
                .as_array()
                .expect("certs")
                .iter()
                .filter_map(|v| v.as_str())
                .collect()
        }

        #[test]
        fn pkits_section_4_13_matches_expectations() {
            let entries: Vec<serde_json::Value> = expectations()
                .into_iter()
                .filter(|e| e["section"].as_u64() == Some(13))
                .collect();
            assert_eq!(entries.len(), 38, "section 4.13 has 38 tests");
            let mut failures = Vec::new();
            for entry in &entries {
                let id = entry["id"].as_str().unwrap_or("?");
                let expected_invalid = entry["expected"].as_str() == Some("invalid");
                let rejection = run(&stems(entry));
                let rejected = matches!(
                    rejection,
                    Some(
                        Reason::NameConstraintsViolated { .. }
                            | Reason::NameConstraintsUnsupported { .. }
                    )
                );
                if rejected != expected_invalid {
                    failures.push(format!(
                        "{id}: expected {}, got {rejection:?}",
                        entry["expected"]
                    ));
                }
            }
            let invalid = entries
                .iter()
                .filter(|e| e["expected"].as_str() == Some("invalid"))
                .count();
            eprintln!(
                "name constraints: PKITS 4.13: {} of {} as expected ({} invalid, {} valid)",
                entries.len() - failures.len(),
                entries.len(),
                invalid,
                entries.len() - invalid
            );
            assert!(
                failures.is_empty(),
                "PKITS 4.13 mismatches:\n{}",
                failures.join("\n")
            );
        }

        #[test]
        fn pkits_valid_paths_are_never_rejected() {
            let entries: Vec<serde_json::Value> = expectations()
                .into_iter()
                .filter(|e| e["expected"].as_str() == Some("valid"))
                .collect();
            assert!(!entries.is_empty());
            let failures: Vec<String> = entries
                .iter()
                .filter_map(|entry| {
                    run(&stems(entry)).map(|reason| {
                        format!("{}: {reason:?}", entry["id"].as_str().unwrap_or("?"))
                    })
                })
                .collect();
            eprintln!(
                "name constraints: {} valid PKITS paths checked",
                entries.len()
            );
            assert!(
                failures.is_empty(),
                "valid PKITS paths rejected:\n{}",
                failures.join("\n")
            );
        }

        #[test]
        fn self_issued_intermediate_is_skipped_but_self_issued_end_entity_is_checked() {
            // 4.13.19: the self-issued CA's DN lies outside the subtree but is not checked.
            let ca = certificate("nameConstraintsDN1CACert");
            let self_issued = certificate("nameConstraintsDN1SelfIssuedCACert");
            assert!(self_issued.is_self_issued());
            let mut state = NameConstraintsState::new();
            state.update(
                ca.extensions()
                    .name_constraints
                    .as_ref()
                    .expect("DN1 CA has nameConstraints"),
            );
            assert!(state.check(&self_issued, false, &budget()).is_ok());
            assert!(state.check(&self_issued, true, &budget()).is_err());
            // 4.13.20: a self-issued end entity is checked.
            let end_entity = certificate("InvalidDNnameConstraintsTest20EE");
            assert!(end_entity.is_self_issued());
            assert!(matches!(
                state.check(&end_entity, true, &budget()),
                Err(Reason::NameConstraintsViolated { .. })
            ));
        }

        #[test]
        fn subject_email_address_is_checked_without_a_san() {
            // 4.13.29: no extensions at all; the DN is inside the DN subtree, the subject's
            // emailAddress is outside the rfc822Name subtree.
            let mut state = NameConstraintsState::new();
            for ca in ["nameConstraintsDN1CACert", "nameConstraintsDN1subCA3Cert"] {
                let ca = certificate(ca);
                assert!(state.check(&ca, false, &budget()).is_ok());
                state.update(
                    ca.extensions()
                        .name_constraints
                        .as_ref()
                        .expect("CA has nameConstraints"),
                );
            }
            let end_entity = certificate("InvalidDNandRFC822nameConstraintsTest29EE");
            assert!(end_entity.extensions().subject_alt_names.is_none());
            assert_eq!(
                state.check(&end_entity, true, &budget()),
                Err(Reason::NameConstraintsViolated {
                    name: "email:Test29EE@invalidcertificates.gov".into()
                })
            );
        }

        #[test]
        fn unconstrained_state_accepts_without_looking() {
            let state = NameConstraintsState::new();
            assert!(state
                .check(
                    &certificate("InvalidDNnameConstraintsTest2EE"),
                    true,
                    &budget()
                )
                .is_ok());
        }
    }
}
