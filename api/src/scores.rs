//! Reading only the tag scores out of a stored profile (`user-profiles`
//! hash), borrowing the tag names from the bytes: the recommendation hot
//! path then costs one HGET and no per-tag allocation.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{MapAccess, Visitor};

/// `tagScores` of a stored profile, in stored order.
#[derive(Debug, Default, PartialEq)]
pub struct TagScores<'a>(pub Vec<(Cow<'a, str>, i64)>);

impl<'de: 'a, 'a> Deserialize<'de> for TagScores<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Pairs<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Pairs<'a> {
            type Value = TagScores<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of tag → integer score")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some((Tag(tag), score)) = map.next_entry::<Tag<'de>, i64>()? {
                    pairs.push((tag, score));
                }
                Ok(TagScores(pairs))
            }
        }
        deserializer.deserialize_map(Pairs(std::marker::PhantomData))
    }
}

/// A tag name, borrowed from the input unless it holds escapes (serde's own
/// `Cow<str>` always copies outside a `#[serde(borrow)]` field).
struct Tag<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Tag<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Name<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Name<'a> {
            type Value = Tag<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a tag name")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<Self::Value, E> {
                Ok(Tag(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Tag(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(Name(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredProfile<'a> {
    #[serde(borrow, default)]
    tag_scores: TagScores<'a>,
}

/// The tag scores of a stored profile JSON.
pub fn tag_scores(json: &[u8]) -> Result<TagScores<'_>, serde_json::Error> {
    serde_json::from_slice::<StoredProfile<'_>>(json).map(|p| p.tag_scores)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_scores_and_borrows_names() {
        let json = br#"{"userId":"u1","tagScores":{"nike":1,"shoes":6},"topTags":["shoes","nike"],"eventCounts":{"view":1},"lastEventAt":5}"#;
        let scores = tag_scores(json).unwrap();
        assert_eq!(scores.0, [(Cow::Borrowed("nike"), 1), (Cow::Borrowed("shoes"), 6)]);
        assert!(matches!(scores.0[0].0, Cow::Borrowed(_)));
        assert!(tag_scores(b"{\"tagScores\":{\"a\":\"x\"}}").is_err());
        assert_eq!(tag_scores(b"{}").unwrap().0, []);
    }
}
