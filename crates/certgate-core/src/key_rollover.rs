//! The life cycle of token-signing keys, shared by the federation service (RSA token-signing
//! certificates in the SAML / WS-Federation metadata) and the OpenID Connect provider (ES256
//! keys in the JWKS). What is theirs — the key material, how it is generated, sealed,
//! named (a certificate thumbprint, a JWK thumbprint) and published (a certificate in XML, a
//! JWK) — stays with them; what is common is here, once:
//!
//! - the states, Next → Current → Retired ([`KeyState`], stored as `next`, `current`,
//!   `retired`), and the times a key carries through them ([`Lifecycle`]);
//! - the first keys of a service: one Current and one Next ([`initial_keys`]);
//! - when a rotation is due, which keys are published and in what order, and what a retired
//!   key becomes ([`RolloverPolicy`]; the services differ there, on purpose, and say so in their
//!   policy rather than in code of their own);
//! - the rotation itself: the Current key retires, the Next key becomes Current, a new Next is
//!   published, and the Retired keys no longer published may go ([`RolloverPolicy::plan_rotation`],
//!   [`Rotation`]). The store applies it as one compare-and-swap: it changes the Current and Next
//!   keys only while they are still the ones the plan was made from.
//!
//! A Next key is published before it signs anything, so a relying party that reads the
//! metadata or the JWKS already knows it when a rotation makes it Current. No function here
//! reads a clock: `now` is always a parameter.

use std::time::Duration;

use certgate_pki::UnixTime;

/// Where a key is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyState {
    /// Published, not signing yet: becomes Current at the next rotation, and relying parties
    /// learn it ahead.
    Next,
    /// Signs every new token; published first.
    Current,
    /// Rolled over: signs nothing. Whether it is still published is the service's
    /// [`RetiredKeys`] policy.
    Retired,
}

impl KeyState {
    /// `next`, `current` or `retired`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Current => "current",
            KeyState::Retired => "retired",
        }
    }

    /// Reads the name [`as_str`](Self::as_str) writes; `None` for anything else.
    pub fn parse(text: &str) -> Option<KeyState> {
        match text {
            "next" => Some(KeyState::Next),
            "current" => Some(KeyState::Current),
            "retired" => Some(KeyState::Retired),
            _ => None,
        }
    }
}

/// A key's state and the times it went through its states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifecycle {
    /// Next, Current or Retired.
    pub state: KeyState,
    /// When the key was generated.
    pub created_at: UnixTime,
    /// When it became Current (`None` while Next).
    pub activated_at: Option<UnixTime>,
    /// When it was retired (`None` until then).
    pub retired_at: Option<UnixTime>,
}

impl Lifecycle {
    /// A key generated at `now` in `state`: a key generated Current is active from `now`.
    pub fn new(state: KeyState, now: UnixTime) -> Lifecycle {
        Lifecycle {
            state,
            created_at: now,
            activated_at: (state == KeyState::Current).then_some(now),
            retired_at: None,
        }
    }

    /// The order keys are published in: Current, Next, then Retired; the newest first within
    /// a state.
    pub fn publication_order(&self) -> impl Ord {
        let rank = match self.state {
            KeyState::Current => 0u8,
            KeyState::Next => 1,
            KeyState::Retired => 2,
        };
        (rank, std::cmp::Reverse(self.created_at.0))
    }
}

/// A stored key as the life cycle sees it; the key material is the implementer's.
pub trait RolloverKey {
    /// What names the key in the store (a certificate thumbprint, a JWK `kid`).
    type Id: Clone + PartialEq + Ord + std::fmt::Debug;

    /// The key's name.
    fn key_id(&self) -> Self::Id;
    /// Its state and times.
    fn lifecycle(&self) -> Lifecycle;
    /// Replaces its state and times (a rotation applied in memory).
    fn set_lifecycle(&mut self, lifecycle: Lifecycle);
    /// When the key (its certificate) stops being valid, if it has an end; a key without one
    /// is never due for a [`RotationSchedule::BeforeExpiry`] rotation.
    fn not_after(&self) -> Option<UnixTime> {
        None
    }
}

