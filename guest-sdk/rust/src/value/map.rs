//! [`Map`]: a JSON object, its entries in one vector in the order their
//! keys were first inserted.
//!
//! Most objects an integration handles are small (an API's record, a page
//! of them, a request's headers), and a small object is cheapest as a
//! vector: one allocation, built at its final size when it is parsed, its
//! keys compared in place. A hash index of positions is added once an
//! object passes [`LINEAR`] entries, so a large object (a dictionary keyed
//! by ID, thousands of keys) is still looked up and parsed in constant
//! time per key. The index's hash keys are drawn per object, so a hostile
//! API cannot choose colliding keys.

use std::fmt;
use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

use super::Value;

/// Objects up to this many entries are searched in place; larger ones
/// keep an index.
pub(crate) const LINEAR: usize = 12;

/// A JSON object: keys in the order they were first inserted, a later
/// value for a key replacing the earlier one in its place.
///
/// `Map<String, Value>` is the only form it takes; the parameters are
/// there so that code naming it so (as serde_json's `Map` is named)
/// compiles as it is.
pub struct Map<K = String, V = Value> {
    entries: Vec<(K, V)>,
    index: Option<Box<Index>>,
}

/// Positions in `entries` by key.
#[derive(Clone)]
struct Index {
    table: HashTable<usize>,
    state: RandomState,
}

impl Index {
    fn hash(&self, key: &str) -> u64 {
        self.state.hash_one(key)
    }

    fn find(&self, entries: &[(String, Value)], key: &str) -> Option<usize> {
        self.table.find(self.hash(key), |&at| entries[at].0 == key).copied()
    }

    fn add(&mut self, entries: &[(String, Value)], at: usize) {
        let hash = self.hash(&entries[at].0);
        let state = &self.state;
        self.table.insert_unique(hash, at, |&other| state.hash_one(entries[other].0.as_str()));
    }

    fn of(entries: &[(String, Value)]) -> Box<Index> {
        let mut index = Box::new(Index { table: HashTable::with_capacity(entries.len()), state: RandomState::new() });
        for at in 0..entries.len() {
            index.add(entries, at);
        }
        index
    }
}

impl Map<String, Value> {
    /// An empty object.
    pub const fn new() -> Map {
        Map { entries: Vec::new(), index: None }
    }

    /// An empty object with room for `capacity` entries.
    pub fn with_capacity(capacity: usize) -> Map {
        Map { entries: Vec::with_capacity(capacity), index: None }
    }

    /// An object of `entries`, a later entry for a key replacing an
    /// earlier one's value in the earlier one's place (as a parser reads
    /// duplicate keys).
    pub(crate) fn from_entries(entries: Vec<(String, Value)>) -> Map {
        if entries.len() > LINEAR {
            return Map::indexed(entries);
        }
        // Duplicates are rare: look for one before moving anything.
        let duplicated = (1..entries.len()).any(|i| entries[..i].iter().any(|(earlier, _)| *earlier == entries[i].0));
        if !duplicated {
            return Map { entries, index: None };
        }
        let mut map = Map::with_capacity(entries.len());
        for (key, value) in entries {
            map.insert(key, value);
        }
        map
    }

    /// [`Map::from_entries`] for a large object: the index is made at its
    /// final size, and each key hashed once.
    fn indexed(entries: Vec<(String, Value)>) -> Map {
        let index = Index { table: HashTable::with_capacity(entries.len()), state: RandomState::new() };
        let mut map = Map { entries: Vec::with_capacity(entries.len()), index: Some(Box::new(index)) };
        for (key, value) in entries {
            map.insert(key, value);
        }
        map
    }

    fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.find(&self.entries, key),
            None => self.entries.iter().position(|(candidate, _)| candidate == key),
        }
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).map(|at| &self.entries[at].1)
    }

    /// The value under `key`, to change.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.position(key).map(|at| &mut self.entries[at].1)
    }

    /// The key as stored and its value.
    pub fn get_key_value(&self, key: &str) -> Option<(&String, &Value)> {
        self.position(key).map(|at| {
            let (key, value) = &self.entries[at];
            (key, value)
        })
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Sets `key` to `value`: a new key goes last, a present one keeps its
    /// place. Returns the value it replaced.
    pub fn insert(&mut self, key: String, value: Value) -> Option<Value> {
        let Some(index) = &mut self.index else {
            if let Some(at) = self.entries.iter().position(|(candidate, _)| *candidate == key) {
                return Some(std::mem::replace(&mut self.entries[at].1, value));
            }
            self.entries.push((key, value));
            if self.entries.len() > LINEAR {
                self.index = Some(Index::of(&self.entries));
            }
            return None;
        };
        // Indexed: the key is hashed once, to look for it and to add it.
        let hash = index.hash(&key);
        let entries = &mut self.entries;
        if let Some(at) = index.table.find(hash, |&at| entries[at].0 == key).copied() {
            return Some(std::mem::replace(&mut entries[at].1, value));
        }
        let state = &index.state;
        index.table.insert_unique(hash, entries.len(), |&other| state.hash_one(entries[other].0.as_str()));
        entries.push((key, value));
        None
    }

    /// Takes `key` out; the entries after it keep their order.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.remove_entry(key).map(|(_, value)| value)
    }

    /// Takes `key` out with its stored key; the entries after it keep their
    /// order.
    pub fn remove_entry(&mut self, key: &str) -> Option<(String, Value)> {
        let at = self.position(key)?;
        Some(self.take_at(at))
    }

    /// Takes the entry at `at` out; the entries after it keep their order.
    fn take_at(&mut self, at: usize) -> (String, Value) {
        let entry = self.entries.remove(at);
        self.reindex();
        entry
    }

    /// Same as [`Map::remove`] (objects here always keep their order).
    pub fn shift_remove(&mut self, key: &str) -> Option<Value> {
        self.remove(key)
    }

    /// Keeps only the entries `keep` says yes to, in their order.
    pub fn retain(&mut self, mut keep: impl FnMut(&String, &mut Value) -> bool) {
        let before = self.entries.len();
        self.entries.retain_mut(|(key, value)| keep(key, value));
        if self.entries.len() != before {
            self.reindex();
        }
    }

    /// Rebuilds the index after entries moved.
    fn reindex(&mut self) {
        self.index = (self.entries.len() > LINEAR).then(|| Index::of(&self.entries));
    }

    /// Takes every entry of `other` (emptied), each as [`Map::insert`]s it.
    pub fn append(&mut self, other: &mut Map) {
        for (key, value) in std::mem::take(other) {
            self.insert(key, value);
        }
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.index = None;
    }

    /// The entry for `key`, to fill in or change.
    pub fn entry(&mut self, key: impl Into<String>) -> Entry<'_> {
        let key = key.into();
        match self.position(&key) {
            Some(at) => Entry::Occupied(OccupiedEntry { map: self, at }),
            None => Entry::Vacant(VacantEntry { map: self, key }),
        }
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.entries.iter())
    }

    /// The entries in order, values to change.
    pub fn iter_mut(&mut self) -> IterMut<'_> {
        IterMut(self.entries.iter_mut())
    }

    /// The keys in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator {
        self.entries.iter().map(|(key, _)| key)
    }

    /// The values in order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.entries.iter().map(|(_, value)| value)
    }

    /// The values in order, to change.
    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut Value> + ExactSizeIterator {
        self.entries.iter_mut().map(|(_, value)| value)
    }

    /// The values in order, taken.
    pub fn into_values(self) -> impl DoubleEndedIterator<Item = Value> + ExactSizeIterator {
        self.entries.into_iter().map(|(_, value)| value)
    }

    /// The keys in order, taken.
    pub fn into_keys(self) -> impl DoubleEndedIterator<Item = String> + ExactSizeIterator {
        self.entries.into_iter().map(|(key, _)| key)
    }
}

