//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`), decoded to JSON.
//!
//! Typed Go clients (kubectl's `create namespace|deployment`, client-go controllers) send built-in
//! objects as protobuf: the magic `k8s\0`, then a `runtime.Unknown` envelope whose `raw` bytes are
//! the object's message. This module decodes the kinds Capstan serves, and the option and review
//! messages clients post (`DeleteOptions`, policy/v1 `Eviction`, `SelfSubjectAccessReview`,
//! `SelfSubjectReview`), from a hand-written table of their fields (see `fields.rs`). A field outside
//! the table is refused (415, naming it) rather than dropped.

use capstan_core::k8s_openapi::jiff::Timestamp;
use serde_json::{Map, Value, json};

/// A protobuf body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("protobuf body: {0}")]
pub struct ProtoError(pub String);

mod fields;

use fields::Ty::*;
use fields::fields;

/// One raw field from the wire.
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, ProtoError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or_else(|| ProtoError("truncated varint".into()))?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(ProtoError("varint too long".into()))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtoError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let end = end.ok_or_else(|| ProtoError("truncated field".into()))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn next(&mut self) -> Result<Option<(u64, Wire<'a>)>, ProtoError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => Wire::Bytes(self.take(8)?),
            2 => {
                let n = usize::try_from(self.varint()?).map_err(|_| ProtoError("length overflow".into()))?;
                Wire::Bytes(self.take(n)?)
            }
            5 => Wire::Bytes(self.take(4)?),
            w => return Err(ProtoError(format!("unsupported wire type {w}"))),
        };
        Ok(Some((key >> 3, wire)))
    }
}

fn text(b: &[u8]) -> Result<String, ProtoError> {
    String::from_utf8(b.to_vec()).map_err(|_| ProtoError("a string field is not UTF-8".into()))
}

fn bytes_of<'a>(w: &Wire<'a>, what: &str) -> Result<&'a [u8], ProtoError> {
    match w {
        Wire::Bytes(b) => Ok(b),
        Wire::Varint(_) => Err(ProtoError(format!("{what}: expected a length-delimited field"))),
    }
}

fn varint_of(w: &Wire<'_>, what: &str) -> Result<u64, ProtoError> {
    match w {
        Wire::Varint(v) => Ok(*v),
        Wire::Bytes(_) => Err(ProtoError(format!("{what}: expected a varint"))),
    }
}

/// How a map's values are encoded.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MapValue {
    Text,
    Quantity,
    /// Raw bytes, written to JSON in base64 as the Go `[]byte` encoding does.
    Bytes,
}

/// Decodes a map entry `{1: key, 2: value}`; the value as a string, a Quantity or base64 bytes.
fn map_entry(b: &[u8], value: MapValue) -> Result<(String, String), ProtoError> {
    use base64::Engine as _;
    let mut r = Reader { buf: b, pos: 0 };
    let (mut k, mut v) = (String::new(), String::new());
    while let Some((n, w)) = r.next()? {
        match n {
            1 => k = text(bytes_of(&w, "map key")?)?,
            2 if value == MapValue::Quantity => {
                v = decode("Quantity", bytes_of(&w, "quantity")?)?["string"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            }
            2 if value == MapValue::Bytes => {
                v = base64::engine::general_purpose::STANDARD.encode(bytes_of(&w, "map value")?);
            }
            2 => v = text(bytes_of(&w, "map value")?)?,
            _ => {}
        }
    }
    Ok((k, v))
}

fn timestamp(b: &[u8], micro: bool) -> Result<Value, ProtoError> {
    let mut r = Reader { buf: b, pos: 0 };
    let (mut secs, mut nanos) = (0i64, 0i32);
    while let Some((n, w)) = r.next()? {
        match n {
            1 => secs = varint_of(&w, "seconds")? as i64,
            2 => nanos = varint_of(&w, "nanos")? as i32,
            _ => {}
        }
    }
    if secs == 0 && nanos == 0 {
        return Ok(Value::Null);
    }
    let ts = Timestamp::new(secs, if micro { nanos } else { 0 }).map_err(|e| ProtoError(format!("timestamp: {e}")))?;
    let base = ts.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    Ok(json!(if micro {
        format!("{base}.{:06}Z", nanos / 1000)
    } else {
        format!("{base}Z")
    }))
}

fn int_or_string(b: &[u8]) -> Result<Value, ProtoError> {
    let mut r = Reader { buf: b, pos: 0 };
    let (mut ty, mut i, mut s) = (0u64, 0i64, String::new());
    while let Some((n, w)) = r.next()? {
        match n {
            1 => ty = varint_of(&w, "type")?,
            2 => i = i64::from(varint_of(&w, "intVal")? as i32),
            3 => s = text(bytes_of(&w, "strVal")?)?,
            _ => {}
        }
    }
    Ok(if ty == 1 { json!(s) } else { json!(i) })
}

/// Fields that are pointers in the Go types: a zero or `false` there was set on purpose.
const OPTIONAL_SCALARS: [&str; 16] = [
    "replicas",
    "revisionHistoryLimit",
    "progressDeadlineSeconds",
    "terminationGracePeriodSeconds",
    "activeDeadlineSeconds",
    "automountServiceAccountToken",
    "enableServiceLinks",
    "shareProcessNamespace",
    "priority",
    "deletionGracePeriodSeconds",
    "controller",
    "blockOwnerDeletion",
    "gracePeriodSeconds",
    "orphanDependents",
    "immutable",
    "allocateLoadBalancerNodePorts",
];

/// Whether a decoded scalar is the Go zero value of a non-pointer field, which JSON leaves out.
fn is_unset(name: &str, value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Bool(false) => !OPTIONAL_SCALARS.contains(&name),
        Value::Number(n) => n.as_i64() == Some(0) && !OPTIONAL_SCALARS.contains(&name),
        _ => false,
    }
}

