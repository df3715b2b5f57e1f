//! The on-disk encoding of keys, objects and history records.
//!
//! Everything is length-prefixed binary around the object's JSON bytes, so that decoding never guesses:
//! a truncated or foreign value is a [`CodecError`], never a panic and never a wrong object.
//!
//! - object key: `type_key` then `namespace/name`, each string as a big-endian `u32` length + UTF-8;
//!   the scope as one byte (0 cluster, 1 namespaced).
//! - object value: the revision (big-endian `u64`) + the JSON bytes.
//! - history value: the encoded object key (`u32` length + bytes), a tag byte (0 removed, 1 present),
//!   then the JSON bytes when present. The revision is the history table's key.

use capstan_core::{ObjectKey, TypeKey};

use crate::journal::Record;
use crate::store::Revision;

/// A stored value that does not decode: the file is damaged or was not written by this codec.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct CodecError(String);

type CodecResult<T> = std::result::Result<T, CodecError>;

const TAG_REMOVED: u8 = 0;
const TAG_PRESENT: u8 = 1;

/// Encodes the table key of one object: its kind and its namespace/name.
pub(crate) fn encode_key(type_key: &TypeKey, key: &ObjectKey) -> Vec<u8> {
    let strings = [
        type_key.group.as_str(),
        type_key.version.as_str(),
        type_key.kind.as_str(),
        type_key.plural.as_str(),
        key.namespace.as_str(),
        key.name.as_str(),
    ];
    let mut out = Vec::with_capacity(1 + strings.iter().map(|s| 4 + s.len()).sum::<usize>());
    for s in &strings[..4] {
        put_str(&mut out, s);
    }
    out.push(u8::from(type_key.namespaced));
    for s in &strings[4..] {
        put_str(&mut out, s);
    }
    out
}

/// Decodes a key written by [`encode_key`].
pub(crate) fn decode_key(bytes: &[u8]) -> CodecResult<(TypeKey, ObjectKey)> {
    let mut reader = Reader { bytes, pos: 0 };
    let key = reader.key()?;
    reader.finish("object key")?;
    Ok(key)
}

/// Encodes an object's table value: its revision and JSON.
pub(crate) fn encode_object(revision: Revision, json: &serde_json::Value) -> CodecResult<Vec<u8>> {
    let mut out = revision.to_be_bytes().to_vec();
    serde_json::to_writer(&mut out, json).map_err(|e| CodecError(format!("cannot encode object: {e}")))?;
    Ok(out)
}

/// Decodes an object value written by [`encode_object`].
pub(crate) fn decode_object(bytes: &[u8]) -> CodecResult<(Revision, serde_json::Value)> {
    let mut reader = Reader { bytes, pos: 0 };
    let revision = reader.u64()?;
    let json = reader.json()?;
    Ok((revision, json))
}

/// Encodes a history record (without its revision, which is the table key).
pub(crate) fn encode_record(record: &Record) -> CodecResult<Vec<u8>> {
    let key = encode_key(&record.type_key, &record.key);
    let mut out = Vec::with_capacity(key.len() + 5 + 256);
    put_bytes(&mut out, &key);
    match &record.object {
        None => out.push(TAG_REMOVED),
        Some(json) => {
            out.push(TAG_PRESENT);
            serde_json::to_writer(&mut out, json).map_err(|e| {
                CodecError(format!(
                    "cannot encode {} {} at revision {}: {e}",
                    record.type_key, record.key, record.revision
                ))
            })?;
        }
    }
    Ok(out)
}