/// What a service does with a key once it is Retired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetiredKeys {
    /// Unpublished from the moment it retires, and kept in the store (listed, never deleted by
    /// a rotation). The federation service: an assertion is consumed within minutes of its
    /// issue, and relying parties read the metadata for the Next key, not for old ones.
    KeptUnpublished,
    /// Published until `retired_at` + this duration (the longest lifetime of a token it
    /// signed), so a rotation never invalidates a token in flight; the next rotation after
    /// that deletes it. The OpenID Connect JWKS. A Retired key without a retirement time is
    /// taken as retired at its creation (fail closed: trusted for less time, never more).
    PublishedFor(Duration),
}

/// When a service rotates its keys on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RotationSchedule {
    /// When the Current key has been Current this long (since `activated_at`, or its
    /// creation for a key that has none). The OpenID Connect keys.
    AfterCurrentFor(Duration),
    /// When the Current key ends (its [`RolloverKey::not_after`]) in less than this. The
    /// federation certificates: Entra ID rolls over from the metadata 30 days before expiry.
    BeforeExpiry(Duration),
}

/// A service's rules for its keys. The life cycle is the same for every service; these are
/// the points where they differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RolloverPolicy {
    /// Whether and how long Retired keys stay published, and whether a rotation deletes them.
    pub retired: RetiredKeys,
    /// When a rotation is due.
    pub rotation: RotationSchedule,
}

impl RolloverPolicy {
    /// Whether a key in `lifecycle` is published at `now`: Current and Next always, Retired as
    /// [`RetiredKeys`] says.
    pub fn publishes(&self, lifecycle: &Lifecycle, now: UnixTime) -> bool {
        match (lifecycle.state, self.retired) {
            (KeyState::Next | KeyState::Current, _) => true,
            (KeyState::Retired, RetiredKeys::KeptUnpublished) => false,
            (KeyState::Retired, RetiredKeys::PublishedFor(lifetime)) => {
                let retired_at = lifecycle.retired_at.unwrap_or(lifecycle.created_at);
                retired_at.0.saturating_add(seconds(lifetime)) > now.0
            }
        }
    }

    /// The keys published at `now`, in [`Lifecycle::publication_order`]: Current first.
    pub fn published<'a, K: RolloverKey>(&self, keys: &'a [K], now: UnixTime) -> Vec<&'a K> {
        let mut published: Vec<&K> = keys
            .iter()
            .filter(|key| self.publishes(&key.lifecycle(), now))
            .collect();
        published.sort_by_key(|key| key.lifecycle().publication_order());
        published
    }

    /// Whether a Current key among `keys` is due for rotation at `now`.
    pub fn rotation_due<K: RolloverKey>(&self, keys: &[K], now: UnixTime) -> bool {
        keys.iter()
            .filter(|key| key.lifecycle().state == KeyState::Current)
            .any(|key| match self.rotation {
                RotationSchedule::AfterCurrentFor(period) => {
                    let lifecycle = key.lifecycle();
                    let since = lifecycle.activated_at.unwrap_or(lifecycle.created_at);
                    now.0.saturating_sub(since.0) >= seconds(period)
                }
                RotationSchedule::BeforeExpiry(margin) => key
                    .not_after()
                    .is_some_and(|end| end.0.saturating_sub(now.0) < seconds(margin)),
            })
    }

    /// Plans the rotation of `keys` (every stored key) at `now`: the Current key retires, the
    /// Next key becomes Current, `new_next` (generated in state Next) is inserted, and, under
    /// [`RetiredKeys::PublishedFor`], the Retired keys no longer published are deleted.
    /// Refused unless there is exactly one Current and one Next key.
    pub fn plan_rotation<K: RolloverKey>(
        &self,
        keys: &[K],
        new_next: K,
        now: UnixTime,
    ) -> Result<Rotation<K>, RolloverError<K::Id>> {
        let (current, next) = current_and_next(keys)?;
        if new_next.lifecycle().state != KeyState::Next {
            return Err(RolloverError::NewKeyNotNext {
                key: new_next.key_id(),
            });
        }
        let purge = match self.retired {
            RetiredKeys::KeptUnpublished => Vec::new(),
            RetiredKeys::PublishedFor(_) => keys
                .iter()
                .filter(|key| {
                    let lifecycle = key.lifecycle();
                    lifecycle.state == KeyState::Retired && !self.publishes(&lifecycle, now)
                })
                .map(RolloverKey::key_id)
                .collect(),
        };
        Ok(Rotation {
            at: now,
            retire: current.key_id(),
            promote: next.key_id(),
            insert: new_next,
            purge,
        })
    }
}

