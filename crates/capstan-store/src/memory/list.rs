//! Lists in key order, consistent at one revision, with paging. A later page is served at the first
//! page's revision by rolling the live objects back through the retained history, so the pages
//! together are one consistent snapshot; a token whose revision was compacted is Gone.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use capstan_core::{ObjectKey, TypeKey};

use super::state::State;
use super::watch::Filter;
use crate::error::{Result, StoreError};
use crate::object::StoredObject;
use crate::params::{ListParams, ListResult};
use crate::store::Revision;

/// Encodes a continue token: the list's revision and the last key returned, hex-encoded (opaque).
pub(crate) fn encode_token(revision: Revision, last: &ObjectKey) -> String {
    let plain = format!("{revision}/{}/{}", last.namespace, last.name);
    plain.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Decodes [`encode_token`]'s output.
pub(crate) fn decode_token(token: &str) -> Result<(Revision, ObjectKey)> {
    let bad = || StoreError::BadRequest(format!("invalid continue token {token:?}"));
    if !token.len().is_multiple_of(2) {
        return Err(bad());
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|i| token.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(bad)?;
    let plain = String::from_utf8(bytes).map_err(|_| bad())?;
    let mut parts = plain.splitn(3, '/');
    let (Some(rev), Some(ns), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let rev = rev.parse().map_err(|_| bad())?;
    Ok((rev, ObjectKey::new(ns, name)))
}

/// Lists `type_key` objects from `state`.
pub(crate) fn list(state: &State, type_key: &TypeKey, params: &ListParams) -> Result<ListResult> {
    let filter = Filter::for_list(params, type_key.namespaced);
    let (revision, after) = match params.continue_token.as_deref().filter(|t| !t.is_empty()) {
        None => (state.revision, None),
        Some(token) => {
            let (rev, key) = decode_token(token)?;
            if rev < state.compacted {
                return Err(StoreError::Gone {
                    requested: rev,
                    oldest: state.compacted,
                });
            }
            if rev > state.revision {
                return Err(StoreError::BadRequest(format!(
                    "continue token from the future ({rev})"
                )));
            }
            (rev, Some(key))
        }
    };
    let in_range = |key: &ObjectKey| {
        after.as_ref().is_none_or(|a| key > a) && filter.namespace().is_none_or(|ns| key.namespace == ns)
    };
    // Keys changed after `revision`, with their state at `revision` (the first change's `prev`).
    let mut rollback: BTreeMap<&ObjectKey, Option<&Arc<StoredObject>>> = BTreeMap::new();
    if revision < state.revision {
        for change in state.history_after(revision) {
            if change.type_key() == type_key && in_range(change.key()) {
                rollback.entry(change.key()).or_insert(change.prev.as_ref());
            }
        }
    }
    let start = match (&after, filter.namespace()) {
        (Some(a), _) => Bound::Excluded(a.clone()),
        (None, Some(ns)) => Bound::Included(ObjectKey::new(ns, "")),
        (None, None) => Bound::Unbounded,
    };
    let live = state
        .types
        .get(type_key)
        .map(|t| t.objects.range((start, Bound::Unbounded)))
        .into_iter()
        .flatten()
        .take_while(|(k, _)| filter.namespace().is_none_or(|ns| k.namespace == ns))
        .map(|(k, v)| (k, Some(v)));
    let mut live = live.peekable();
    let mut rolled = rollback.into_iter().peekable();
    let limit = params.limit.filter(|l| *l > 0);
    let mut items = Vec::new();
    let mut continue_token = None;
    loop {
        let next = match (live.peek(), rolled.peek()) {
            (None, None) => break,
            (Some(_), None) => live.next(),
            (None, Some(_)) => rolled.next(),
            (Some((lk, _)), Some((rk, _))) => match (*lk).cmp(*rk) {
                Ordering::Less => live.next(),
                Ordering::Greater => rolled.next(),
                Ordering::Equal => {
                    live.next();
                    rolled.next()
                }
            },
        };
        let Some((_, Some(object))) = next else { continue };
        if !filter.matches(object) {
            continue;
        }
        if limit.is_some_and(|l| items.len() >= l) {
            if let Some(last) = items.last().map(|o: &Arc<StoredObject>| o.key().clone()) {
                continue_token = Some(encode_token(revision, &last));
            }
            break;
        }
        items.push(object.clone());
    }
    Ok(ListResult {
        items,
        revision,
        continue_token,
        remaining: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let key = ObjectKey::new("team-a", "web-1");
        let token = encode_token(42, &key);
        assert_eq!(decode_token(&token).unwrap(), (42, key));
        assert!(matches!(decode_token("zz"), Err(StoreError::BadRequest(_))));
        assert!(matches!(decode_token("abc"), Err(StoreError::BadRequest(_))));
        assert!(decode_token(&encode_token(1, &ObjectKey::cluster("x"))[2..]).is_err());
    }
}
