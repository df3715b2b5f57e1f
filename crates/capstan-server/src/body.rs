//! Request and response bodies: decoding JSON or YAML objects, encoding JSON responses.

use std::collections::HashMap;
use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use serde_json::Value;

use crate::status::ApiError;

/// The response body type: a full buffer or a stream (watches).
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// A buffered response body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(bytes.into()).boxed_unsync()
}

/// A JSON response with a status code.
pub fn json_response<T: serde::Serialize + ?Sized>(code: u16, value: &T) -> Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let mut resp = Response::new(full(bytes));
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// The response for an API error: its `Status` object with its code.
pub fn error_response(err: &ApiError) -> Response<Body> {
    let mut resp = json_response(err.code, &err.to_status());
    if err.code == 429 {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp
}

/// A parsed request: method, path, query, headers and the buffered body.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    /// The HTTP method.
    pub method: http::Method,
    /// The path, without query.
    pub path: String,
    /// Query parameters (the last value wins for repeated keys).
    pub query: HashMap<String, String>,
    /// Request headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl ApiRequest {
    /// A query parameter.
    pub fn q(&self, key: &str) -> Option<&str> {
        self.query.get(key).map(String::as_str).filter(|s| !s.is_empty())
    }

    /// A boolean query parameter, read as Kubernetes reads them: absent, `false` or `0` is false and
    /// any other value (`true`, `True` from the Python client, `1`, even empty) is true.
    pub fn flag(&self, key: &str) -> bool {
        self.query.get(key).is_some_and(|v| v != "false" && v != "0")
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Content-Type` without parameters, lower-cased.
    pub fn content_type(&self) -> String {
        self.header("content-type")
            .unwrap_or("application/json")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    }

    /// Decodes the body as one JSON or YAML object. Empty bodies are a 400.
    pub fn object(&self) -> Result<Value, ApiError> {
        let ct = self.content_type();
        decode(&ct, &self.body)
    }
}

/// Decodes a body of a given media type as JSON.
pub fn decode(content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    let v: Value = match content_type {
        "application/json"
        | ""
        | "*/*"
        | "application/merge-patch+json"
        | "application/json-patch+json"
        | "application/strategic-merge-patch+json" => serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?,
        "application/yaml" | "application/x-yaml" | "text/yaml" | "application/apply-patch+yaml" => {
            let text = std::str::from_utf8(body).map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
            serde_saphyr::from_str(text)
                .map_err(|e| ApiError::bad_request(format!("the body is not valid YAML: {e}")))?
        }
        "application/vnd.kubernetes.protobuf" => {
            crate::proto::decode_object(body).map_err(|e| ApiError::new(415, "UnsupportedMediaType", e.to_string()))?
        }
        other => return Err(ApiError::unsupported_media_type(other)),
    };
    Ok(v)
}

/// Parses a query string.
pub fn parse_query(q: Option<&str>) -> HashMap<String, String> {
    form_urlencoded::parse(q.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_decode_from_json_and_yaml_and_other_types_are_415() {
        assert_eq!(decode("application/json", br#"{"a":1}"#).unwrap()["a"], 1);
        assert_eq!(decode("application/yaml", b"a: 1\n").unwrap()["a"], 1);
        assert_eq!(
            decode("application/vnd.kubernetes.protobuf", b"x").unwrap_err().code,
            415
        );
        assert_eq!(decode("application/json", b"{").unwrap_err().code, 400);
        assert_eq!(decode("application/json", b"  ").unwrap_err().code, 400);
    }

    #[test]
    fn query_strings_are_percent_decoded() {
        let q = parse_query(Some("labelSelector=app%3Dweb%2Ctier+in+(a)&watch=1"));
        assert_eq!(q["labelSelector"], "app=web,tier in (a)");
        assert_eq!(q["watch"], "1");
    }
}