/// The first keys of a service, in this order: one Current and one Next, both generated by
/// `generate` for the state it is given.
pub fn initial_keys<K, E>(mut generate: impl FnMut(KeyState) -> Result<K, E>) -> Result<[K; 2], E> {
    Ok([generate(KeyState::Current)?, generate(KeyState::Next)?])
}

/// The Current and the Next key; refused unless there is exactly one of each (checked in
/// that order).
pub fn current_and_next<K: RolloverKey>(keys: &[K]) -> Result<(&K, &K), RolloverError<K::Id>> {
    let current = only_one(keys, KeyState::Current)?;
    let next = only_one(keys, KeyState::Next).map_err(|error| match error {
        RolloverError::Missing(_) => RolloverError::NoNext {
            current: current.key_id(),
        },
        other => other,
    })?;
    Ok((current, next))
}

fn only_one<K: RolloverKey>(keys: &[K], state: KeyState) -> Result<&K, RolloverError<K::Id>> {
    let mut matching = keys.iter().filter(|key| key.lifecycle().state == state);
    match (matching.next(), matching.next()) {
        (Some(key), None) => Ok(key),
        (None, _) => Err(RolloverError::Missing(state)),
        (Some(first), Some(_)) => Err(RolloverError::Several {
            state,
            first: first.key_id(),
        }),
    }
}

/// Every key's name and state, sorted: equal lists mean the store has not changed (no
/// rotation, no new key) since the other list was taken.
pub fn states<K: RolloverKey>(keys: &[K]) -> Vec<(K::Id, KeyState)> {
    let mut states: Vec<_> = keys
        .iter()
        .map(|key| (key.key_id(), key.lifecycle().state))
        .collect();
    states.sort();
    states
}

/// One rotation, as the store applies it in a single transaction: `retire` (Current) becomes
/// Retired, `promote` (Next) becomes Current, `insert` is the new Next, and `purge` lists the
/// Retired keys to delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotation<K: RolloverKey> {
    /// When the rotation happens; the retired key's `retired_at` and the promoted key's
    /// `activated_at`.
    pub at: UnixTime,
    /// The Current key, to become Retired.
    pub retire: K::Id,
    /// The Next key, to become Current.
    pub promote: K::Id,
    /// The new Next key.
    pub insert: K,
    /// Retired keys no longer published, to delete (always empty under
    /// [`RetiredKeys::KeptUnpublished`]).
    pub purge: Vec<K::Id>,
}

impl<K: RolloverKey + Clone> Rotation<K> {
    /// `keys` as they are after the rotation (what the store holds once it committed).
    pub fn apply_to(&self, keys: &[K]) -> Vec<K> {
        let mut after: Vec<K> = keys
            .iter()
            .filter(|key| !self.purge.contains(&key.key_id()))
            .cloned()
            .map(|mut key| {
                let mut lifecycle = key.lifecycle();
                let id = key.key_id();
                if id == self.retire && lifecycle.state == KeyState::Current {
                    lifecycle.state = KeyState::Retired;
                    lifecycle.retired_at = Some(self.at);
                    key.set_lifecycle(lifecycle);
                } else if id == self.promote && lifecycle.state == KeyState::Next {
                    lifecycle.state = KeyState::Current;
                    lifecycle.activated_at = Some(self.at);
                    key.set_lifecycle(lifecycle);
                }
                key
            })
            .collect();
        after.push(self.insert.clone());
        after
    }
}