/// Decodes one message of a known type to JSON. Empty strings and unset timestamps are left out,
/// as the JSON encoding omits them.
fn decode(message: &str, b: &[u8]) -> Result<Value, ProtoError> {
    if message == "Quantity" {
        let mut r = Reader { buf: b, pos: 0 };
        let mut s = String::new();
        while let Some((n, w)) = r.next()? {
            if n == 1 {
                s = text(bytes_of(&w, "quantity")?)?;
            }
        }
        return Ok(json!({"string": s}));
    }
    let table = fields(message).ok_or_else(|| ProtoError(format!("message {message} is not supported")))?;
    let mut out = Map::new();
    let mut r = Reader { buf: b, pos: 0 };
    while let Some((n, w)) = r.next()? {
        let Some(&(_, name, ty, repeated)) = table.iter().find(|f| f.0 == n) else {
            // Status is the server's to write: a create or update ignores what the client sent.
            if message.ends_with("Status") {
                continue;
            }
            return Err(ProtoError(format!(
                "field {n} of {message} is not supported in protobuf; send the object as JSON"
            )));
        };
        let value = match ty {
            Str => json!(text(bytes_of(&w, name)?)?),
            Bool => json!(varint_of(&w, name)? != 0),
            Int => json!(varint_of(&w, name)? as i64),
            Msg(m) => decode(m, bytes_of(&w, name)?)?,
            Time => timestamp(bytes_of(&w, name)?, false)?,
            MicroTime => timestamp(bytes_of(&w, name)?, true)?,
            IntOrString => int_or_string(bytes_of(&w, name)?)?,
            StrMap | QuantityMap | BytesMap => {
                let kind = match ty {
                    QuantityMap => MapValue::Quantity,
                    BytesMap => MapValue::Bytes,
                    _ => MapValue::Text,
                };
                let (k, v) = map_entry(bytes_of(&w, name)?, kind)?;
                let entry = out.entry(name).or_insert_with(|| json!({}));
                if let Value::Object(m) = entry {
                    m.insert(k, json!(v));
                }
                continue;
            }
        };
        if repeated {
            if let Value::Array(a) = out.entry(name).or_insert_with(|| json!([])) {
                a.push(value);
            }
        } else if !is_unset(name, &value) {
            out.insert(name.to_owned(), value);
        }
    }
    Ok(Value::Object(out))
}

/// The magic prefix of Kubernetes protobuf bodies.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// Decodes a Kubernetes protobuf body (`k8s\0` + `runtime.Unknown`) to the object's JSON.
pub fn decode_object(body: &[u8]) -> Result<Value, ProtoError> {
    let rest = body
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| ProtoError("missing the k8s protobuf magic".into()))?;
    let mut r = Reader { buf: rest, pos: 0 };
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), None);
    while let Some((n, w)) = r.next()? {
        match n {
            1 => {
                let mut t = Reader {
                    buf: bytes_of(&w, "typeMeta")?,
                    pos: 0,
                };
                while let Some((tn, tw)) = t.next()? {
                    match tn {
                        1 => api_version = text(bytes_of(&tw, "apiVersion")?)?,
                        2 => kind = text(bytes_of(&tw, "kind")?)?,
                        _ => {}
                    }
                }
            }
            2 => raw = Some(bytes_of(&w, "raw")?),
            _ => {}
        }
    }
    let raw = raw.ok_or_else(|| ProtoError("the envelope has no object".into()))?;
    let mut obj = decode(&kind, raw)?;
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(kind);
    Ok(obj)
}

/// Encoders for tests: protobuf fields and the `k8s\0` envelope, as Go clients write them.
#[cfg(test)]
pub(crate) mod test_wire {
    use super::MAGIC;