/// [`Map::entry`]'s answer.
pub enum Entry<'m> {
    /// The key is not there.
    Vacant(VacantEntry<'m>),
    /// The key is there.
    Occupied(OccupiedEntry<'m>),
}

/// A key that is not in its map.
pub struct VacantEntry<'m> {
    map: &'m mut Map,
    key: String,
}

/// A key that is in its map.
pub struct OccupiedEntry<'m> {
    map: &'m mut Map,
    at: usize,
}

impl<'m> Entry<'m> {
    /// The value, `default` inserted first when the key is not there.
    pub fn or_insert(self, default: Value) -> &'m mut Value {
        self.or_insert_with(|| default)
    }

    /// The value, `default()` inserted first when the key is not there.
    pub fn or_insert_with(self, default: impl FnOnce() -> Value) -> &'m mut Value {
        match self {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => entry.insert(default()),
        }
    }

    /// The key.
    pub fn key(&self) -> &String {
        match self {
            Entry::Occupied(entry) => &entry.map.entries[entry.at].0,
            Entry::Vacant(entry) => &entry.key,
        }
    }
}

impl<'m> VacantEntry<'m> {
    /// Inserts `value` under the entry's key, last.
    pub fn insert(self, value: Value) -> &'m mut Value {
        let map = self.map;
        map.insert(self.key, value);
        let last = map.entries.len() - 1;
        &mut map.entries[last].1
    }
}

impl<'m> OccupiedEntry<'m> {
    /// The value.
    pub fn get(&self) -> &Value {
        &self.map.entries[self.at].1
    }

    /// The value, to change.
    pub fn get_mut(&mut self) -> &mut Value {
        &mut self.map.entries[self.at].1
    }

    /// The value, to change, for as long as the map is borrowed.
    pub fn into_mut(self) -> &'m mut Value {
        &mut self.map.entries[self.at].1
    }

    /// Replaces the value; returns the old one.
    pub fn insert(&mut self, value: Value) -> Value {
        std::mem::replace(self.get_mut(), value)
    }

    /// Takes the entry out; the entries after it keep their order.
    pub fn remove(self) -> Value {
        self.map.take_at(self.at).1
    }
}

impl Default for Map {
    fn default() -> Map {
        Map::new()
    }
}

impl Clone for Map {
    /// The entries and their index, copied (the positions are the same).
    fn clone(&self) -> Map {
        Map { entries: self.entries.clone(), index: self.index.clone() }
    }
}

/// Two objects are equal when they hold the same keys with equal values,
/// in any order (as JSON objects compare).
impl PartialEq for Map {
    fn eq(&self, other: &Map) -> bool {
        self.len() == other.len() && self.iter().all(|(key, value)| other.get(key) == Some(value))
    }
}

impl Eq for Map {}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl std::ops::Index<&str> for Map {
    type Output = Value;

    /// The value under `key`; panics when it is not there.
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or_else(|| panic!("no key {key:?} in the object"))
    }
}

impl std::ops::IndexMut<&str> for Map {
    fn index_mut(&mut self, key: &str) -> &mut Value {
        self.get_mut(key).unwrap_or_else(|| panic!("no key {key:?} in the object"))
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Map {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(entries: I) -> Map {
        let entries = entries.into_iter();
        let mut map = Map::with_capacity(entries.size_hint().0);
        map.extend(entries);
        map
    }
}

impl<K: Into<String>, V: Into<Value>> Extend<(K, V)> for Map {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, entries: I) {
        for (key, value) in entries {
            self.insert(key.into(), value.into());
        }
    }
}

/// The entries of a [`Map`], in order.
pub struct Iter<'m>(std::slice::Iter<'m, (String, Value)>);

