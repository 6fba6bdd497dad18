//! Certificate policy processing (RFC 5280 §6.1.2–§6.1.5) on the policy graph of RFC 9618.
//!
//! RFC 5280 describes the policy state as a `valid_policy_tree`. A CA that asserts k policies
//! and maps each of them to all k makes that tree grow as k^depth, so a handful of hostile
//! certificates can exhaust memory (CVE-2023-0464 and friends). RFC 9618 replaces the tree with
//! a directed acyclic graph that holds at most one node per policy OID at each depth (a node
//! may have several parents) and proves that it yields the same outcome. Its size is linear in
//! the size of the certificates; [`MAX_POLICY_GRAPH_SIZE`] additionally caps the work one path
//! may cause, because certificates are untrusted and "linear" in a 64 KiB extension is still a
//! lot.
//!
//! Policy qualifiers are not tracked: certgate returns policy OIDs only, and RFC 9618 §3.1 notes
//! the qualifier_set is needed only when qualifiers are returned to the application.

use std::collections::{BTreeMap, BTreeSet};

use crate::certificate::Certificate;
use crate::error::Reason;
use crate::extension_der::Kind;
use crate::oid::{known, Oid};

/// Upper bound on the nodes, parent links and expected-policy entries created while processing
/// one path. Real paths use a few dozen; the bound only stops hostile fan-out (RFC 9618 §5).
pub(crate) const MAX_POLICY_GRAPH_SIZE: usize = 10_000;

/// User inputs of RFC 5280 §6.1.1 (c), (e), (f), (g).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicySettings {
    /// user-initial-policy-set; contains anyPolicy (2.5.29.32.0) for "any".
    pub initial_policy_set: Vec<Oid>,
    /// initial-explicit-policy (§6.1.1 (f)): the path must be valid for at least one policy
    /// of `initial_policy_set`, even if no certificate requires an explicit policy.
    pub initial_explicit_policy: bool,
    /// initial-policy-mapping-inhibit (§6.1.1 (e)): policyMappings in the path are not
    /// followed.
    pub initial_policy_mapping_inhibit: bool,
    /// initial-any-policy-inhibit (§6.1.1 (g)): anyPolicy in a certificate does not match
    /// every policy.
    pub initial_any_policy_inhibit: bool,
}

impl Default for PolicySettings {
    /// The RFC 5280 §6.1.1 defaults: any policy, nothing required or inhibited.
    fn default() -> Self {
        PolicySettings {
            initial_policy_set: vec![any_policy()],
            initial_explicit_policy: false,
            initial_policy_mapping_inhibit: false,
            initial_any_policy_inhibit: false,
        }
    }
}

/// Result of a successful run (§6.1.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyOutcome {
    /// The user-constrained policy set: sorted, deduplicated; contains anyPolicy when the
    /// tree's intersection with the user set is "any".
    pub user_constrained_policy_set: Vec<Oid>,
    /// authorities-constrained policy set (valid policies of the final tree, before the user
    /// intersection), sorted.
    pub authority_constrained_policy_set: Vec<Oid>,
}

fn any_policy() -> Oid {
    Oid::new(known::ANY_POLICY)
}

fn is_any_policy(oid: &Oid) -> bool {
    oid.as_str() == known::ANY_POLICY
}

/// The user-initial-policy-set, with "any" made explicit so it cannot be confused with a set
/// that merely happens to contain other OIDs too.
#[derive(Clone, Debug)]
enum UserPolicySet {
    Any,
    Only(BTreeSet<Oid>),
}

/// One node of the valid_policy_graph (RFC 9618 §3.1). Its valid_policy is the key under which
/// its depth stores it.
#[derive(Clone, Debug)]
struct Node {
    /// Policies that satisfy this one in the next certificate (changed by policy mappings).
    expected: BTreeSet<Oid>,
    /// valid_policy of each parent at the previous depth; empty only at depth 0.
    parents: Vec<Oid>,
}

impl Node {
    fn unmapped(valid_policy: &Oid, parents: Vec<Oid>) -> Self {
        Node {
            expected: BTreeSet::from([valid_policy.clone()]),
            parents,
        }
    }
}

/// The nodes of one depth, keyed by valid_policy: RFC 9618 never puts two nodes with the same
/// valid_policy at one depth, which is what keeps the graph linear.
type Level = BTreeMap<Oid, Node>;

/// A non-NULL valid_policy_graph. Depth d (0 = trust anchor) is `levels[d]`.
#[derive(Clone, Debug)]
struct PolicyGraph {
    levels: Vec<Level>,
    /// Units charged against [`MAX_POLICY_GRAPH_SIZE`] so far.
    size: usize,
}

/// Counts `units` more of graph size, failing once the path has used up its allowance.
fn charge(size: &mut usize, units: usize) -> Result<(), Reason> {
    *size = size.saturating_add(units);
    if *size > MAX_POLICY_GRAPH_SIZE {
        return Err(Reason::PolicyGraphTooLarge {
            limit: MAX_POLICY_GRAPH_SIZE,
        });
    }
    Ok(())
}

impl PolicyGraph {
    /// §6.1.2 (a): a single anyPolicy node at depth 0 that expects anyPolicy.
    fn new() -> Self {
        let root = Node::unmapped(&any_policy(), Vec::new());
        PolicyGraph {
            levels: vec![Level::from([(any_policy(), root)])],
            size: 1,
        }
    }

    /// The deepest level: the one for the certificate processed last.
    fn deepest_mut(&mut self) -> Option<&mut Level> {
        self.levels.last_mut()
    }

    /// RFC 5280 keeps only nodes that lead to the current depth, so a graph with an empty level
    /// has lost its root: it is the NULL graph.
    fn is_null(&self) -> bool {
        self.levels.iter().any(Level::is_empty)
    }

