//! What every storage port answers with when the store itself fails: [`StoreError`] and
//! [`StoreResult`]. The ports live next to the records they keep (`trusted_ca::TrustedCaStore`,
//! `crl_cache::CrlCacheStore`, `authority::OwnCaStore`, `audit::AuditLog`,
//! `directory::UserStore`, ...); `Store` and `DirectoryStore` at the crate root are their
//! sums. This module depends on nothing else in the crate, so every port can use it. certgate-store implements them on
//! SQLite (the embedded default) and PostgreSQL (several nodes); one test suite runs against
//! both.
//!
//! Every method of a port is a single transaction. A write that returned `Ok` is durable
//! (SQLite in WAL mode with `synchronous=FULL`, PostgreSQL with its default synchronous
//! commit).

mod error;

pub use error::{StoreError, StoreResult};
