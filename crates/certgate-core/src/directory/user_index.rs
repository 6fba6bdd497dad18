//! The directory in memory, for the sign-in's lookups: every user indexed by the values a
//! certificate is compared with, so that a certificate sign-in asks the database nothing but
//! to record it. Built from a [`UserStore::list_users`](super::UserStore::list_users) read and
//! never changed: a change to the directory builds a new index, swapped in whole by its holder
//! (as the validation state is).

use std::collections::HashMap;
use std::future::{ready, Future};

use super::{fold_case, proxy_address_part, User, UserAttribute, UserLookup};
use crate::store::StoreResult;

/// Users at most in an index. A larger directory is not copied into memory; its sign-ins ask
/// the database, as without an index. The bound keeps the memory a change to the directory can
/// make the server take in proportion (about a kilobyte a user).
pub const MAX_INDEXED_USERS: usize = 250_000;

/// Every user, found by UPN and proxy address (case-insensitively) and by certificateUserIds
/// value (exactly): the rules of `binding::attribute_matches`, the same as the stores'.
#[derive(Debug, Default)]
pub struct UserIndex {
    users: Vec<User>,
    by_upn: HashMap<String, Vec<usize>>,
    by_proxy_address: HashMap<String, Vec<usize>>,
    by_certificate_user_id: HashMap<String, Vec<usize>>,
}

impl UserIndex {
    /// Indexes `users`; `None` when there are more than [`MAX_INDEXED_USERS`].
    pub fn new(users: Vec<User>) -> Option<UserIndex> {
        if users.len() > MAX_INDEXED_USERS {
            return None;
        }
        let mut index = UserIndex::default();
        for (position, user) in users.iter().enumerate() {
            index
                .by_upn
                .entry(fold_case(user.upn.as_str()))
                .or_default()
                .push(position);
            for proxy in &user.proxy_addresses {
                let positions = index
                    .by_proxy_address
                    .entry(fold_case(proxy_address_part(proxy)))
                    .or_default();
                // Two proxy addresses of one user with the same address part (`SMTP:` and
                // `smtp:`) find that user once.
                if positions.last() != Some(&position) {
                    positions.push(position);
                }
            }
            for id in &user.certificate_user_ids {
                let positions = index.by_certificate_user_id.entry(id.clone()).or_default();
                if positions.last() != Some(&position) {
                    positions.push(position);
                }
            }
        }
        index.users = users;
        Some(index)
    }

    /// How many users it holds.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether it holds no user.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    fn matching(&self, attribute: UserAttribute, value: &str) -> Vec<User> {
        let positions = match attribute {
            UserAttribute::UserPrincipalName => self.by_upn.get(&fold_case(value)),
            UserAttribute::ProxyAddresses => self.by_proxy_address.get(&fold_case(value)),
            UserAttribute::CertificateUserIds => self.by_certificate_user_id.get(value),
        };
        positions
            .into_iter()
            .flatten()
            .filter_map(|&position| self.users.get(position).cloned())
            .collect()
    }
}

impl UserLookup for UserIndex {
    fn find_users(
        &self,
        attribute: UserAttribute,
        value: &str,
    ) -> impl Future<Output = StoreResult<Vec<User>>> + Send {
        ready(Ok(self.matching(attribute, value)))
    }
}
