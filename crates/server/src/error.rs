//! The one API error type: the caller's mistakes become 4xx with a
//! machine-readable body naming the field; everything else is a 5xx, logged
//! with its whole cause chain and never shown to the caller.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Machine-readable code: `invalid_json`, `invalid_field`, `unknown_field`,
    /// `unauthenticated`, `forbidden`, `not_found`, `payload_too_large`,
    /// `unsupported_media_type`, `rate_limited`, `conflict`, `internal`…
    pub error: String,
    /// What went wrong and what to do, in words.
    pub message: String,
    /// JSON pointer (RFC 6901) to the offending field: `/sites/0/lat` in the
    /// body, `/query/limit` for a query parameter, `/path/id` for a path
    /// segment, `/headers/authorization` for a header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
}

/// An API failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A request the caller must fix (400 or 422).
    #[error("{message}")]
    Invalid {
        status: StatusCode,
        code: &'static str,
        pointer: Option<String>,
        message: String,
    },
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{message}")]
    NotFound {
        pointer: Option<String>,
        message: String,
    },
    #[error("{message}")]
    Conflict {
        pointer: Option<String>,
        message: String,
    },
    #[error("request body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("too many requests: retry after {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    /// The server could not do its part (store down, a bug): 500, logged.
    #[error("{context}")]
    Internal {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{0}")]
    Unavailable(String),
}

impl ApiError {
    /// 400 naming a field.
    pub fn field(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_field",
            pointer: Some(pointer.into()),
            message: message.into(),
        }
    }

    /// 422: well-formed but not acceptable (a rule of the domain).
    pub fn unprocessable(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "unprocessable",
            pointer: Some(pointer.into()),
            message: message.into(),
        }
    }

    pub fn not_found(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::NotFound {
            pointer: Some(pointer.into()),
            message: message.into(),
        }
    }

    pub fn internal(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        ApiError::Internal {
            context: context.into(),
            source: Box::new(source),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Invalid { status, .. } => *status,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn body(&self) -> ErrorBody {
        let (error, pointer) = match self {
            ApiError::Invalid { code, pointer, .. } => (*code, pointer.clone()),
            ApiError::Unauthenticated(_) => {
                ("unauthenticated", Some("/headers/authorization".into()))
            }
            ApiError::Forbidden(_) => ("forbidden", None),
            ApiError::NotFound { pointer, .. } => ("not_found", pointer.clone()),
            ApiError::Conflict { pointer, .. } => ("conflict", pointer.clone()),
            ApiError::TooLarge { .. } => ("payload_too_large", Some(String::new())),
            ApiError::UnsupportedMediaType(_) => (
                "unsupported_media_type",
                Some("/headers/content-type".into()),
            ),
            ApiError::RateLimited { .. } => ("rate_limited", None),
            ApiError::Internal { .. } => ("internal", None),
            ApiError::Unavailable(_) => ("unavailable", None),
        };
        let message = match self {
            // Never leak internals: the log has the chain.
            ApiError::Internal { .. } => {
                "internal error: the server could not complete the request; it has been logged"
                    .to_string()
            }
            other => other.to_string(),
        };
        ErrorBody {
            error: error.into(),
            message,
            pointer,
        }
    }
}

/// An error and its sources on one line.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), error = %chain(&self), "request failed");
        }
        let body = self.body();
        let mut resp = (status, axum::Json(body)).into_response();
        if let ApiError::RateLimited { retry_after_s } = self
            && let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

impl From<farguard_store::StoreError> for ApiError {
    fn from(e: farguard_store::StoreError) -> Self {
        ApiError::internal("store", e)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