/// Decodes a history record written by [`encode_record`] at `revision`.
pub(crate) fn decode_record(revision: Revision, bytes: &[u8]) -> CodecResult<Record> {
    let mut reader = Reader { bytes, pos: 0 };
    let key_bytes = reader.bytes()?;
    let (type_key, key) = decode_key(key_bytes)?;
    let object = match reader.u8()? {
        TAG_REMOVED => {
            reader.finish("removal record")?;
            None
        }
        TAG_PRESENT => Some(reader.json()?),
        tag => return Err(CodecError(format!("unknown record tag {tag}"))),
    };
    Ok(Record {
        revision,
        type_key,
        key,
        object,
    })
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_bytes(out, s.as_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Keys and names are far below 4 GiB; values over redb's own 3 GiB limit are refused there.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

/// A cursor over a value that checks every length against what is left.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> CodecResult<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| {
                CodecError(format!(
                    "truncated value: wanted {n} bytes at offset {} of {}",
                    self.pos,
                    self.bytes.len()
                ))
            })?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn u8(&mut self) -> CodecResult<u8> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> CodecResult<u32> {
        let mut buf = [0; 4];
        buf.copy_from_slice(self.take(4)?);
        Ok(u32::from_be_bytes(buf))
    }

    fn u64(&mut self) -> CodecResult<u64> {
        let mut buf = [0; 8];
        buf.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(buf))
    }

    fn bytes(&mut self) -> CodecResult<&'a [u8]> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    fn string(&mut self) -> CodecResult<String> {
        let bytes = self.bytes()?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|e| CodecError(format!("string is not UTF-8: {e}")))
    }

    fn key(&mut self) -> CodecResult<(TypeKey, ObjectKey)> {
        let group = self.string()?;
        let version = self.string()?;
        let kind = self.string()?;
        let plural = self.string()?;
        let namespaced = match self.u8()? {
            0 => false,
            1 => true,
            other => return Err(CodecError(format!("bad scope byte {other}"))),
        };
        let namespace = self.string()?;
        let name = self.string()?;
        Ok((
            TypeKey {
                group,
                version,
                kind,
                plural,
                namespaced,
            },
            ObjectKey { namespace, name },
        ))
    }

    /// The rest of the value, as JSON.
    fn json(&mut self) -> CodecResult<serde_json::Value> {
        let rest = &self.bytes[self.pos..];
        self.pos = self.bytes.len();
        serde_json::from_slice(rest).map_err(|e| CodecError(format!("object is not valid JSON: {e}")))
    }

    fn finish(&self, what: &str) -> CodecResult<()> {
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(CodecError(format!(
                "{} trailing bytes after {what}",
                self.bytes.len() - self.pos
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn pod_key() -> TypeKey {
        TypeKey::new("", "v1", "Pod", "pods", true)
    }

    #[test]
    fn truncated_values_are_errors_not_panics() {
        let record = Record {
            revision: 7,
            type_key: pod_key(),
            key: ObjectKey::new("default", "web-0"),
            object: Some(serde_json::json!({"metadata": {"name": "web-0"}})),
        };
        let bytes = encode_record(&record).unwrap();
        for cut in 0..bytes.len() {
            assert!(decode_record(7, &bytes[..cut]).is_err(), "cut at {cut} decoded");
        }
        assert_eq!(decode_record(7, &bytes).unwrap(), record);
        let object = encode_object(3, &serde_json::json!({"a": 1})).unwrap();
        for cut in 0..8 {
            assert!(decode_object(&object[..cut]).is_err());
        }
    }

    #[test]
    fn a_removal_record_carries_no_object() {
        let record = Record {
            revision: 9,
            type_key: pod_key(),
            key: ObjectKey::new("default", "gone"),
            object: None,
        };
        let bytes = encode_record(&record).unwrap();
        assert_eq!(decode_record(9, &bytes).unwrap(), record);
        let mut trailing = bytes.clone();
        trailing.push(b'x');
        assert!(decode_record(9, &trailing).is_err());
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(decode_key(b"not a key at all").is_err());
        assert!(decode_key(&[0xff; 64]).is_err());
        assert!(decode_record(1, &[0, 0, 0, 0, 9]).is_err());
    }

    fn arb_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            ".{0,12}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn every_record_round_trips(
            group in ".{0,8}", kind in "[A-Za-z]{1,8}", namespaced in any::<bool>(),
            namespace in ".{0,10}", name in ".{0,20}", revision in any::<u64>(),
            object in proptest::option::of(arb_json()),
        ) {
            let type_key = TypeKey::new(&group, "v1", &kind, "things", namespaced);
            let key = ObjectKey::new(namespace, name);
            let encoded = encode_key(&type_key, &key);
            prop_assert_eq!(decode_key(&encoded).unwrap(), (type_key.clone(), key.clone()));
            let record = Record { revision, type_key, key, object: object.clone() };
            prop_assert_eq!(decode_record(revision, &encode_record(&record).unwrap()).unwrap(), record);
            if let Some(json) = object {
                prop_assert_eq!(decode_object(&encode_object(revision, &json).unwrap()).unwrap(), (revision, json));
            }
        }
    }
}
