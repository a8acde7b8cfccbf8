//! Value encoding for typed state: bincode 2 (serde) with the standard config.
//!
//! Kept in one place so the on-disk value format is defined once. Encoding
//! appends to a caller-owned buffer so the write path can reuse one buffer for
//! a whole flush; decoding rejects trailing bytes so that a value written with
//! a different type (or corrupted) is reported instead of silently misread.

use bincode::config::{Config, standard};
use bincode::enc::write::Writer;
use bincode::error::{DecodeError, EncodeError};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Error encoding or decoding a state value.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The value could not be serialized.
    #[error("encode failed: {0}")]
    Encode(#[from] EncodeError),
    /// The bytes are not a valid encoding of the expected type.
    #[error("decode failed: {0}")]
    Decode(#[from] DecodeError),
    /// A value decoded but did not use all the bytes.
    #[error("decode left {trailing} of {len} bytes unread")]
    TrailingBytes {
        /// Unread bytes.
        trailing: usize,
        /// Total length of the encoded value.
        len: usize,
    },
}

fn config() -> impl Config {
    standard()
}

/// Appends `value`'s encoding to `out`, returning the number of bytes written.
/// On error `out` may hold a partial encoding after its previous length.
pub fn encode_into<V: Serialize + ?Sized>(
    value: &V,
    out: &mut Vec<u8>,
) -> Result<usize, CodecError> {
    let before = out.len();
    bincode::serde::encode_into_writer(value, VecWriter(out), config())?;
    Ok(out.len() - before)
}

/// Encodes `value` into a new vector (convenience for tests and cold paths).
pub fn encode<V: Serialize + ?Sized>(value: &V) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    encode_into(value, &mut out)?;
    Ok(out)
}

/// Decodes a value that must occupy all of `bytes`.
pub fn decode<V: DeserializeOwned>(bytes: &[u8]) -> Result<V, CodecError> {
    let (value, read) = bincode::serde::decode_from_slice(bytes, config())?;
    if read != bytes.len() {
        return Err(CodecError::TrailingBytes { trailing: bytes.len() - read, len: bytes.len() });
    }
    Ok(value)
}

/// A bincode writer appending to a borrowed `Vec` (no intermediate buffer).
struct VecWriter<'a>(&'a mut Vec<u8>);

impl Writer for VecWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    struct Profile {
        scores: BTreeMap<String, f64>,
        last_seen: i64,
        tags: Vec<u32>,
    }

    #[test]
    fn round_trip() {
        let mut p = Profile { last_seen: -7, tags: vec![1, 2, 300], ..Profile::default() };
        p.scores.insert("sports".into(), 1.5);
        let bytes = encode(&p).unwrap();
        assert_eq!(decode::<Profile>(&bytes).unwrap(), p);
        assert_eq!(
            decode::<Profile>(&encode(&Profile::default()).unwrap()).unwrap(),
            Profile::default()
        );
    }

    #[test]
    fn appends_to_existing_buffer() {
        let mut buf = b"prefix".to_vec();
        let n = encode_into(&42u64, &mut buf).unwrap();
        assert_eq!(&buf[..6], b"prefix");
        assert_eq!(buf.len(), 6 + n);
        assert_eq!(decode::<u64>(&buf[6..]).unwrap(), 42);
    }

    #[test]
    fn rejects_garbage_and_trailing_bytes() {
        assert!(matches!(decode::<Profile>(&[0xff, 0xff]), Err(CodecError::Decode(_))));
        let mut bytes = encode(&7u32).unwrap();
        bytes.push(0);
        assert!(matches!(
            decode::<u32>(&bytes),
            Err(CodecError::TrailingBytes { trailing: 1, .. })
        ));
    }
}
