//! Request parsing with docs/api.md's status codes: bodies over `limits.max_body` (1 MiB
//! unless `nginx.max_body_kb` says otherwise) are 413, bytes that are
//! not UTF-8 or not JSON are 400, well-formed JSON that breaks a rule is 422, and query
//! or path values that don't parse are 400 — all in the JSON error shape.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::state::AppState;

/// The deepest nesting of arrays and objects accepted in a body: deeper documents are a
/// 422 before anything parses them (PostgreSQL's jsonb and every reader recurse on them).
pub const MAX_DEPTH: usize = 64;

/// The largest `metadata` or `details` value, in bytes of JSON: one page of runs or results
/// stays small whatever clients sent.
pub const MAX_JSON_FIELD: usize = 64 * 1024;

/// How deep arrays and objects nest in `text` (strings are skipped, escapes included);
/// stops counting past `limit`.
pub fn nesting_depth(text: &[u8], limit: usize) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in text {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
                if deepest > limit {
                    return deepest;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// A JSON-valued field (`metadata`, `details`) within [`MAX_JSON_FIELD`] bytes.
pub fn json_field(name: &str, raw: &serde_json::value::RawValue) -> Result<(), ApiError> {
    let n = raw.get().len();
    if n > MAX_JSON_FIELD {
        return Err(ApiError::unprocessable(format!(
            "{name} is {n} bytes of JSON; at most {MAX_JSON_FIELD} are kept per value"
        )));
    }
    Ok(())
}

/// A JSON body of type `T` (whose serde derive should `deny_unknown_fields`).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = read_body(req.into_body(), state.settings.limits.max_body).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

pub fn too_large(max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("the request body is over {max} bytes; send less per request"),
    )
}

/// Reads the whole body, refusing more than `max` bytes (`limits.max_body`).
pub async fn read_body(body: Body, max: usize) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, max).await.map_err(|e| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = source {
            if s.is::<http_body_util::LengthLimitError>() {
                return too_large(max);
            }
            source = s.source();
        }
        ApiError::bad_request("bad_body", format!("could not read the request body: {e}"))
    })
}

/// Parses JSON bytes into `T` with the status docs/api.md asks for.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ApiError::bad_request(
            "invalid_utf8",
            format!("the body is not valid UTF-8 (at byte {})", e.valid_up_to()),
        )
    })?;
    if nesting_depth(bytes, MAX_DEPTH) > MAX_DEPTH {
        return Err(ApiError::unprocessable(format!(
            "the body nests arrays or objects deeper than {MAX_DEPTH} levels"
        )));
    }
    // Syntax first, so a malformed document is a 400 even when its start already breaks
    // the expected shape (serde stops at the first type error).
    serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(|e| {
        ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
    })?;
    serde_json::from_str(text).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ApiError::unprocessable(format!("invalid body: {e}")),
            _ => {
                ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
            }
        }
    })
}

/// The query string as decoded pairs. Bad percent-encoding is a 400.
pub struct Query(pub Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let raw = raw.unwrap_or("");
        let mut pairs = Vec::new();
        for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
            if k.contains('\u{FFFD}') || v.contains('\u{FFFD}') {
                return Err(ApiError::bad_request(
                    "bad_query",
                    "the query string is not valid UTF-8",
                ));
            }
            pairs.push((k.into_owned(), v.into_owned()));
        }
        Ok(Query(pairs))
    }

    /// The last value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// An integer parameter within `min..=max`.
    pub fn int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        match v.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::bad_request(
                "bad_query",
                format!("query parameter {name}={v:?} must be an integer from {min} to {max}"),
            )),
        }
    }

    /// A parameter that must be one of `allowed`.
    pub fn one_of(&self, name: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        if allowed.contains(&v) {
            Ok(Some(v.to_string()))
        } else {
            Err(ApiError::bad_request(
                "bad_query",
                format!(
                    "query parameter {name}={v:?} must be one of {}",
                    allowed.join(", ")
                ),
            ))
        }
    }

    /// A free-text parameter (PostgreSQL text cannot hold NUL).
    pub fn text(&self, name: &str, max_len: usize) -> Result<Option<String>, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        if v.contains('\0') || v.chars().count() > max_len {
            return Err(ApiError::bad_request(
                "bad_query",
                format!("query parameter {name} must be at most {max_len} characters, without NUL"),
            ));
        }
        Ok(Some(v.to_string()))
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Query {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, ApiError> {
        Query::parse(parts.uri.query())
    }
}

/// A run id from the path: a positive integer, or the run cannot exist (404).
pub fn run_id(raw: &str) -> Result<i64, ApiError> {
    match raw.parse::<i64>() {
        Ok(n) if n > 0 => Ok(n),
        Ok(_) => Err(ApiError::not_found(format!("no run with id {raw}"))),
        Err(_) => Err(ApiError::bad_request(
            "bad_path",
            format!("run id {raw:?} is not an integer"),
        )),
    }
}

/// Checks a required text field: non-empty, at most `max` characters, no NUL.
pub fn text_field(name: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::unprocessable(format!("{name} must not be empty")));
    }
    optional_text_field(name, Some(value), max)
}

/// Checks an optional text field: at most `max` characters, no NUL.
pub fn optional_text_field(name: &str, value: Option<&str>, max: usize) -> Result<(), ApiError> {
    let Some(value) = value else { return Ok(()) };
    if value.chars().count() > max {
        return Err(ApiError::unprocessable(format!(
            "{name} is longer than {max} characters"
        )));
    }
    if value.contains('\0') {
        return Err(ApiError::unprocessable(format!(
            "{name} contains a NUL character"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        a: i32,
    }

    #[test]
    fn json_status_codes() {
        assert_eq!(parse_json::<T>(b"{\"a\":1}").unwrap().a, 1);
        assert_eq!(parse_json::<T>(b"{\"a\":").unwrap_err().status, 400);
        assert_eq!(parse_json::<T>(b"\xff\xfe").unwrap_err().status, 400);
        assert_eq!(parse_json::<T>(b"{\"a\":\"x\"}").unwrap_err().status, 422);
        assert_eq!(
            parse_json::<T>(b"{\"a\":1,\"b\":2}").unwrap_err().status,
            422
        );
    }

    #[test]
    fn query_values() {
        let q = Query::parse(Some("limit=5&status=passed&x=%ZZ")).unwrap();
        assert_eq!(q.int("limit", 1, 200).unwrap(), Some(5));
        assert!(q.int("status", 1, 2).is_err());
        assert!(q.one_of("status", &["failed"]).is_err());
        assert!(Query::parse(Some("a=%FF")).is_err());
        assert_eq!(run_id("0").unwrap_err().status, 404);
        assert_eq!(run_id("abc").unwrap_err().status, 400);
    }
}
