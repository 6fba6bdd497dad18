//! What certificate sign-ins read from the directory, kept in memory per store generation:
//! the binding and strength rules, and every user indexed by the values a certificate is
//! compared with (`certgate_core::directory::UserIndex`). A sign-in then asks the database
//! nothing but to record it.
//!
//! Freshness is the validation state's: a snapshot is used only while its generation is the
//! validation state's, and every directory write moves the store's generation. A change made
//! through this process (the admin API) rebuilds the validation state before it answers, so
//! the next sign-in already sees it; a change made by another process or node (the CLI, a
//! second server on PostgreSQL) is seen when the job tick notices the new generation, as a
//! change to the trusted CAs is.
//!
//! While the users of a new generation are being indexed (off the sign-in path, in a task of
//! its own), sign-ins look users up in the database, as they do for a directory too large to
//! index (`MAX_INDEXED_USERS`): a stale index is never used.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use certgate_core::directory::{UserIndex, UserLookup, UserStore};
use certgate_core::signin::{
    attempt_sign_in, AttemptContext, SignInAttempt, SignInError, SignInRules,
};
use certgate_core::validation_state::ValidationState;
use certgate_core::DirectoryStore;

/// The rules and users of one store generation.
struct Snapshot {
    generation: i64,
    rules: Arc<SignInRules>,
    /// `None` until indexed, or when the directory is too large to index.
    users: Option<Arc<UserIndex>>,
}

/// The current snapshot, swapped whole when the generation moves.
#[derive(Default)]
pub(crate) struct DirectorySnapshots {
    current: Arc<ArcSwapOption<Snapshot>>,
    /// Whether a task is indexing the users: one at a time.
    indexing: Arc<AtomicBool>,
}

impl DirectorySnapshots {
    /// One sign-in attempt with `chain` against `state`, with the rules and users of
    /// `state`'s generation.
    pub(crate) async fn attempt<S>(
        &self,
        directory: &Arc<S>,
        state: &ValidationState,
        chain: &[Vec<u8>],
        context: AttemptContext<'_>,
    ) -> SignInAttempt
    where
        S: DirectoryStore + UserLookup,
    {
        let generation = state.generation();
        let snapshot = match self.current.load_full() {
            Some(snapshot) if snapshot.generation == generation => snapshot,
            _ => match SignInRules::load(&**directory).await {
                Ok(rules) => {
                    let snapshot = Arc::new(Snapshot {
                        generation,
                        rules: Arc::new(rules),
                        users: None,
                    });
                    self.current.store(Some(Arc::clone(&snapshot)));
                    self.index_users(directory, generation);
                    snapshot
                }
                Err(error) => {
                    return SignInAttempt::refused(context, chain, SignInError::Store(error))
                }
            },
        };
        match &snapshot.users {
            Some(users) => attempt_sign_in(state, chain, &snapshot.rules, &**users, context).await,
            None => attempt_sign_in(state, chain, &snapshot.rules, &**directory, context).await,
        }
    }

    /// Indexes the users for `generation` in a task of its own, unless one is running; that
    /// task, when done, indexes again if the generation moved meanwhile. An index is kept only
    /// if the snapshot is still its generation's when it is ready. A failed read leaves
    /// sign-ins on the database until the next generation.
    fn index_users<S: UserStore>(&self, directory: &Arc<S>, generation: i64) {
        if self.indexing.swap(true, Ordering::AcqRel) {
            return;
        }
        let directory = Arc::clone(directory);
        let current = Arc::clone(&self.current);
        let indexing = Arc::clone(&self.indexing);
        tokio::spawn(async move {
            let mut generation = generation;
            loop {
                index_once(&*directory, &current, generation).await;
                indexing.store(false, Ordering::Release);
                // A generation that arrived while this one was indexed found the flag set.
                let next = match current.load().as_deref() {
                    Some(snapshot)
                        if snapshot.users.is_none() && snapshot.generation != generation =>
                    {
                        snapshot.generation
                    }
                    _ => break,
                };
                if indexing.swap(true, Ordering::AcqRel) {
                    break;
                }
                generation = next;
            }
        });
    }
}

async fn index_once<S: UserStore>(
    directory: &S,
    current: &ArcSwapOption<Snapshot>,
    generation: i64,
) {
    // Read after the generation was seen, so the users are at least that new.
    let users = match directory.list_users().await {
        Ok(users) => users,
        Err(error) => {
            tracing::warn!(code = error.code(), %error, "indexing the directory failed: sign-ins look users up in the database");
            return;
        }
    };
    let Some(index) = tokio::task::spawn_blocking(move || UserIndex::new(users))
        .await
        .ok()
        .flatten()
    else {
        tracing::info!(
            limit = certgate_core::directory::MAX_INDEXED_USERS,
            "the directory is larger than the in-memory index takes: sign-ins look users up in the database"
        );
        return;
    };
    let index = Arc::new(index);
    current.rcu(|snapshot| match snapshot {
        Some(snapshot) if snapshot.generation == generation => Some(Arc::new(Snapshot {
            generation,
            rules: Arc::clone(&snapshot.rules),
            users: Some(Arc::clone(&index)),
        })),
        other => other.clone(),
    });
}