/// Why the keys cannot be rotated (or loaded): they break the life cycle's rules. Each
/// service answers with its own error and reason code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RolloverError<Id> {
    /// No key is in this state.
    #[error("no {} signing key", .0.as_str())]
    Missing(KeyState),
    /// There is a Current key but no Next key to roll over to.
    #[error("no next signing key")]
    NoNext {
        /// The Current key.
        current: Id,
    },
    /// More than one key is in this state.
    #[error("more than one {} signing key", .state.as_str())]
    Several {
        /// The state.
        state: KeyState,
        /// The first of them.
        first: Id,
    },
    /// The key to insert at a rotation is not in state Next.
    #[error("the key to insert at a rotation must be in state next")]
    NewKeyNotNext {
        /// That key.
        key: Id,
    },
}

fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400;
    const HOUR: Duration = Duration::from_secs(3600);
    /// A fixed clock: 2026-01-01T00:00:00Z.
    const NOW: UnixTime = UnixTime(1_767_225_600);

    #[derive(Clone, Debug, PartialEq, Eq)]
    struct TestKey {
        id: &'static str,
        lifecycle: Lifecycle,
        not_after: Option<UnixTime>,
    }

    impl RolloverKey for TestKey {
        type Id = &'static str;
        fn key_id(&self) -> &'static str {
            self.id
        }
        fn lifecycle(&self) -> Lifecycle {
            self.lifecycle
        }
        fn set_lifecycle(&mut self, lifecycle: Lifecycle) {
            self.lifecycle = lifecycle;
        }
        fn not_after(&self) -> Option<UnixTime> {
            self.not_after
        }
    }

    fn key(id: &'static str, state: KeyState, created_at: i64) -> TestKey {
        TestKey {
            id,
            lifecycle: Lifecycle::new(state, UnixTime(created_at)),
            not_after: None,
        }
    }

    fn retired(id: &'static str, created_at: i64, retired_at: Option<i64>) -> TestKey {
        let mut key = key(id, KeyState::Retired, created_at);
        key.lifecycle.retired_at = retired_at.map(UnixTime);
        key
    }

    const OIDC: RolloverPolicy = RolloverPolicy {
        retired: RetiredKeys::PublishedFor(HOUR),
        rotation: RotationSchedule::AfterCurrentFor(Duration::from_secs(30 * DAY)),
    };
    const FEDERATION: RolloverPolicy = RolloverPolicy {
        retired: RetiredKeys::KeptUnpublished,
        rotation: RotationSchedule::BeforeExpiry(Duration::from_secs(20 * DAY)),
    };

    #[test]
    fn states_are_stored_by_name() {
        for state in [KeyState::Next, KeyState::Current, KeyState::Retired] {
            assert_eq!(KeyState::parse(state.as_str()), Some(state));
        }
        assert_eq!(
            [KeyState::Next, KeyState::Current, KeyState::Retired].map(KeyState::as_str),
            ["next", "current", "retired"]
        );
        assert_eq!(KeyState::parse("Current"), None);
        assert_eq!(KeyState::parse(""), None);
    }

    #[test]
    fn initial_keys_are_one_current_active_from_now_and_one_next() {
        let keys: [TestKey; 2] = initial_keys(|state| {
            Ok::<_, ()>(TestKey {
                id: state.as_str(),
                lifecycle: Lifecycle::new(state, NOW),
                not_after: None,
            })
        })
        .unwrap();
        assert_eq!(keys[0].lifecycle.state, KeyState::Current);
        assert_eq!(keys[0].lifecycle.activated_at, Some(NOW));
        assert_eq!(keys[1].lifecycle.state, KeyState::Next);
        assert_eq!(keys[1].lifecycle.activated_at, None);
        assert_eq!(keys[1].lifecycle.retired_at, None);
        let failed = initial_keys(|state| match state {
            KeyState::Next => Err("no entropy"),
            _ => Ok(key("c", state, 0)),
        });
        assert_eq!(failed.unwrap_err(), "no entropy");
    }

    #[test]
    fn retired_keys_are_published_for_the_token_lifetime_or_not_at_all() {
        let at = |t: i64| UnixTime(NOW.0 + t);
        let retired_at_now = retired("r", NOW.0 - 100, Some(NOW.0)).lifecycle;
        assert!(OIDC.publishes(&retired_at_now, at(3599)));
        assert!(!OIDC.publishes(&retired_at_now, at(3600)));
        // Without a retirement time: counted from its creation.
        let undated = retired("u", NOW.0 - 3000, None).lifecycle;
        assert!(OIDC.publishes(&undated, at(599)));
        assert!(!OIDC.publishes(&undated, at(600)));
        assert!(!FEDERATION.publishes(&retired_at_now, NOW));
        for state in [KeyState::Current, KeyState::Next] {
            let lifecycle = Lifecycle::new(state, UnixTime(0));
            assert!(OIDC.publishes(&lifecycle, NOW) && FEDERATION.publishes(&lifecycle, NOW));
        }
    }

    #[test]
    fn published_keys_come_current_first_then_next_then_newest_retired() {
        let keys = [
            retired("old", NOW.0 - 9000, Some(NOW.0 - 5000)),
            key("next", KeyState::Next, NOW.0 - 100),
            retired("r1", NOW.0 - 900, Some(NOW.0 - 200)),
            key("current", KeyState::Current, NOW.0 - 800),
            retired("r2", NOW.0 - 700, Some(NOW.0 - 100)),
        ];
        let ids = |policy: RolloverPolicy| -> Vec<&str> {
            policy
                .published(&keys, NOW)
                .into_iter()
                .map(|k| k.id)
                .collect()
        };
        assert_eq!(ids(OIDC), ["current", "next", "r2", "r1"]);
        assert_eq!(ids(FEDERATION), ["current", "next"]);
    }

    #[test]
    fn rotation_after_a_period_counts_from_activation() {
        let period = 30 * DAY as i64;
        let mut current = key("c", KeyState::Current, NOW.0 - period);
        let keys = |current: &TestKey| [current.clone(), key("n", KeyState::Next, 0)];
        assert!(OIDC.rotation_due(&keys(&current), NOW));
        assert!(!OIDC.rotation_due(&keys(&current), UnixTime(NOW.0 - 1)));
        current.lifecycle.activated_at = Some(UnixTime(NOW.0 - period + 10));
        assert!(!OIDC.rotation_due(&keys(&current), NOW));
        // Without an activation time: counted from its creation.
        current.lifecycle.activated_at = None;
        assert!(OIDC.rotation_due(&keys(&current), NOW));
        // Only a Current key is ever due.
        let old_next = [key("n", KeyState::Next, 0), retired("r", 0, Some(0))];
        assert!(!OIDC.rotation_due(&old_next, NOW));
    }

    #[test]
    fn rotation_before_expiry_counts_to_not_after() {
        let margin = 20 * DAY as i64;
        let mut current = key("c", KeyState::Current, 0);
        current.not_after = Some(UnixTime(NOW.0 + margin));
        assert!(!FEDERATION.rotation_due(std::slice::from_ref(&current), NOW));
        assert!(FEDERATION.rotation_due(std::slice::from_ref(&current), UnixTime(NOW.0 + 1)));
        current.not_after = None;
        assert!(!FEDERATION.rotation_due(std::slice::from_ref(&current), UnixTime(i64::MAX)));
    }

    #[test]
    fn a_rotation_promotes_next_retires_current_and_purges_per_policy() {
        let keys = vec![
            key("current", KeyState::Current, NOW.0 - 5000),
            key("next", KeyState::Next, NOW.0 - 5000),
            retired("expired", 0, Some(NOW.0 - 3600)),
            retired("recent", 0, Some(NOW.0 - 3599)),
        ];
        let new_next = key("new", KeyState::Next, NOW.0);
        let plan = OIDC.plan_rotation(&keys, new_next.clone(), NOW).unwrap();
        assert_eq!(
            (plan.at, plan.retire, plan.promote, plan.purge.clone()),
            (NOW, "current", "next", vec!["expired"])
        );
        assert_eq!(plan.insert, new_next);
        let after = plan.apply_to(&keys);
        let life = |id: &str| after.iter().find(|k| k.id == id).map(|k| k.lifecycle);
        assert_eq!(life("expired"), None);
        let was_current = life("current").unwrap();
        assert_eq!(
            (was_current.state, was_current.retired_at),
            (KeyState::Retired, Some(NOW))
        );
        let was_next = life("next").unwrap();
        assert_eq!(
            (was_next.state, was_next.activated_at),
            (KeyState::Current, Some(NOW))
        );
        assert_eq!(life("new").unwrap().state, KeyState::Next);
        assert_eq!(life("recent").unwrap().state, KeyState::Retired);
        // The federation keeps its Retired keys.
        let plan = FEDERATION.plan_rotation(&keys, new_next, NOW).unwrap();
        assert!(plan.purge.is_empty());
        assert_eq!(plan.apply_to(&keys).len(), 5);
    }

    #[test]
    fn a_rotation_needs_exactly_one_current_and_one_next_and_a_new_next() {
        let new_next = || key("new", KeyState::Next, NOW.0);
        let current = key("c", KeyState::Current, 0);
        let next = key("n", KeyState::Next, 0);
        let refused =
            |keys: &[TestKey], new: TestKey| OIDC.plan_rotation(keys, new, NOW).unwrap_err();
        assert_eq!(
            refused(std::slice::from_ref(&next), new_next()),
            RolloverError::Missing(KeyState::Current)
        );
        let error = refused(std::slice::from_ref(&current), new_next());
        assert_eq!(error, RolloverError::NoNext { current: "c" });
        assert_eq!(error.to_string(), "no next signing key");
        let two_current = [
            current.clone(),
            next.clone(),
            key("c2", KeyState::Current, 0),
        ];
        let error = refused(&two_current, new_next());
        assert_eq!(
            error,
            RolloverError::Several {
                state: KeyState::Current,
                first: "c"
            }
        );
        assert_eq!(error.to_string(), "more than one current signing key");
        let two_next = [current.clone(), next.clone(), key("n2", KeyState::Next, 0)];
        assert_eq!(
            refused(&two_next, new_next()).to_string(),
            "more than one next signing key"
        );
        let pair = [current, next];
        assert_eq!(
            refused(&pair, key("new", KeyState::Current, 0)),
            RolloverError::NewKeyNotNext { key: "new" }
        );
        assert_eq!(current_and_next(&pair).unwrap().0.id, "c");
    }

    #[test]
    fn states_are_sorted_to_compare_stores() {
        let a = [key("b", KeyState::Next, 0), key("a", KeyState::Current, 0)];
        let b = [key("a", KeyState::Current, 5), key("b", KeyState::Next, 9)];
        assert_eq!(states(&a), states(&b));
        assert_eq!(
            states(&a),
            vec![("a", KeyState::Current), ("b", KeyState::Next)]
        );
        let rotated = [
            key("a", KeyState::Retired, 0),
            key("b", KeyState::Current, 0),
        ];
        assert_ne!(states(&a), states(&rotated));
    }
}