    /// §6.1.3 (d) as updated by RFC 9618 §4.2: adds the depth for a certificate whose
    /// certificatePolicies extension lists `policies`, then prunes.
    ///
    /// `expand_any_policy` is the condition of step (d)(2): inhibit_anyPolicy > 0, or an
    /// intermediate self-issued certificate.
    fn add_level(&mut self, policies: &[Oid], expand_any_policy: bool) -> Result<(), Reason> {
        let Some(parent_level) = self.levels.last() else {
            return Ok(());
        };
        // Which parents expect each policy: turns (d)(1)(i) into one lookup per policy, so a
        // certificate with many policies costs O(k log k) rather than O(k²).
        let mut parents_expecting: BTreeMap<&Oid, Vec<Oid>> = BTreeMap::new();
        for (valid_policy, node) in parent_level {
            for expected in &node.expected {
                parents_expecting
                    .entry(expected)
                    .or_default()
                    .push(valid_policy.clone());
            }
        }
        let parent_is_any = parent_level.contains_key(&any_policy());

        let mut level = Level::new();
        let mut asserts_any_policy = false;
        for policy in policies {
            if is_any_policy(policy) {
                asserts_any_policy = true;
                continue;
            }
            // RFC 5280 §4.2.1.4 forbids repeating a policy; a certificate that does anyway must
            // not get two nodes for it.
            if level.contains_key(policy) {
                continue;
            }
            // (d)(1)(i): children of every parent that expects the policy; (d)(1)(ii): failing
            // that, a child of the anyPolicy node.
            let parents = match parents_expecting.get(policy) {
                Some(parents) => parents.clone(),
                None if parent_is_any => vec![any_policy()],
                None => continue,
            };
            charge(&mut self.size, 1 + parents.len())?;
            level.insert(policy.clone(), Node::unmapped(policy, parents));
        }
        // (d)(2): anyPolicy in the certificate matches every policy the previous depth still
        // expects (anyPolicy included) that (d)(1) did not already cover.
        if asserts_any_policy && expand_any_policy {
            for (expected, parents) in &parents_expecting {
                if !level.contains_key(*expected) {
                    charge(&mut self.size, 1 + parents.len())?;
                    level.insert(
                        (*expected).clone(),
                        Node::unmapped(expected, parents.clone()),
                    );
                }
            }
        }
        self.levels.push(level);
        // (d)(3)
        self.prune();
        Ok(())
    }

    /// §6.1.4 (b)(1): with mapping allowed, each issuerDomainPolicy now expects its
    /// subjectDomainPolicy set; one the certificate covered only through anyPolicy gets its own
    /// node under the previous depth's anyPolicy node.
    fn map_policies(&mut self, mappings: &BTreeMap<Oid, BTreeSet<Oid>>) -> Result<(), Reason> {
        let Some(level) = self.levels.last_mut() else {
            return Ok(());
        };
        let has_any_policy = level.contains_key(&any_policy());
        for (issuer_policy, subject_policies) in mappings {
            charge(&mut self.size, subject_policies.len())?;
            if let Some(node) = level.get_mut(issuer_policy) {
                node.expected = subject_policies.clone();
            } else if has_any_policy {
                // The anyPolicy node at this depth has the anyPolicy node of the previous depth
                // as its only parent: nothing else expects anyPolicy.
                charge(&mut self.size, 2)?;
                let node = Node {
                    expected: subject_policies.clone(),
                    parents: vec![any_policy()],
                };
                level.insert(issuer_policy.clone(), node);
            }
        }
        Ok(())
    }

    /// §6.1.4 (b)(2): with mapping inhibited, mapped policies are dropped at this depth, then
    /// the graph is pruned.
    fn delete_mapped(&mut self, mappings: &BTreeMap<Oid, BTreeSet<Oid>>) {
        if let Some(level) = self.deepest_mut() {
            for issuer_policy in mappings.keys() {
                level.remove(issuer_policy);
            }
        }
        self.prune();
    }

    /// Deletes nodes above the deepest level that have no children, repeatedly (§6.1.3 (d)(3),
    /// §6.1.4 (b)(2)(ii)). Levels above were already pruned against their children, so the walk
    /// stops at the first level that loses nothing.
    fn prune(&mut self) {
        for depth in (1..self.levels.len()).rev() {
            let (shallower, deeper) = self.levels.split_at_mut(depth);
            let (Some(parents), Some(children)) = (shallower.last_mut(), deeper.first()) else {
                break;
            };
            let referenced: BTreeSet<&Oid> =
                children.values().flat_map(|child| &child.parents).collect();
            let before = parents.len();
            parents.retain(|valid_policy, _| referenced.contains(valid_policy));
            if parents.len() == before {
                break;
            }
        }
    }

    /// RFC 9618 §4.4 (g)(2)–(4): the policies valid for the whole path, in the trust anchor's
    /// domain. A node stands for a policy the authorities accepted when its only parent is
    /// anyPolicy (everything above it was "any"); an anyPolicy node at the last depth means
    /// every policy is still acceptable.
    fn authority_constrained_policy_set(&self) -> BTreeSet<Oid> {
        let mut set = BTreeSet::new();
        for level in self.levels.iter().skip(1) {
            for (valid_policy, node) in level {
                let parent_is_only_any =
                    matches!(node.parents.as_slice(), [only] if is_any_policy(only));
                if !is_any_policy(valid_policy) && parent_is_only_any {
                    set.insert(valid_policy.clone());
                }
            }
        }
        if self
            .levels
            .last()
            .is_some_and(|last| last.contains_key(&any_policy()))
        {
            set.insert(any_policy());
        }
        set
    }
}

/// The policy state variables of RFC 5280 §6.1.2 for one path.
pub(crate) struct PolicyState {
    /// Number of certificates in the path, trust anchor excluded.
    n: usize,
    /// `None` is the NULL valid_policy_graph.
    graph: Option<PolicyGraph>,
    explicit_policy: u64,
    policy_mapping: u64,
    inhibit_any_policy: u64,
    user_initial_policy_set: UserPolicySet,
}

impl PolicyState {
    /// §6.1.2 initialisation. `n` = number of certificates in the path excluding the trust anchor.
    pub(crate) fn new(settings: &PolicySettings, n: usize) -> Self {
        // §6.1.2 (d)-(f): 0 when the user demands it, otherwise n+1 (never reached).
        let initial = |demanded: bool| {
            if demanded {
                0
            } else {
                (n as u64).saturating_add(1)
            }
        };
        let user_initial_policy_set = if settings.initial_policy_set.iter().any(is_any_policy) {
            UserPolicySet::Any
        } else {
            UserPolicySet::Only(settings.initial_policy_set.iter().cloned().collect())
        };
        PolicyState {
            n,
            graph: Some(PolicyGraph::new()),
            explicit_policy: initial(settings.initial_explicit_policy),
            policy_mapping: initial(settings.initial_policy_mapping_inhibit),
            inhibit_any_policy: initial(settings.initial_any_policy_inhibit),
            user_initial_policy_set,
        }
    }

