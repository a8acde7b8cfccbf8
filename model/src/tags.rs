//! A fixed-capacity list of an event's interest tags.
//!
//! Events carry 1 to [`TagList::CAPACITY`] tags. Parsing them into a `Vec`
//! would allocate for every event; a `TagList` keeps them inline, borrowing
//! from the message bytes whenever the JSON string needs no unescaping.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// 1 to 8 tags, stored inline.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct TagList<'a> {
    tags: [Cow<'a, str>; TagList::CAPACITY],
    len: usize,
}

impl<'a> TagList<'a> {
    /// The most tags one event may carry.
    pub const CAPACITY: usize = 8;

    /// An empty list (not a valid event's tags until one is pushed).
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a tag; returns it back if the list is full.
    pub fn push(&mut self, tag: impl Into<Cow<'a, str>>) -> Result<(), Cow<'a, str>> {
        let tag = tag.into();
        if self.len == Self::CAPACITY {
            return Err(tag);
        }
        self.tags[self.len] = tag;
        self.len += 1;
        Ok(())
    }

    /// The tags, in order.
    pub fn as_slice(&self) -> &[Cow<'a, str>] {
        &self.tags[..self.len]
    }

    /// Iterates over the tags as `&str`.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.as_slice().iter().map(|t| t.as_ref())
    }

    /// Number of tags.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list holds no tag.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `tag` occurs at an index before `index` (so that a tag listed
    /// twice in one event counts once).
    pub fn is_repeat(&self, index: usize) -> bool {
        let tags = self.as_slice();
        tags[..index].contains(&tags[index])
    }

    /// A copy that owns its strings, independent of the message bytes.
    pub fn into_owned(self) -> TagList<'static> {
        let mut owned = TagList::new();
        for tag in &self.tags[..self.len] {
            // Cannot overflow: `owned` has the same capacity as `self`.
            let _ = owned.push(Cow::Owned(tag.to_string()));
        }
        owned
    }
}

impl fmt::Debug for TagList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a, S: Into<Cow<'a, str>>> FromIterator<S> for TagList<'a> {
    /// Collects up to [`TagList::CAPACITY`] tags; extra ones are dropped.
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut list = TagList::new();
        for tag in iter.into_iter().take(Self::CAPACITY) {
            let _ = list.push(tag);
        }
        list
    }
}

impl Serialize for TagList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len))?;
        for tag in self.iter() {
            seq.serialize_element(tag)?;
        }
        seq.end()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for TagList<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(TagListVisitor(std::marker::PhantomData))
    }
}

struct TagListVisitor<'a>(std::marker::PhantomData<&'a ()>);

/// One element of the tags array, borrowed when possible.
struct Tag<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Tag<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // `Cow<str>`'s own impl always copies; borrow explicitly instead.
        struct TagVisitor;
        impl<'de> Visitor<'de> for TagVisitor {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a tag string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
        }
        deserializer.deserialize_str(TagVisitor).map(Tag)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for TagListVisitor<'a> {
    type Value = TagList<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an array of 1 to {} tag strings", TagList::CAPACITY)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut list = TagList::new();
        while let Some(Tag(tag)) = seq.next_element::<Tag<'a>>()? {
            if list.push(tag).is_err() {
                return Err(de::Error::invalid_length(TagList::CAPACITY + 1, &self));
            }
        }
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_borrows_plain_strings() {
        let json = br#"["shoes","nike"]"#;
        let tags: TagList<'_> = serde_json::from_slice(json).unwrap();
        assert_eq!(tags.iter().collect::<Vec<_>>(), ["shoes", "nike"]);
        assert!(matches!(tags.as_slice()[0], Cow::Borrowed(_)));
    }

    #[test]
    fn unescapes_escaped_strings() {
        let tags: TagList<'_> = serde_json::from_slice(br#"["a\"b"]"#).unwrap();
        assert_eq!(tags.iter().next(), Some("a\"b"));
    }

    #[test]
    fn rejects_more_than_capacity() {
        let json = br#"["1","2","3","4","5","6","7","8","9"]"#;
        assert!(serde_json::from_slice::<TagList<'_>>(json).is_err());
    }

    #[test]
    fn detects_repeated_tags() {
        let tags: TagList<'_> = ["a", "b", "a"].into_iter().collect();
        assert!(!tags.is_repeat(0));
        assert!(!tags.is_repeat(1));
        assert!(tags.is_repeat(2));
    }

    #[test]
    fn round_trips_through_json() {
        let tags: TagList<'_> = ["x", "y"].into_iter().collect();
        let json = serde_json::to_string(&tags).unwrap();
        assert_eq!(json, r#"["x","y"]"#);
    }
}
