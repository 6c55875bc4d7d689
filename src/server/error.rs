//! `ApiError`: the one error type of the HTTP boundary, answered in docs/api.md's shape
//! `{"error": {"code", "message"}}`. Database and internal errors are logged with the
//! request id and answered with a bare message; bad input is always a 4xx.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
    }
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error; the server log has the details under this request's id",
        )
    }
}

/// The JSON body of an error, also used for framework rejections and fallbacks.
pub fn error_body(code: &str, message: &str) -> String {
    serde_json::json!({"error": {"code": code, "message": message}}).to_string()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, error_body(self.code, &self.message)).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        classify_db_error(&e)
    }
}

/// Maps a database error to what the client should see. Connection trouble is a 503 (the
/// client may retry); PostgreSQL refusing the *value* (NUL bytes, bad encoding, a number
/// out of range) is the client's bad input, a 422; anything else is logged and a 500.
pub fn classify_db_error(e: &sqlx::Error) -> ApiError {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
            tracing::warn!(error = %e, "database unavailable");
            ApiError::unavailable(
                "database_unavailable",
                "the database is unreachable; retry shortly",
            )
        }
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            match code.as_str() {
                // character_not_in_repertoire, untranslatable_character, invalid byte sequence,
                // numeric/datetime out of range, invalid text representation, string too long.
                "22021" | "22P05" | "22003" | "22008" | "22P02" | "22001" | "2200N" => {
                    ApiError::unprocessable(format!(
                        "the database refused a value: {}",
                        db.message()
                    ))
                }
                // statement_too_complex (stack depth): a value nested too deep.
                "54001" => ApiError::unprocessable(
                    "the database refused a value nested too deeply; send a flatter document",
                ),
                // admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections
                "57P01" | "57P02" | "57P03" | "53300" | "08006" | "08001" | "08003" => {
                    tracing::warn!(error = %e, "database unavailable");
                    ApiError::unavailable(
                        "database_unavailable",
                        "the database is unreachable; retry shortly",
                    )
                }
                // query_canceled: statement_timeout fired.
                "57014" => {
                    tracing::warn!(error = %e, "statement timeout");
                    ApiError::unavailable(
                        "database_timeout",
                        "the database took too long to answer; retry shortly",
                    )
                }
                _ => {
                    tracing::error!(error = %e, "database error");
                    ApiError::internal()
                }
            }
        }
        _ => {
            tracing::error!(error = %e, "database error");
            ApiError::internal()
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