    pub(crate) fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    pub(crate) fn bytes_field(n: u64, b: &[u8], out: &mut Vec<u8>) {
        varint(n << 3 | 2, out);
        varint(b.len() as u64, out);
        out.extend_from_slice(b);
    }

    pub(crate) fn int_field(n: u64, v: u64, out: &mut Vec<u8>) {
        varint(n << 3, out);
        varint(v, out);
    }

    pub(crate) fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let mut tm = Vec::new();
        bytes_field(1, api_version.as_bytes(), &mut tm);
        bytes_field(2, kind.as_bytes(), &mut tm);
        let mut env = MAGIC.to_vec();
        bytes_field(1, &tm, &mut env);
        bytes_field(2, raw, &mut env);
        env
    }
}

#[cfg(test)]
mod tests {
    use super::test_wire::*;
    use super::*;

    #[test]
    fn a_deployment_as_kubectl_create_sends_it_decodes_to_json() {
        let mut labels = Vec::new();
        bytes_field(1, b"app", &mut labels);
        bytes_field(2, b"web", &mut labels);
        let mut meta = Vec::new();
        bytes_field(1, b"web", &mut meta);
        bytes_field(3, b"", &mut meta);
        bytes_field(8, &[], &mut meta);
        bytes_field(11, &labels, &mut meta);
        let mut container = Vec::new();
        bytes_field(1, b"nginx", &mut container);
        bytes_field(2, b"nginx:1.25", &mut container);
        let mut qty = Vec::new();
        bytes_field(1, b"100m", &mut qty);
        let mut entry = Vec::new();
        bytes_field(1, b"cpu", &mut entry);
        bytes_field(2, &qty, &mut entry);
        let mut res = Vec::new();
        bytes_field(2, &entry, &mut res);
        bytes_field(8, &res, &mut container);
        let mut pod_spec = Vec::new();
        bytes_field(2, &container, &mut pod_spec);
        let mut template = Vec::new();
        bytes_field(1, &meta, &mut template);
        bytes_field(2, &pod_spec, &mut template);
        let mut selector = Vec::new();
        bytes_field(1, &labels, &mut selector);
        let mut spec = Vec::new();
        int_field(1, 3, &mut spec);
        bytes_field(2, &selector, &mut spec);
        bytes_field(3, &template, &mut spec);
        let mut d = Vec::new();
        bytes_field(1, &meta, &mut d);
        bytes_field(2, &spec, &mut d);
        let v = decode_object(&envelope("apps/v1", "Deployment", &d)).unwrap();
        assert_eq!(v["kind"], "Deployment");
        assert_eq!(v["metadata"], json!({"name": "web", "labels": {"app": "web"}}));
        assert_eq!(v["spec"]["replicas"], 3);
        assert_eq!(v["spec"]["selector"]["matchLabels"]["app"], "web");
        let c = &v["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], "nginx:1.25");
        assert_eq!(c["resources"]["requests"]["cpu"], "100m");
    }

    #[test]
    fn config_maps_secrets_and_services_as_typed_kubectl_commands_send_them_decode_to_json() {
        let mut meta = Vec::new();
        bytes_field(1, b"app", &mut meta);
        let entry = |k: &[u8], v: &[u8]| {
            let mut e = Vec::new();
            bytes_field(1, k, &mut e);
            bytes_field(2, v, &mut e);
            e
        };
        let mut cm = Vec::new();
        bytes_field(1, &meta, &mut cm);
        bytes_field(2, &entry(b"mode", b"fast"), &mut cm);
        bytes_field(3, &entry(b"blob", &[0, 255]), &mut cm);
        int_field(4, 0, &mut cm);
        let v = decode_object(&envelope("v1", "ConfigMap", &cm)).unwrap();
        assert_eq!(v["data"], json!({"mode": "fast"}));
        assert_eq!(v["binaryData"], json!({"blob": "AP8="}));
        assert_eq!(v["immutable"], false, "a pointer field keeps an explicit false");

        let mut secret = Vec::new();
        bytes_field(1, &meta, &mut secret);
        bytes_field(2, &entry(b"password", b"s3cret"), &mut secret);
        bytes_field(3, b"Opaque", &mut secret);
        let v = decode_object(&envelope("v1", "Secret", &secret)).unwrap();
        assert_eq!(v["data"], json!({"password": "czNjcmV0"}));
        assert_eq!(v["type"], "Opaque");

        let mut target = Vec::new();
        int_field(1, 1, &mut target);
        bytes_field(3, b"http", &mut target);
        let mut port = Vec::new();
        bytes_field(2, b"TCP", &mut port);
        int_field(3, 80, &mut port);
        bytes_field(4, &target, &mut port);
        let mut spec = Vec::new();
        bytes_field(1, &port, &mut spec);
        bytes_field(2, &entry(b"app", b"web"), &mut spec);
        bytes_field(4, b"ClusterIP", &mut spec);
        let mut svc = Vec::new();
        bytes_field(1, &meta, &mut svc);
        bytes_field(2, &spec, &mut svc);
        let v = decode_object(&envelope("v1", "Service", &svc)).unwrap();
        assert_eq!(
            v["spec"],
            json!({"ports": [{"protocol": "TCP", "port": 80, "targetPort": "http"}],
                   "selector": {"app": "web"}, "type": "ClusterIP"})
        );
    }

    #[test]
    fn unknown_fields_truncation_and_missing_magic_are_refused() {
        let mut meta = Vec::new();
        bytes_field(99, b"x", &mut meta);
        let mut ns = Vec::new();
        bytes_field(1, &meta, &mut ns);
        let err = decode_object(&envelope("v1", "Namespace", &ns)).unwrap_err();
        assert!(err.0.contains("field 99 of ObjectMeta"), "{err}");
        assert!(decode_object(b"{}").is_err());
        let mut bad = envelope("v1", "Namespace", &ns);
        bad.truncate(bad.len() - 2);
        assert!(decode_object(&bad).is_err());
        assert!(decode_object(&envelope("batch/v1", "Job", &[])).is_err());
    }

    #[test]
    fn delete_options_keep_a_zero_grace_period_preconditions_and_dry_run() {
        let mut pre = Vec::new();
        bytes_field(1, b"uid-1", &mut pre);
        let mut opts = Vec::new();
        int_field(1, 0, &mut opts);
        bytes_field(2, &pre, &mut opts);
        bytes_field(4, b"Foreground", &mut opts);
        bytes_field(5, b"All", &mut opts);
        let v = decode_object(&envelope("meta.k8s.io/v1", "DeleteOptions", &opts)).unwrap();
        assert_eq!(v["gracePeriodSeconds"], 0);
        assert_eq!(v["preconditions"]["uid"], "uid-1");
        assert_eq!(v["propagationPolicy"], "Foreground");
        assert_eq!(v["dryRun"], json!(["All"]));
    }

    #[test]
    fn an_eviction_as_kubectl_drain_sends_it_decodes_with_its_delete_options() {
        let mut meta = Vec::new();
        bytes_field(1, b"web-1", &mut meta);
        bytes_field(3, b"default", &mut meta);
        bytes_field(8, &[], &mut meta);
        let mut opts = Vec::new();
        // -1 as int64: ten-byte varint, as Go encodes it.
        int_field(1, u64::MAX, &mut opts);
        let mut ev = Vec::new();
        bytes_field(1, &meta, &mut ev);
        bytes_field(2, &opts, &mut ev);
        let v = decode_object(&envelope("policy/v1", "Eviction", &ev)).unwrap();
        assert_eq!(v["apiVersion"], "policy/v1");
        assert_eq!(v["metadata"], json!({"name": "web-1", "namespace": "default"}));
        assert_eq!(v["deleteOptions"]["gracePeriodSeconds"], -1);
    }

    #[test]
    fn a_self_subject_access_review_decodes_its_resource_attributes() {
        let mut attrs = Vec::new();
        bytes_field(1, b"default", &mut attrs);
        bytes_field(2, b"create", &mut attrs);
        bytes_field(3, b"apps", &mut attrs);
        bytes_field(5, b"deployments", &mut attrs);
        let mut spec = Vec::new();
        bytes_field(1, &attrs, &mut spec);
        let mut review = Vec::new();
        bytes_field(1, &[], &mut review);
        bytes_field(2, &spec, &mut review);
        let env = envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview", &review);
        let v = decode_object(&env).unwrap();
        assert_eq!(
            v["spec"]["resourceAttributes"],
            json!({"namespace": "default", "verb": "create", "group": "apps", "resource": "deployments"})
        );
        let who = decode_object(&envelope("authentication.k8s.io/v1", "SelfSubjectReview", &[])).unwrap();
        assert_eq!(who["kind"], "SelfSubjectReview");
    }

    #[test]
    fn event_times_decode_with_microseconds() {
        let mut t = Vec::new();
        int_field(1, 1_700_000_000, &mut t);
        int_field(2, 123_456_000, &mut t);
        let mut ev = Vec::new();
        bytes_field(10, &t, &mut ev);
        bytes_field(3, b"Scaled", &mut ev);
        let v = decode_object(&envelope("v1", "Event", &ev)).unwrap();
        assert_eq!(v["eventTime"], "2023-11-14T22:13:20.123456Z");
        assert_eq!(v["reason"], "Scaled");
    }
}
