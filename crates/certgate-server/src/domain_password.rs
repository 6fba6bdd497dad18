//! The domain password step of a sign-in: the directory checks the password (certgate-core's
//! [`DomainPasswordVerifier`] port, LDAP in certgate-ldap), and certgate keeps its own lockout
//! around it so that a stolen certificate cannot be used to guess passwords or to lock the
//! account in the domain.
//!
//! The lockout counts live in this process's memory, like the second-factor challenges: with
//! several nodes each counts its own (a guesser gets the limit once per node), and the
//! directory's own lockout policy still applies across all of them.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};

use certgate_core::domain_password::{
    DomainAccount, DomainPassword, DomainPasswordError, DomainPasswordVerifier, LockoutPolicy,
    PasswordLockout,
};
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

/// What the lockout keeps: the counts, and the users whose check is running.
#[derive(Default)]
struct Attempts {
    lockout: PasswordLockout,
    in_flight: HashSet<String>,
}

/// Checks domain passwords with certgate's lockout around the directory's check.
pub struct DomainPasswordCheck {
    verifier: Box<dyn BoxedVerifier>,
    attempts: Mutex<Attempts>,
}

impl DomainPasswordCheck {
    /// Checks by `verifier` under `policy`.
    pub fn new(
        verifier: impl DomainPasswordVerifier + 'static,
        policy: LockoutPolicy,
    ) -> DomainPasswordCheck {
        DomainPasswordCheck {
            verifier: Box::new(verifier),
            attempts: Mutex::new(Attempts {
                lockout: PasswordLockout::new(policy),
                in_flight: HashSet::new(),
            }),
        }
    }

    /// Every change under the lock is one map or set operation: a panic elsewhere cannot
    /// leave it half-changed.
    fn attempts(&self) -> MutexGuard<'_, Attempts> {
        self.attempts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Checks `password` for `user_id` (`account` names it in the directory) at `now`:
    /// refused without a bind while the user is locked out or another check of theirs runs;
    /// a wrong password counts toward the lockout.
    pub async fn verify(
        &self,
        user_id: &str,
        account: &DomainAccount,
        password: &DomainPassword,
        now: UnixTime,
    ) -> Result<(), DomainPasswordError> {
        {
            let mut attempts = self.attempts();
            attempts.lockout.check(user_id, now)?;
            if !attempts.in_flight.insert(user_id.to_owned()) {
                return Err(DomainPasswordError::CheckInProgress);
            }
        }
        // Released however the check ends, a cancelled request included.
        let running = InFlight {
            check: self,
            user_id,
        };
        let outcome = self.verifier.verify(account, password).await;
        let reported = self.attempts().lockout.record(user_id, outcome, now);
        // After the guard above is gone: dropping `running` takes the same lock.
        drop(running);
        reported
    }
}

struct InFlight<'a> {
    check: &'a DomainPasswordCheck,
    user_id: &'a str,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.check.attempts().in_flight.remove(self.user_id);
    }
}