impl<'m> Iterator for Iter<'m> {
    type Item = (&'m String, &'m Value);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(key, value)| (key, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(key, value)| (key, value))
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// The entries of a [`Map`], in order, values to change.
pub struct IterMut<'m>(std::slice::IterMut<'m, (String, Value)>);

impl<'m> Iterator for IterMut<'m> {
    type Item = (&'m String, &'m mut Value);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(key, value)| (&*key, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for IterMut<'_> {}

impl<'m> IntoIterator for &'m Map {
    type Item = (&'m String, &'m Value);
    type IntoIter = Iter<'m>;

    fn into_iter(self) -> Iter<'m> {
        self.iter()
    }
}

impl<'m> IntoIterator for &'m mut Map {
    type Item = (&'m String, &'m mut Value);
    type IntoIter = IterMut<'m>;

    fn into_iter(self) -> IterMut<'m> {
        self.iter_mut()
    }
}

impl IntoIterator for Map {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl zapwasm_rules::json::JsonMap for Map {
    type Value = Value;

    fn get(&self, key: &str) -> Option<&Value> {
        self.get(key)
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.get_mut(key)
    }

    fn insert(&mut self, key: String, value: Value) -> Option<Value> {
        self.insert(key, value)
    }

    fn remove(&mut self, key: &str) -> Option<Value> {
        self.remove(key)
    }

    fn entries(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(key, value)| (key.as_str(), value))
    }

    fn len(&self) -> usize {
        self.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(map: &Map) -> Vec<&str> {
        map.keys().map(String::as_str).collect()
    }

    #[test]
    fn small_and_large_objects_keep_insertion_order_and_find_every_key() {
        for size in [0, 1, LINEAR - 1, LINEAR, LINEAR + 1, 100, 3_000] {
            let mut map = Map::new();
            for i in (0..size).rev() {
                assert_eq!(map.insert(format!("k{i}"), Value::from(i)), None);
            }
            assert_eq!(map.len(), size);
            for i in 0..size {
                assert_eq!(map.get(&format!("k{i}")), Some(&Value::from(i)), "{size}");
            }
            assert_eq!(map.get("absent"), None);
            // A present key keeps its place.
            if size > 0 {
                assert_eq!(map.insert("k0".into(), Value::Null), Some(Value::from(0)));
                assert_eq!(keys(&map).last(), Some(&"k0"));
            }
            // Removing keeps the others' order and still finds them.
            let removed: Vec<usize> = (0..size).step_by(3).collect();
            for i in &removed {
                assert!(map.remove(&format!("k{i}")).is_some());
            }
            let expected: Vec<String> = (0..size).rev().filter(|i| i % 3 != 0).map(|i| format!("k{i}")).collect();
            assert_eq!(keys(&map), expected);
            for key in &expected {
                assert!(map.contains_key(key), "{size} {key}");
            }
            assert_eq!(map.clone(), map);
        }
    }

    #[test]
    fn duplicates_read_as_a_parser_reads_them() {
        for size in [3, LINEAR + 5] {
            let mut entries: Vec<(String, Value)> = (0..size).map(|i| (format!("k{i}"), Value::from(i))).collect();
            entries.push(("k1".into(), Value::from("later")));
            let map = Map::from_entries(entries);
            assert_eq!(map.len(), size);
            assert_eq!(map["k1"], "later");
            assert_eq!(keys(&map)[1], "k1");
        }
    }

    #[test]
    fn entries_fill_in_and_equality_ignores_order() {
        let mut map = Map::new();
        *map.entry("a").or_insert(Value::from(1)) = Value::from(2);
        map.entry("a").or_insert_with(|| unreachable!());
        map.insert("b".into(), Value::Bool(true));
        let other: Map = [("b", Value::Bool(true)), ("a", Value::from(2))].into_iter().collect();
        assert_eq!(map, other);
        map.retain(|key, _| key == "b");
        assert_eq!(keys(&map), ["b"]);
    }
}