    /// §6.1.3 (d), (e), (f) for certificate `i` (1-based; i == n is the end entity).
    /// Returns Err(Reason::PolicyNotAcceptable) when (f) fails, and
    /// Err(Reason::PolicyGraphTooLarge) when the path exceeds [`MAX_POLICY_GRAPH_SIZE`].
    pub(crate) fn process_certificate(
        &mut self,
        cert: &Certificate,
        i: usize,
    ) -> Result<(), Reason> {
        // (e): a certificate without policies ends every policy.
        if !cert.has_extension(Kind::CertificatePolicies) {
            self.graph = None;
        }
        if let Some(graph) = self.graph.as_mut() {
            debug_assert_eq!(
                graph.levels.len(),
                i,
                "certificates must be processed in order"
            );
            let expand_any_policy =
                self.inhibit_any_policy > 0 || (i < self.n && cert.is_self_issued());
            let oids: Vec<Oid> = cert
                .extensions()
                .certificate_policies
                .iter()
                .flatten()
                .map(|p| p.policy.clone())
                .collect();
            graph.add_level(&oids, expand_any_policy)?;
            if graph.is_null() {
                self.graph = None;
            }
        }
        // (f)
        if self.explicit_policy == 0 && self.graph.is_none() {
            return Err(Reason::PolicyNotAcceptable);
        }
        Ok(())
    }

    /// §6.1.4 (a), (b) (policy mappings, incl. rejecting anyPolicy in a mapping) and (h), (i), (j)
    /// (counter updates) for an intermediate certificate (i < n). Called right after
    /// process_certificate for that certificate. Returns Err(Reason::PolicyMappingInvalid) for a
    /// mapping to or from anyPolicy, and Err(Reason::PolicyGraphTooLarge) as above.
    pub(crate) fn prepare_next(&mut self, cert: &Certificate) -> Result<(), Reason> {
        let mappings = cert
            .has_extension(Kind::PolicyMappings)
            .then(|| cert.extensions().policy_mappings.as_ref())
            .flatten();
        if let Some(mappings) = mappings {
            // (a): anyPolicy can be neither mapped nor mapped to.
            if mappings
                .iter()
                .any(|m| is_any_policy(&m.issuer_domain) || is_any_policy(&m.subject_domain))
            {
                return Err(Reason::PolicyMappingInvalid);
            }
            if let Some(graph) = self.graph.as_mut() {
                let mut grouped: BTreeMap<Oid, BTreeSet<Oid>> = BTreeMap::new();
                for mapping in mappings {
                    grouped
                        .entry(mapping.issuer_domain.clone())
                        .or_default()
                        .insert(mapping.subject_domain.clone());
                }
                // (b)
                if self.policy_mapping > 0 {
                    graph.map_policies(&grouped)?;
                } else {
                    graph.delete_mapped(&grouped);
                }
                if graph.is_null() {
                    self.graph = None;
                }
            }
        }
        // (h): a self-issued certificate (a key rollover) does not use up any skip count.
        if !cert.is_self_issued() {
            self.explicit_policy = self.explicit_policy.saturating_sub(1);
            self.policy_mapping = self.policy_mapping.saturating_sub(1);
            self.inhibit_any_policy = self.inhibit_any_policy.saturating_sub(1);
        }
        // (i)
        if let Some(constraints) = cert.policy_constraints() {
            if let Some(require) = constraints.require_explicit_policy {
                self.explicit_policy = self.explicit_policy.min(u64::from(require));
            }
            if let Some(inhibit) = constraints.inhibit_policy_mapping {
                self.policy_mapping = self.policy_mapping.min(u64::from(inhibit));
            }
        }
        // (j)
        if let Some(skip_certs) = cert.inhibit_any_policy() {
            self.inhibit_any_policy = self.inhibit_any_policy.min(u64::from(skip_certs));
        }
        Ok(())
    }

