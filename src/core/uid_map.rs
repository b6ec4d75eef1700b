//! A map keyed by uid, kept as a sorted `Vec`.
//!
//! Why not `BTreeMap`: its node code is about 6 KB of the wasm, for maps of a room's members
//! that are read far more often than changed. A sorted `Vec` with binary search gives the
//! same ordered iteration and lookups in a few hundred bytes; inserts shift the tail, which for
//! rooms of even thousands of members is a small copy. The server lists members in uid order,
//! so building a map from a join answer appends.

use crate::prelude::*;

/// Values by uid, iterated in uid order (the API of the few `BTreeMap` methods the core uses).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UidMap<V>(Vec<(u64, V)>);

impl<V> UidMap<V> {
    /// An empty map.
    pub fn new() -> Self {
        Self(Vec::new())
    }
    fn find(&self, uid: u64) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.cmp(&uid))
    }
    /// How many uids have a value.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether no uid has a value.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Whether `uid` has a value.
    pub fn contains_key(&self, uid: &u64) -> bool {
        self.find(*uid).is_ok()
    }
    /// `uid`'s value.
    pub fn get(&self, uid: &u64) -> Option<&V> {
        let i = self.find(*uid).ok()?;
        self.0.get(i).map(|e| &e.1)
    }
    /// `uid`'s value, to change in place.
    pub fn get_mut(&mut self, uid: &u64) -> Option<&mut V> {
        let i = self.find(*uid).ok()?;
        self.0.get_mut(i).map(|e| &mut e.1)
    }
    /// Set `uid`'s value; the old one, if any, is returned.
    pub fn insert(&mut self, uid: u64, v: V) -> Option<V> {
        match self.find(uid) {
            Ok(i) => Some(core::mem::replace(&mut self.0[i].1, v)),
            Err(i) => {
                self.0.insert(i, (uid, v));
                None
            }
        }
    }
    /// `uid`'s value, set to `v` first if there is none.
    pub fn get_or_insert(&mut self, uid: u64, v: V) -> &mut V {
        let i = match self.find(uid) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, (uid, v));
                i
            }
        };
        &mut self.0[i].1
    }
    /// Take `uid`'s value out, if it has one.
    pub fn remove(&mut self, uid: &u64) -> Option<V> {
        self.find(*uid).ok().map(|i| self.0.remove(i).1)
    }
    /// In uid order.
    pub fn iter(&self) -> impl Iterator<Item = (&u64, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl<V> FromIterator<(u64, V)> for UidMap<V> {
    fn from_iter<I: IntoIterator<Item = (u64, V)>>(it: I) -> Self {
        let mut m = UidMap::new();
        for (k, v) in it {
            m.insert(k, v);
        }
        m
    }
}

impl<V> IntoIterator for UidMap<V> {
    type Item = (u64, V);
    type IntoIter = alloc::vec::IntoIter<(u64, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, V> IntoIterator for &'a UidMap<V> {
    type Item = (&'a u64, &'a V);
    type IntoIter =
        core::iter::Map<core::slice::Iter<'a, (u64, V)>, fn(&'a (u64, V)) -> (&'a u64, &'a V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_as_an_ordered_map() {
        let mut m: UidMap<&str> = [(5, "e"), (1, "a"), (3, "c")].into_iter().collect();
        assert_eq!(m.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [1, 3, 5]);
        assert_eq!(m.insert(3, "C"), Some("c"));
        assert_eq!(m.insert(4, "d"), None);
        assert_eq!(*m.get_or_insert(4, "x"), "d");
        *m.get_or_insert(0, "z") = "zero";
        assert_eq!(m.get(&0), Some(&"zero"));
        assert_eq!(m.remove(&1), Some("a"));
        assert_eq!(m.remove(&1), None);
        assert!(m.contains_key(&5) && !m.contains_key(&2));
        if let Some(v) = m.get_mut(&5) {
            *v = "E";
        }
        let all: Vec<(u64, &str)> = m.into_iter().collect();
        assert_eq!(all, [(0, "zero"), (3, "C"), (4, "d"), (5, "E")]);
    }
}
