//! [`DirectoryEntry`]: one entry as the directory sent it, every value as bytes.

use std::collections::BTreeMap;

/// One LDAP entry: its DN and its attributes, every value as the bytes the server sent, so
/// binary attributes (objectGUID, ms-DS-ConsistencyGuid) and text ones travel the same way and
/// the mapping decides how to read each.
///
/// Attribute names are case-insensitive in LDAP (RFC 4512 §2.5), so they are kept in ASCII
/// lower case and looked up the same way.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirectoryEntry {
    dn: String,
    attributes: BTreeMap<String, Vec<Vec<u8>>>,
    /// Attributes whose values the reader dropped as too large to hold, with what was too
    /// large: the mapping refuses them as it refuses a value over its own caps.
    dropped: BTreeMap<String, String>,
}

impl DirectoryEntry {
    /// An entry with no attributes yet.
    pub fn new(dn: impl Into<String>) -> DirectoryEntry {
        DirectoryEntry {
            dn: dn.into(),
            attributes: BTreeMap::new(),
            dropped: BTreeMap::new(),
        }
    }

    /// Adds `values` to the attribute `name` (kept after any values it already has).
    pub fn push_values(&mut self, name: &str, values: impl IntoIterator<Item = Vec<u8>>) {
        self.attributes
            .entry(name.to_ascii_lowercase())
            .or_default()
            .extend(values);
    }

    /// Records that the reader dropped the values of `name` because `what` (for the report)
    /// is over what it keeps: a sync holds every entry until it has planned, so a value far
    /// beyond any mapping's cap is not kept only to be refused later.
    pub fn drop_values(&mut self, name: &str, what: impl Into<String>) {
        let name = name.to_ascii_lowercase();
        self.attributes.remove(&name);
        self.dropped.insert(name, what.into());
    }

    /// Why the values of `name` were dropped, if they were ([`DirectoryEntry::drop_values`]).
    pub fn dropped_values(&self, name: &str) -> Option<&str> {
        self.dropped
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The entry with `values` added to `name`: for building entries in tests and examples.
    pub fn with(mut self, name: &str, values: &[&[u8]]) -> DirectoryEntry {
        self.push_values(name, values.iter().map(|value| value.to_vec()));
        self
    }

    /// The DN as the directory sent it.
    pub fn dn(&self) -> &str {
        &self.dn
    }

    /// The values of `name` (case-insensitive); empty when the entry lacks it.
    pub fn values(&self, name: &str) -> &[Vec<u8>] {
        self.attributes
            .get(&name.to_ascii_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    /// Whether the server sent only part of `name`'s values: Active Directory answers an
    /// attribute with more values than its MaxValRange (1,500 by default) as
    /// `name;range=0-1499`, and the rest must be fetched range by range. The mapping treats such
    /// an attribute as too large rather than use a silent part of it.
    pub fn has_ranged_values(&self, name: &str) -> bool {
        let prefix = format!("{};range=", name.to_ascii_lowercase());
        self.attributes.keys().any(|key| key.starts_with(&prefix))
    }
}