    /// §6.1.5 (a), (b), (g) and the final explicit_policy check.
    pub(crate) fn wrap_up(mut self, end_entity: &Certificate) -> Result<PolicyOutcome, Reason> {
        // (a)
        self.explicit_policy = self.explicit_policy.saturating_sub(1);
        // (b)
        if end_entity
            .policy_constraints()
            .and_then(|c| c.require_explicit_policy)
            == Some(0)
        {
            self.explicit_policy = 0;
        }
        // (g), as RFC 9618 §4.4 restates it for the graph.
        let authority = self
            .graph
            .as_ref()
            .map(PolicyGraph::authority_constrained_policy_set)
            .unwrap_or_default();
        let user: BTreeSet<Oid> = match &self.user_initial_policy_set {
            UserPolicySet::Any => authority.clone(),
            UserPolicySet::Only(wanted) => {
                if authority.contains(&any_policy()) {
                    // The authorities accept anything, so each wanted policy is acceptable.
                    wanted.clone()
                } else {
                    authority.intersection(wanted).cloned().collect()
                }
            }
        };
        // RFC 9618 §4.4: success needs explicit_policy > 0 or a non-empty user set (the graph
        // is not pruned by the user set, so "tree is not NULL" becomes this).
        if self.explicit_policy == 0 && user.is_empty() {
            return Err(Reason::PolicyNotAcceptable);
        }
        Ok(PolicyOutcome {
            user_constrained_policy_set: user.into_iter().collect(),
            authority_constrained_policy_set: authority.into_iter().collect(),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    use super::*;
    use crate::certificate::{PolicyConstraints, PolicyInformation, PolicyMapping};

    // ---- Helpers ------------------------------------------------------------------------------

    /// The PKITS data directory (holding `certs/` and `crls/`): `PKITS_DIR`, else the
    /// cryptography-vectors install. Missing data fails the test rather than skipping it.
    pub(crate) fn pkits_dir() -> PathBuf {
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

    fn pkits_cert(stem: &str) -> Certificate {
        let path = pkits_dir().join("certs").join(format!("{stem}.crt"));
        let der =
            std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        Certificate::from_der(&der).unwrap_or_else(|e| panic!("parsing {stem}: {e}"))
    }

    /// Certificates of a PKITS path, trust anchor excluded.
    fn pkits_path(stems: &[&str]) -> Vec<Certificate> {
        stems.iter().map(|stem| pkits_cert(stem)).collect()
    }

    fn nist_policy(n: u32) -> Oid {
        Oid::new(format!("2.16.840.1.101.3.2.1.48.{n}"))
    }

    fn settings(initial: &[Oid]) -> PolicySettings {
        PolicySettings {
            initial_policy_set: initial.to_vec(),
            ..PolicySettings::default()
        }
    }

    /// Drives the state machine the way the path validator does.
    fn run(certs: &[Certificate], settings: &PolicySettings) -> Result<PolicyOutcome, Reason> {
        let n = certs.len();
        let mut state = PolicyState::new(settings, n);
        for (index, cert) in certs.iter().enumerate() {
            let i = index + 1;
            state.process_certificate(cert, i)?;
            if i < n {
                state.prepare_next(cert)?;
            }
        }
        let end_entity = certs.last().expect("a path has at least one certificate");
        state.wrap_up(end_entity)
    }

    /// A copy of a real CA certificate with its policy extensions replaced: enough for policy
    /// processing, which reads nothing else but the names.
    fn ca_with(policies: &[Oid], mappings: &[(Oid, Oid)]) -> Certificate {
        let mut cert = pkits_cert("GoodCACert");
        cert.extensions_mut().certificate_policies = Some(
            policies
                .iter()
                .map(|p| PolicyInformation {
                    policy: p.clone(),
                    qualifiers: Vec::new(),
                })
                .collect(),
        );
        cert.extensions_mut().policy_mappings = (!mappings.is_empty()).then(|| {
            mappings
                .iter()
                .map(|(issuer, subject)| PolicyMapping {
                    issuer_domain: issuer.clone(),
                    subject_domain: subject.clone(),
                })
                .collect()
        });
        cert.extensions_mut().policy_constraints = None;
        cert.extensions_mut().inhibit_any_policy = None;
        cert
    }

    fn oids(list: &[Oid]) -> Vec<Oid> {
        list.iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    // ---- Behaviour ----------------------------------------------------------------------------

    #[test]
    fn default_settings_accept_any_policy_and_constrain_nothing() {
        let defaults = PolicySettings::default();
        assert_eq!(defaults.initial_policy_set, vec![any_policy()]);
        assert!(!defaults.initial_explicit_policy);
        assert!(!defaults.initial_policy_mapping_inhibit);
        assert!(!defaults.initial_any_policy_inhibit);
    }

    #[test]
    fn path_asserting_one_policy_yields_that_policy() {
        let path = pkits_path(&["GoodCACert", "ValidCertificatePathTest1EE"]);
        let outcome = run(&path, &PolicySettings::default()).unwrap();
        assert_eq!(outcome.user_constrained_policy_set, vec![nist_policy(1)]);
        assert_eq!(
            outcome.authority_constrained_policy_set,
            vec![nist_policy(1)]
        );
    }

    #[test]
    fn explicit_policy_fails_when_user_set_misses_the_path_policy() {
        let path = pkits_path(&["GoodCACert", "ValidCertificatePathTest1EE"]);
        let demanding = PolicySettings {
            initial_explicit_policy: true,
            ..settings(&[nist_policy(2)])
        };
        assert_eq!(run(&path, &demanding), Err(Reason::PolicyNotAcceptable));
        // Without explicit policy the same path is acceptable, with an empty user set.
        let outcome = run(&path, &settings(&[nist_policy(2)])).unwrap();
        assert!(outcome.user_constrained_policy_set.is_empty());
    }

    #[test]
    fn certificate_without_policies_fails_only_when_explicit_policy_is_required() {
        // PKITS 4.8.2: no certificate has a certificatePolicies extension.
        let path = pkits_path(&["NoPoliciesCACert", "AllCertificatesNoPoliciesTest2EE"]);
        let outcome = run(&path, &PolicySettings::default()).unwrap();
        assert!(outcome.user_constrained_policy_set.is_empty());
        assert!(outcome.authority_constrained_policy_set.is_empty());
        let demanding = PolicySettings {
            initial_explicit_policy: true,
            ..PolicySettings::default()
        };
        assert_eq!(
            run(&path, &demanding).unwrap_err().code(),
            "policy-not-acceptable"
        );
    }

    #[test]
    fn require_explicit_policy_in_a_ca_fails_a_path_without_common_policy() {
        // PKITS 4.9.3: requireExplicitPolicy=4 in a path of 5 where the last certs lack policies.
        let path = pkits_path(&[
            "requireExplicitPolicy4CACert",
            "requireExplicitPolicy4subCACert",
            "requireExplicitPolicy4subsubCACert",
            "requireExplicitPolicy4subsubsubCACert",
            "InvalidrequireExplicitPolicyTest3EE",
        ]);
        assert_eq!(
            run(&path, &PolicySettings::default()),
            Err(Reason::PolicyNotAcceptable)
        );
    }

    #[test]
    fn any_policy_throughout_yields_any_policy_or_the_user_set() {
        // PKITS 4.8.11: every certificate asserts anyPolicy.
        let path = pkits_path(&["anyPolicyCACert", "AllCertificatesanyPolicyTest11EE"]);
        let outcome = run(&path, &PolicySettings::default()).unwrap();
        assert_eq!(outcome.user_constrained_policy_set, vec![any_policy()]);
        assert_eq!(outcome.authority_constrained_policy_set, vec![any_policy()]);
        let outcome = run(&path, &settings(&[nist_policy(1)])).unwrap();
        assert_eq!(outcome.user_constrained_policy_set, vec![nist_policy(1)]);
        assert_eq!(outcome.authority_constrained_policy_set, vec![any_policy()]);
    }

    #[test]
    fn any_policy_in_ca_expands_to_the_policies_expected_from_above() {
        let path = vec![
            ca_with(&[nist_policy(1), nist_policy(2)], &[]),
            ca_with(&[any_policy()], &[]),
            {
                let mut ee = ca_with(&[nist_policy(2)], &[]);
                ee.extensions_mut().basic_constraints = None;
                ee
            },
        ];
        let outcome = run(&path, &PolicySettings::default()).unwrap();
        assert_eq!(outcome.user_constrained_policy_set, vec![nist_policy(2)]);
    }

    #[test]
    fn policy_mapping_reports_policies_in_the_trust_anchor_domain() {
        // PKITS 4.10.1: the CA maps NIST-test-policy-1 to NIST-test-policy-2, the EE asserts 2.
        let path = pkits_path(&["Mapping1to2CACert", "ValidPolicyMappingTest1EE"]);
        let outcome = run(&path, &settings(&[nist_policy(1)])).unwrap();
        assert_eq!(outcome.user_constrained_policy_set, vec![nist_policy(1)]);
        let demanding = PolicySettings {
            initial_explicit_policy: true,
            ..settings(&[nist_policy(2)])
        };
        assert_eq!(run(&path, &demanding), Err(Reason::PolicyNotAcceptable));
    }

    #[test]
    fn initial_policy_mapping_inhibit_drops_mapped_policies() {
        // PKITS 4.10.1.3: with mapping inhibited the mapped policy disappears; the CA requires
        // an explicit policy, so the path fails.
        let path = pkits_path(&["Mapping1to2CACert", "ValidPolicyMappingTest1EE"]);
        let inhibited = PolicySettings {
            initial_policy_mapping_inhibit: true,
            ..PolicySettings::default()
        };
        assert_eq!(run(&path, &inhibited), Err(Reason::PolicyNotAcceptable));
    }

    #[test]
    fn mapping_from_or_to_any_policy_is_rejected() {
        let from_any = pkits_path(&[
            "MappingFromanyPolicyCACert",
            "InvalidMappingFromanyPolicyTest7EE",
        ]);
        assert_eq!(
            run(&from_any, &PolicySettings::default())
                .unwrap_err()
                .code(),
            "policy-mapping-invalid"
        );
        let to_any = pkits_path(&[
            "MappingToanyPolicyCACert",
            "InvalidMappingToanyPolicyTest8EE",
        ]);
        assert_eq!(
            run(&to_any, &PolicySettings::default()),
            Err(Reason::PolicyMappingInvalid)
        );
    }

    #[test]
    fn inhibit_policy_mapping_counter_deletes_mappings_below_it() {
        // PKITS 4.11.1: inhibitPolicyMapping=0 in the CA above the mapping CA.
        let invalid = pkits_path(&[
            "inhibitPolicyMapping0CACert",
            "inhibitPolicyMapping0subCACert",
            "InvalidinhibitPolicyMappingTest1EE",
        ]);
        assert_eq!(
            run(&invalid, &PolicySettings::default()),
            Err(Reason::PolicyNotAcceptable)
        );
        // PKITS 4.11.2: inhibitPolicyMapping=1 lets the next CA map.
        let valid = pkits_path(&[
            "inhibitPolicyMapping1P12CACert",
            "inhibitPolicyMapping1P12subCACert",
            "ValidinhibitPolicyMappingTest2EE",
        ]);
        assert_eq!(
            run(&valid, &PolicySettings::default())
                .unwrap()
                .user_constrained_policy_set,
            vec![nist_policy(1)]
        );
    }

    #[test]
    fn self_issued_certificates_do_not_count_down_inhibit_policy_mapping() {
        // PKITS 4.11.7 (valid) and 4.11.8 (invalid): a self-issued CA between the constraint
        // and the mapping CA does not use up the skip count, an ordinary CA does.
        let valid = pkits_path(&[
            "inhibitPolicyMapping1P1CACert",
            "inhibitPolicyMapping1P1SelfIssuedCACert",
            "inhibitPolicyMapping1P1subCACert",
            "ValidSelfIssuedinhibitPolicyMappingTest7EE",
        ]);
        assert!(run(&valid, &PolicySettings::default()).is_ok());
        let invalid = pkits_path(&[
            "inhibitPolicyMapping1P1CACert",
            "inhibitPolicyMapping1P1SelfIssuedCACert",
            "inhibitPolicyMapping1P1subCACert",
            "inhibitPolicyMapping1P1subsubCACert",
            "InvalidSelfIssuedinhibitPolicyMappingTest8EE",
        ]);
        assert_eq!(
            run(&invalid, &PolicySettings::default()),
            Err(Reason::PolicyNotAcceptable)
        );
    }

    #[test]
    fn inhibit_any_policy_stops_any_policy_matching() {
        // PKITS 4.12.1: inhibitAnyPolicy=0; the EE asserts only anyPolicy.
        let invalid = pkits_path(&["inhibitAnyPolicy0CACert", "InvalidinhibitAnyPolicyTest1EE"]);
        assert_eq!(
            run(&invalid, &PolicySettings::default()),
            Err(Reason::PolicyNotAcceptable)
        );
        // PKITS 4.12.2: the EE asserts a concrete policy, which needs no anyPolicy matching.
        let valid = pkits_path(&["inhibitAnyPolicy0CACert", "ValidinhibitAnyPolicyTest2EE"]);
        assert_eq!(
            run(&valid, &PolicySettings::default())
                .unwrap()
                .user_constrained_policy_set,
            vec![nist_policy(1)]
        );
    }

    #[test]
    fn initial_any_policy_inhibit_applies_from_the_first_certificate() {
        // PKITS 4.12.3: valid by default, invalid with initial-any-policy-inhibit.
        let path = pkits_path(&[
            "inhibitAnyPolicy1CACert",
            "inhibitAnyPolicy1subCA1Cert",
            "inhibitAnyPolicyTest3EE",
        ]);
        assert!(run(&path, &PolicySettings::default()).is_ok());
        let inhibited = PolicySettings {
            initial_any_policy_inhibit: true,
            ..PolicySettings::default()
        };
        assert_eq!(run(&path, &inhibited), Err(Reason::PolicyNotAcceptable));
    }

    #[test]
    fn repeated_policy_in_one_certificate_creates_one_node() {
        let cert = ca_with(&[nist_policy(1), nist_policy(1), nist_policy(1)], &[]);
        let mut state = PolicyState::new(&PolicySettings::default(), 2);
        state.process_certificate(&cert, 1).unwrap();
        let graph = state.graph.as_ref().unwrap();
        assert_eq!(graph.levels[1].len(), 1);
        assert_eq!(graph.size, 3, "root, one node, one parent link");
    }

    #[test]
    fn branches_that_end_are_pruned_up_to_the_root() {
        let path = [
            ca_with(&[nist_policy(1), nist_policy(2)], &[]),
            ca_with(&[nist_policy(1), nist_policy(2)], &[]),
            ca_with(&[nist_policy(2)], &[]),
        ];
        let mut state = PolicyState::new(&PolicySettings::default(), 3);
        for (index, cert) in path.iter().enumerate() {
            state.process_certificate(cert, index + 1).unwrap();
            if index + 1 < 3 {
                state.prepare_next(cert).unwrap();
            }
        }
        let graph = state.graph.as_ref().unwrap();
        for level in graph.levels.iter().skip(1) {
            assert_eq!(
                level.keys().cloned().collect::<Vec<_>>(),
                vec![nist_policy(2)]
            );
        }
    }

    /// k policies, each mapped to all k: the RFC 5280 tree multiplies by k at every depth.
    fn hostile_fan_out_path(k: u32, cas: usize) -> Vec<Certificate> {
        let policies: Vec<Oid> = (1..=k).map(nist_policy).collect();
        let mappings: Vec<(Oid, Oid)> = policies
            .iter()
            .flat_map(|from| policies.iter().map(move |to| (from.clone(), to.clone())))
            .collect();
        let mut path: Vec<Certificate> = (0..cas).map(|_| ca_with(&policies, &mappings)).collect();
        let mut end_entity = ca_with(&policies, &[]);
        end_entity.extensions_mut().basic_constraints = None;
        path.push(end_entity);
        path
    }

    #[test]
    fn hostile_mapping_fan_out_stays_linear() {
        // 16 policies through 9 mapping CAs: the RFC 5280 tree would hold 16^10 ≈ 10^12 leaves.
        let path = hostile_fan_out_path(16, 9);
        let n = path.len();
        let mut state = PolicyState::new(&PolicySettings::default(), n);
        for (index, cert) in path.iter().enumerate() {
            state.process_certificate(cert, index + 1).unwrap();
            if index + 1 < n {
                state.prepare_next(cert).unwrap();
            }
        }
        let graph = state.graph.as_ref().unwrap();
        assert!(graph.levels.iter().skip(1).all(|level| level.len() == 16));
        assert!(graph.size < MAX_POLICY_GRAPH_SIZE);
        let outcome = state.wrap_up(path.last().unwrap()).unwrap();
        assert_eq!(
            outcome.user_constrained_policy_set,
            oids(&(1..=16).map(nist_policy).collect::<Vec<_>>())
        );
    }

    #[test]
    fn hostile_fan_out_beyond_the_cap_is_rejected() {
        let path = hostile_fan_out_path(80, 4);
        let err = run(&path, &PolicySettings::default()).unwrap_err();
        assert_eq!(
            err,
            Reason::PolicyGraphTooLarge {
                limit: MAX_POLICY_GRAPH_SIZE
            }
        );
        assert_eq!(err.code(), "policy-graph-too-large");
    }

    #[test]
    fn end_entity_require_explicit_policy_zero_demands_a_policy() {
        let mut end_entity = ca_with(&[nist_policy(1)], &[]);
        end_entity.extensions_mut().certificate_policies = None;
        end_entity.extensions_mut().policy_constraints = Some(PolicyConstraints {
            require_explicit_policy: Some(0),
            inhibit_policy_mapping: None,
        });
        let path = vec![ca_with(&[nist_policy(1)], &[]), end_entity];
        assert_eq!(
            run(&path, &PolicySettings::default()),
            Err(Reason::PolicyNotAcceptable)
        );
    }

    // ---- Differential check against the RFC 5280 tree ----------------------------------------

    /// The valid_policy_tree exactly as RFC 5280 §6.1 words it, exponential and all: the
    /// reference the graph must agree with (RFC 9618 §4 claims equivalence).
    struct ReferenceTree {
        /// Arena; `None` once deleted.
        nodes: Vec<Option<ReferenceNode>>,
    }

    /// (valid_policy, expected_policy_set, parent, depth)
    type ReferenceNode = (Oid, BTreeSet<Oid>, Option<usize>, usize);

    impl ReferenceTree {
        fn new() -> Self {
            ReferenceTree {
                nodes: vec![Some((
                    any_policy(),
                    BTreeSet::from([any_policy()]),
                    None,
                    0,
                ))],
            }
        }
        fn live(&self) -> impl Iterator<Item = (usize, &ReferenceNode)> {
            self.nodes
                .iter()
                .enumerate()
                .filter_map(|(id, node)| node.as_ref().map(|node| (id, node)))
        }
        fn at_depth(&self, depth: usize) -> Vec<usize> {
            self.live()
                .filter(|(_, node)| node.3 == depth)
                .map(|(id, _)| id)
                .collect()
        }
        fn children(&self, parent: usize) -> Vec<usize> {
            self.live()
                .filter(|(_, node)| node.2 == Some(parent))
                .map(|(id, _)| id)
                .collect()
        }
        fn node(&self, id: usize) -> &ReferenceNode {
            self.nodes[id].as_ref().unwrap()
        }
        fn add(&mut self, valid: &Oid, expected: BTreeSet<Oid>, parent: usize) {
            let depth = self.node(parent).3 + 1;
            self.nodes
                .push(Some((valid.clone(), expected, Some(parent), depth)));
        }
        fn delete_subtree(&mut self, id: usize) {
            for child in self.children(id) {
                self.delete_subtree(child);
            }
            self.nodes[id] = None;
        }
        /// Deletes childless nodes of depth `max_depth` or less, repeatedly.
        fn prune(&mut self, max_depth: usize) {
            loop {
                let childless: Vec<usize> = self
                    .live()
                    .filter(|(id, node)| node.3 <= max_depth && self.children(*id).is_empty())
                    .map(|(id, _)| id)
                    .collect();
                if childless.is_empty() {
                    break;
                }
                for id in childless {
                    self.nodes[id] = None;
                }
            }
        }
        fn is_null(&self) -> bool {
            self.nodes[0].is_none()
        }
        /// Policies of nodes directly under anyPolicy, plus anyPolicy for an anyPolicy leaf.
        fn policy_set(&self, n: usize) -> Vec<Oid> {
            let mut set = BTreeSet::new();
            for (_, (valid, _, parent, depth)) in self.live() {
                let under_any = parent.is_some_and(|p| is_any_policy(&self.node(p).0));
                if (under_any && !is_any_policy(valid)) || (*depth == n && is_any_policy(valid)) {
                    set.insert(valid.clone());
                }
            }
            set.into_iter().collect()
        }
    }

    /// RFC 5280 §6.1 with the tree; same contract as [`run`].
    fn run_reference(
        certs: &[Certificate],
        settings: &PolicySettings,
    ) -> Result<PolicyOutcome, Reason> {
        let n = certs.len();
        let initial = |demanded: bool| if demanded { 0 } else { n as u64 + 1 };
        let mut explicit_policy = initial(settings.initial_explicit_policy);
        let mut policy_mapping = initial(settings.initial_policy_mapping_inhibit);
        let mut inhibit_any = initial(settings.initial_any_policy_inhibit);
        let mut tree = Some(ReferenceTree::new());
        for (index, cert) in certs.iter().enumerate() {
            let i = index + 1;
            let ext = cert.extensions();
            match (&ext.certificate_policies, tree.as_mut()) {
                (None, _) => tree = None,
                (Some(_), None) => {}
                (Some(policies), Some(t)) => {
                    let mut seen = BTreeSet::new();
                    for p in policies
                        .iter()
                        .map(|p| &p.policy)
                        .filter(|p| !is_any_policy(p))
                    {
                        if !seen.insert(p.clone()) {
                            continue;
                        }
                        let parents = t.at_depth(i - 1);
                        let matching: Vec<usize> = parents
                            .iter()
                            .copied()
                            .filter(|&id| t.node(id).1.contains(p))
                            .collect();
                        if matching.is_empty() {
                            if let Some(&any) =
                                parents.iter().find(|&&id| is_any_policy(&t.node(id).0))
                            {
                                t.add(p, BTreeSet::from([p.clone()]), any);
                            }
                        }
                        for parent in matching {
                            t.add(p, BTreeSet::from([p.clone()]), parent);
                        }
                    }
                    let has_any = policies.iter().any(|p| is_any_policy(&p.policy));
                    if has_any && (inhibit_any > 0 || (i < n && cert.is_self_issued())) {
                        for parent in t.at_depth(i - 1) {
                            for expected in t.node(parent).1.clone() {
                                let present =
                                    t.children(parent).iter().any(|&c| t.node(c).0 == expected);
                                if !present {
                                    t.add(&expected, BTreeSet::from([expected.clone()]), parent);
                                }
                            }
                        }
                    }
                    t.prune(i - 1);
                    if t.is_null() {
                        tree = None;
                    }
                }
            }
            if explicit_policy == 0 && tree.is_none() {
                return Err(Reason::PolicyNotAcceptable);
            }
            if i == n {
                break;
            }
            if let Some(mappings) = &ext.policy_mappings {
                if mappings
                    .iter()
                    .any(|m| is_any_policy(&m.issuer_domain) || is_any_policy(&m.subject_domain))
                {
                    return Err(Reason::PolicyMappingInvalid);
                }
                if let Some(t) = tree.as_mut() {
                    let issuers: BTreeSet<Oid> =
                        mappings.iter().map(|m| m.issuer_domain.clone()).collect();
                    for id_p in issuers {
                        let mapped: BTreeSet<Oid> = mappings
                            .iter()
                            .filter(|m| m.issuer_domain == id_p)
                            .map(|m| m.subject_domain.clone())
                            .collect();
                        let nodes: Vec<usize> = t
                            .at_depth(i)
                            .into_iter()
                            .filter(|&id| t.node(id).0 == id_p)
                            .collect();
                        if policy_mapping > 0 {
                            for &id in &nodes {
                                t.nodes[id].as_mut().unwrap().1 = mapped.clone();
                            }
                            if nodes.is_empty() {
                                let any_at_i = t
                                    .at_depth(i)
                                    .into_iter()
                                    .find(|&id| is_any_policy(&t.node(id).0));
                                if let Some(any_node) = any_at_i {
                                    let parent = t.node(any_node).2.unwrap();
                                    t.add(&id_p, mapped, parent);
                                }
                            }
                        } else {
                            for id in nodes {
                                t.nodes[id] = None;
                            }
                            t.prune(i - 1);
                        }
                    }
                    if t.is_null() {
                        tree = None;
                    }
                }
            }
            if !cert.is_self_issued() {
                explicit_policy = explicit_policy.saturating_sub(1);
                policy_mapping = policy_mapping.saturating_sub(1);
                inhibit_any = inhibit_any.saturating_sub(1);
            }
            if let Some(pc) = ext.policy_constraints {
                if let Some(r) = pc.require_explicit_policy {
                    explicit_policy = explicit_policy.min(u64::from(r));
                }
                if let Some(m) = pc.inhibit_policy_mapping {
                    policy_mapping = policy_mapping.min(u64::from(m));
                }
            }
            if let Some(skip) = ext.inhibit_any_policy {
                inhibit_any = inhibit_any.min(u64::from(skip));
            }
        }
        let end_entity = certs.last().unwrap();
        explicit_policy = explicit_policy.saturating_sub(1);
        if end_entity
            .policy_constraints()
            .and_then(|c| c.require_explicit_policy)
            == Some(0)
        {
            explicit_policy = 0;
        }
        let authority = tree.as_ref().map(|t| t.policy_set(n)).unwrap_or_default();
        // §6.1.5 (g)(iii)
        if let Some(t) = tree.as_mut() {
            if !settings.initial_policy_set.iter().any(is_any_policy) {
                let user: BTreeSet<&Oid> = settings.initial_policy_set.iter().collect();
                let node_set: Vec<usize> = t
                    .live()
                    .filter(|(_, node)| node.2.is_some_and(|p| is_any_policy(&t.node(p).0)))
                    .map(|(id, _)| id)
                    .collect();
                let node_set_policies: BTreeSet<Oid> =
                    node_set.iter().map(|&id| t.node(id).0.clone()).collect();
                for id in node_set {
                    if t.nodes[id].is_some()
                        && !is_any_policy(&t.node(id).0)
                        && !user.contains(&t.node(id).0)
                    {
                        t.delete_subtree(id);
                    }
                }
                let any_leaf = t
                    .at_depth(n)
                    .into_iter()
                    .find(|&id| is_any_policy(&t.node(id).0));
                if let Some(leaf) = any_leaf {
                    let parent = t.node(leaf).2.unwrap();
                    for p in &user {
                        if !node_set_policies.contains(*p) {
                            t.add(p, BTreeSet::from([(*p).clone()]), parent);
                        }
                    }
                    t.nodes[leaf] = None;
                }
                t.prune(n - 1);
                if t.is_null() {
                    tree = None;
                }
            }
        }
        if explicit_policy == 0 && tree.is_none() {
            return Err(Reason::PolicyNotAcceptable);
        }
        Ok(PolicyOutcome {
            user_constrained_policy_set: tree.as_ref().map(|t| t.policy_set(n)).unwrap_or_default(),
            authority_constrained_policy_set: authority,
        })
    }

    /// xorshift64*: a fixed-seed generator, so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, bound: u64) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound
        }
        fn chance(&mut self, percent: u64) -> bool {
            self.below(100) < percent
        }
        fn small_count(&mut self) -> Option<u32> {
            self.chance(40).then(|| self.below(3) as u32)
        }
        /// A random subset of NIST-test-policy-1..3 and (sometimes) anyPolicy.
        fn policies(&mut self, any_percent: u64) -> Vec<Oid> {
            let mut set: Vec<Oid> = (1..=3)
                .filter(|_| self.chance(45))
                .map(nist_policy)
                .collect();
            if self.chance(any_percent) {
                set.push(any_policy());
            }
            set
        }
    }

    #[test]
    fn graph_agrees_with_the_rfc_5280_tree_on_random_paths() {
        let template = ca_with(&[], &[]);
        let mut rng = Rng(0x5eed_cafe_f00d_1234);
        let (mut accepted, mut rejected) = (0, 0);
        for case in 0..4000 {
            let n = 1 + rng.below(5) as usize;
            let path: Vec<Certificate> = (1..=n)
                .map(|i| {
                    let mut cert = template.clone();
                    let ext = cert.extensions_mut();
                    ext.certificate_policies = (!rng.chance(10)).then(|| {
                        rng.policies(35)
                            .into_iter()
                            .map(|policy| PolicyInformation {
                                policy,
                                qualifiers: Vec::new(),
                            })
                            .collect()
                    });
                    if i < n && rng.chance(45) {
                        let count = 1 + rng.below(4);
                        let any_ok = rng.chance(5);
                        let pick = |rng: &mut Rng| {
                            if any_ok && rng.chance(30) {
                                any_policy()
                            } else {
                                nist_policy(1 + rng.below(3) as u32)
                            }
                        };
                        ext.policy_mappings = Some(
                            (0..count)
                                .map(|_| PolicyMapping {
                                    issuer_domain: pick(&mut rng),
                                    subject_domain: pick(&mut rng),
                                })
                                .collect(),
                        );
                    }
                    if rng.chance(30) {
                        ext.policy_constraints = Some(PolicyConstraints {
                            require_explicit_policy: rng.small_count(),
                            inhibit_policy_mapping: rng.small_count(),
                        });
                    }
                    ext.inhibit_any_policy = rng.small_count().filter(|_| rng.chance(50));
                    if i < n && rng.chance(25) {
                        cert.issuer = cert.subject.clone();
                    }
                    cert
                })
                .collect();
            let mut initial = rng.policies(30);
            if initial.is_empty() || rng.chance(40) {
                initial = vec![any_policy()];
            }
            let settings = PolicySettings {
                initial_policy_set: initial,
                initial_explicit_policy: rng.chance(25),
                initial_policy_mapping_inhibit: rng.chance(15),
                initial_any_policy_inhibit: rng.chance(15),
            };
            let graph = run(&path, &settings);
            let tree = run_reference(&path, &settings);
            assert_eq!(
                graph,
                tree,
                "case {case}: settings {settings:?}\npath extensions {:#?}",
                path.iter().map(|c| c.extensions()).collect::<Vec<_>>()
            );
            if graph.is_ok() {
                accepted += 1
            } else {
                rejected += 1
            }
        }
        eprintln!("graph vs tree: {accepted} accepted, {rejected} rejected, all agree");
        // Both outcomes must be well represented, or the comparison proves little.
        assert!(
            accepted > 1000 && rejected > 1000,
            "accepted {accepted}, rejected {rejected}"
        );
    }

    // ---- PKITS --------------------------------------------------------------------------------

    /// Path to the shared PKITS expectations: `PKITS_EXPECTATIONS`, else `shared/` beside the
    /// repository checkout.
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
        let tests = json["tests"]
            .as_array()
            .expect("expectations.json has a tests array")
            .clone();
        assert_eq!(tests.len(), 249, "expected all 249 PKITS entries");
        tests
    }

    fn policy_oid(name: &str) -> Oid {
        if name == "anyPolicy" {
            return any_policy();
        }
        let n = name
            .strip_prefix("NIST-test-policy-")
            .unwrap_or_else(|| panic!("unknown policy name {name}"));
        Oid::new(format!("2.16.840.1.101.3.2.1.48.{n}"))
    }

    fn strings(value: &serde_json::Value) -> Vec<&str> {
        value
            .as_array()
            .expect("an array")
            .iter()
            .map(|v| v.as_str().expect("a string"))
            .collect()
    }

    fn entry_settings(entry: &serde_json::Value) -> PolicySettings {
        PolicySettings {
            initial_policy_set: strings(&entry["initial_policy_set_oids"])
                .into_iter()
                .map(Oid::new)
                .collect(),
            initial_explicit_policy: entry["initial_explicit_policy"].as_bool().expect("bool"),
            initial_policy_mapping_inhibit: entry["initial_policy_mapping_inhibit"]
                .as_bool()
                .expect("bool"),
            initial_any_policy_inhibit: entry["initial_inhibit_any_policy"]
                .as_bool()
                .expect("bool"),
        }
    }

    /// Tests in sections 4.8–4.12 whose expected "invalid" has nothing to do with policies.
    /// None are known: every invalid test there fails for a policy reason.
    const NON_POLICY_FAILURES: &[&str] = &[];

    /// Runs policy processing for one entry; returns a description of any disagreement.
    fn check(entry: &serde_json::Value) -> Option<String> {
        let id = entry["id"].as_str().expect("id");
        let certs = strings(&entry["certs"]);
        let path: Vec<Certificate> = certs.iter().skip(1).map(|stem| pkits_cert(stem)).collect();
        let result = run(&path, &entry_settings(entry));
        let expected_valid = entry["expected"] == "valid";
        match (expected_valid, result) {
            (true, Ok(outcome)) => {
                let wanted = oids(
                    &strings(&entry["user_constrained_policy_set"])
                        .into_iter()
                        .map(policy_oid)
                        .collect::<Vec<_>>(),
                );
                (outcome.user_constrained_policy_set != wanted).then(|| {
                    format!(
                        "{id}: user set {:?}, expected {:?}",
                        outcome.user_constrained_policy_set, wanted
                    )
                })
            }
            (true, Err(reason)) => Some(format!(
                "{id}: expected valid, policy processing failed: {reason}"
            )),
            (false, Ok(outcome)) if !NON_POLICY_FAILURES.contains(&id) => Some(format!(
                "{id}: expected invalid, policy processing succeeded with {outcome:?}"
            )),
            (false, _) => None,
        }
    }

    #[test]
    fn pkits_policy_sections_match_expectations() {
        let entries: Vec<serde_json::Value> = expectations()
            .into_iter()
            .filter(|e| (8..=12).contains(&e["section"].as_u64().unwrap_or(0)))
            .collect();
        let failures: Vec<String> = entries.iter().filter_map(check).collect();
        let valid = entries.iter().filter(|e| e["expected"] == "valid").count();
        // Which rule rejected each invalid path, to show the rejections are the intended ones.
        let mut rejections: BTreeMap<&str, usize> = BTreeMap::new();
        for entry in entries.iter().filter(|e| e["expected"] == "invalid") {
            let certs = strings(&entry["certs"]);
            let path: Vec<Certificate> =
                certs.iter().skip(1).map(|stem| pkits_cert(stem)).collect();
            if let Err(reason) = run(&path, &entry_settings(entry)) {
                *rejections.entry(reason.code()).or_default() += 1;
            }
        }
        eprintln!(
            "PKITS 4.8-4.12: {} entries ({valid} valid, {} invalid), {} disagreements; rejections {rejections:?}",
            entries.len(),
            entries.len() - valid,
            failures.len()
        );
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert_eq!(entries.len(), 88);
    }

    #[test]
    fn pkits_valid_paths_pass_policy_processing_with_expected_user_set() {
        let entries: Vec<serde_json::Value> = expectations()
            .into_iter()
            .filter(|e| e["expected"] == "valid")
            .collect();
        let failures: Vec<String> = entries.iter().filter_map(check).collect();
        eprintln!(
            "PKITS valid paths: {} entries, {} disagreements",
            entries.len(),
            failures.len()
        );
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert_eq!(entries.len(), 114);
    }
}
