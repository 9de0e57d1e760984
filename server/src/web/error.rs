//! The one error type of Herald's web layer: the user sees a kind and a safe message, the cause
//! is logged with a reference the user can quote.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use herald_csaf::Finding;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("not found")]
    NotFound,
    #[error("authentication required")]
    Unauthorized,
    #[error("not allowed")]
    Forbidden,
    /// Not allowed, with the reason (e.g. the four-eyes rule): 403 like [`WebError::Forbidden`].
    #[error("not allowed: {0}")]
    Refused(String),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("the document is not valid CSAF 2.0")]
    Invalid(Vec<Finding>),
    /// Input rejected field by field (a plugin's `validate-config`, secret references).
    #[error("invalid: {}", .0.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; "))]
    InvalidFields(Vec<FieldError>),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("payload too large: {0}")]
    TooLarge(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Machine-readable kind: not_found, unauthorized, forbidden, bad_request, invalid,
    /// invalid_fields, conflict, too_large, unavailable, internal.
    pub error: &'static str,
    pub message: String,
    /// For `invalid`: every failed test with its id, JSON path and message.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<FindingBody>,
    /// For `invalid_fields`: each rejected field with the reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

/// One rejected input field; `field` is empty when the input as a whole is at fault.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FindingBody {
    pub test_id: String,
    pub path: String,
    pub message: String,
    pub severity: String,
}

impl From<&Finding> for FindingBody {
    fn from(f: &Finding) -> Self {
        Self {
            test_id: f.test_id.clone(),
            path: f.path.clone(),
            message: f.message.clone(),
            severity: format!("{:?}", f.severity).to_ascii_lowercase(),
        }
    }
}

impl WebError {
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden | Self::Refused(_) => "forbidden",
            Self::BadRequest(_) => "bad_request",
            Self::Invalid(_) => "invalid",
            Self::InvalidFields(_) => "invalid_fields",
            Self::Conflict(_) => "conflict",
            Self::TooLarge(_) => "too_large",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

impl From<herald_storage::StorageError> for WebError {
    fn from(e: herald_storage::StorageError) -> Self {
        use herald_storage::StorageError as S;
        match e {
            S::NotFound => Self::NotFound,
            S::Conflict(m) => Self::Conflict(m),
            S::Invalid(m) => Self::BadRequest(m),
            other => Self::Internal(other.into()),
        }
    }
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::Refused(_) => StatusCode::FORBIDDEN,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::InvalidFields(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let message = match self {
            Self::Internal(cause) => {
                let reference = uuid::Uuid::new_v4().simple().to_string();
                tracing::error!(reference = %reference, error = ?cause, "request failed");
                format!("internal error (reference {reference})")
            }
            other => other.to_string(),
        };
        let findings = match self {
            Self::Invalid(f) => f.iter().map(FindingBody::from).collect(),
            _ => Vec::new(),
        };
        let fields = match self {
            Self::InvalidFields(f) => f.clone(),
            _ => Vec::new(),
        };
        let mut builder = HttpResponse::build(self.status_code());
        if matches!(self, Self::Unauthorized) {
            builder.insert_header(("WWW-Authenticate", "Bearer realm=\"herald\""));
        }
        builder.json(ErrorBody {
            error: self.kind(),
            message,
            findings,
            fields,
        })
    }
}
