//! The domain password step of a sign-in: the directory checks the password (certgate-core's
//! [`DomainPasswordVerifier`] port, LDAP in certgate-ldap), and certgate keeps its own lockout
//! around it so that a stolen certificate cannot be used to guess passwords or to lock the
//! account in the domain.
//!
//! The lockout counts live in the store ([`DomainPasswordLockoutStore`]), shared by every node
//! and kept across restarts: a guesser holding a stolen certificate gets the limit once, not
//! once per node or per restart. The directory's own lockout policy still applies on top. A
//! check whose count cannot be read or written is refused (fail closed): uncounted guesses
//! would get past the lockout.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};

use certgate_core::domain_password::{
    DomainAccount, DomainPassword, DomainPasswordError, DomainPasswordLockoutStore,
    DomainPasswordVerifier, LockoutPolicy, StoredLockout,
};
use certgate_core::totp::SwapOutcome;
use certgate_pki::UnixTime;

type Verification<'a> = Pin<Box<dyn Future<Output = Result<(), DomainPasswordError>> + Send + 'a>>;

/// [`DomainPasswordVerifier`] behind a pointer: the web context holds one whatever the
/// directory's adapter is.
trait BoxedVerifier: Send + Sync {
    fn verify<'a>(
        &'a self,
        account: &'a DomainAccount,
        password: &'a DomainPassword,
    ) -> Verification<'a>;
}

impl<V: DomainPasswordVerifier> BoxedVerifier for V {
    fn verify<'a>(
        &'a self,
        account: &'a DomainAccount,
        password: &'a DomainPassword,
    ) -> Verification<'a> {
        Box::pin(DomainPasswordVerifier::verify(self, account, password))
    }
}

/// How often a recorded outcome is re-applied when other checks of the same user keep
/// writing first. Each retry follows another node's write, so running out means dozens of
/// checks of one user at once: refused rather than looped on.
const RECORD_ATTEMPTS: usize = 16;

/// Checks domain passwords with certgate's lockout around the directory's check.
pub struct DomainPasswordCheck {
    verifier: Box<dyn BoxedVerifier>,
    policy: LockoutPolicy,
    /// The users whose check runs on this node. One check per user at a time per node keeps
    /// parallel guesses from all passing the lockout check before any failure is written.
    /// Across nodes a guess on each may pass at once (at most one per node beyond the limit),
    /// and the store's compare-and-set still counts every one of them.
    in_flight: Mutex<HashSet<String>>,
}

impl DomainPasswordCheck {
    /// Checks by `verifier` under `policy`.
    pub fn new(
        verifier: impl DomainPasswordVerifier + 'static,
        policy: LockoutPolicy,
    ) -> DomainPasswordCheck {
        DomainPasswordCheck {
            verifier: Box::new(verifier),
            policy,
            in_flight: Mutex::new(HashSet::new()),
        }
    }

    /// Every change under the lock is one set operation: a panic elsewhere cannot leave it
    /// half-changed.
    fn in_flight(&self) -> MutexGuard<'_, HashSet<String>> {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Checks `password` for `user_id` (`account` names it in the directory) at `now`, with
    /// the user's lockout state in `store`: refused without a bind while the user is locked
    /// out, another check of theirs runs on this node, or the state cannot be read; a wrong
    /// password counts toward the lockout and a success resets it.
    pub async fn verify<L: DomainPasswordLockoutStore>(
        &self,
        store: &L,
        user_id: &str,
        account: &DomainAccount,
        password: &DomainPassword,
        now: UnixTime,
    ) -> Result<(), DomainPasswordError> {
        if !self.in_flight().insert(user_id.to_owned()) {
            return Err(DomainPasswordError::CheckInProgress);
        }
        // Released however the check ends, a cancelled request included.
        let _running = InFlight {
            check: self,
            user_id,
        };
        // Read after taking the user's place: a check that finished just before has written
        // its failure by then, so a lockout it set is seen here.
        let stored = store
            .password_lockout(user_id)
            .await
            .map_err(lockout_unavailable)?;
        self.policy
            .check(&stored.map(|s| s.state).unwrap_or_default(), now)?;
        let outcome = self.verifier.verify(account, password).await;
        self.record(store, user_id, stored, outcome, now).await
    }

    /// Writes `outcome` into the user's state, starting from `stored` (what the check read)
    /// and reading again whenever another check wrote first.
    async fn record<L: DomainPasswordLockoutStore>(
        &self,
        store: &L,
        user_id: &str,
        mut stored: Option<StoredLockout>,
        outcome: Result<(), DomainPasswordError>,
        now: UnixTime,
    ) -> Result<(), DomainPasswordError> {
        for _ in 0..RECORD_ATTEMPTS {
            let recorded = self.policy.record(
                &stored.map(|s| s.state).unwrap_or_default(),
                outcome.clone(),
                now,
            );
            let Some(next) = recorded.next else {
                return recorded.reported;
            };
            // A store failure here comes after the bind: a success that cannot reset the count
            // is refused, since certgate signs no one in on a check it could not record, and a
            // wrong password that could not be counted is reported as such (the log then shows
            // the guess went uncounted), not as an ordinary wrong password.
            match store
                .swap_password_lockout(user_id, stored.map(|s| s.revision), &next, now)
                .await
                .map_err(lockout_unavailable)?
            {
                SwapOutcome::Applied => return recorded.reported,
                SwapOutcome::Stale => {
                    stored = store
                        .password_lockout(user_id)
                        .await
                        .map_err(lockout_unavailable)?;
                }
            }
        }
        Err(DomainPasswordError::LockoutUnavailable {
            detail: format!(
                "the lockout state changed under {RECORD_ATTEMPTS} attempts to record the check"
            ),
        })
    }
}

fn lockout_unavailable(error: certgate_core::store::StoreError) -> DomainPasswordError {
    DomainPasswordError::LockoutUnavailable {
        detail: format!("{error} ({})", error.code()),
    }
}

struct InFlight<'a> {
    check: &'a DomainPasswordCheck,
    user_id: &'a str,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.check.in_flight().remove(self.user_id);
    }
}
