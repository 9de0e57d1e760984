//! The one error type of Herald's use cases ([`ServiceError`]) and the one place it is mapped to
//! what a caller sees: an HTTP status and JSON body for the REST API ([`ResponseError`]), a
//! [`PortalError`] for the portal's server functions ([`ServiceError::to_portal`]). The user sees
//! a kind and a safe message; the cause of an internal error is logged with a reference the user
//! can quote.
//!
//! The mapping, for every transport alike: a malformed request body 400 naming the problem,
//! input refused field by field 422 naming the field, not found and not entitled 404 (an
//! anonymous caller 401, so that it knows to sign in), a conflict with what is stored 409, a
//! caller who may see the thing but not do this to it 403.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use app::model::PortalError;
use herald_csaf::Finding;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("not found")]
    NotFound,
    #[error("authentication required")]
    Unauthorized,
    #[error("not allowed")]
    Forbidden,
    /// Not allowed, with the reason (e.g. the four-eyes rule): 403 like [`ServiceError::Forbidden`].
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

impl ServiceError {
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }

    /// Input refused at one field (`field` as the request names it).
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::InvalidFields(vec![FieldError {
            field: field.to_owned(),
            message: message.into(),
        }])
    }

    /// A request body that is not the JSON the endpoint takes: 400 naming the problem, whether
    /// it is not JSON at all or JSON of another shape (a missing, unknown or mistyped field).
    /// 422 is for input of the right shape that a rule refuses, naming the field.
    pub fn body(e: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => Self::BadRequest(format!("request body: {e}")),
            Category::Syntax | Category::Eof | Category::Io => {
                Self::BadRequest(format!("request body is not valid JSON: {e}"))
            }
        }
    }

    /// What a portal page may tell the user: a kind and, for refused input, the message; the
    /// cause of anything internal is logged with the reference the page shows.
    pub fn to_portal(self) -> PortalError {
        match self {
            Self::NotFound => PortalError::NotFound,
            Self::Unauthorized | Self::Forbidden | Self::Refused(_) => PortalError::Forbidden,
            Self::BadRequest(m) | Self::Conflict(m) | Self::TooLarge(m) => PortalError::Invalid(m),
            Self::Invalid(f) => PortalError::Invalid(format!("{} failed tests", f.len())),
            e @ Self::InvalidFields(_) => PortalError::Invalid(e.to_string()),
            Self::Unavailable(m) => {
                let reference = uuid::Uuid::new_v4().simple().to_string();
                tracing::error!(reference = %reference, reason = %m, "portal request failed");
                PortalError::Internal(reference)
            }
            Self::Internal(cause) => {
                let reference = uuid::Uuid::new_v4().simple().to_string();
                tracing::error!(reference = %reference, error = ?cause, "portal request failed");
                PortalError::Internal(reference)
            }
        }
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

impl From<herald_storage::StorageError> for ServiceError {
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

impl ResponseError for ServiceError {
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

/// Parses a JSON request body (see [`ServiceError::body`] for what a bad one answers).
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ServiceError> {
    serde_json::from_slice(body).map_err(|e| ServiceError::body(&e))
}

/// What actix's `Json` extractor answers for a body it cannot take: the same as
/// [`parse_json`], so every endpoint answers a malformed body alike.
pub fn json_config() -> actix_web::web::JsonConfig {
    actix_web::web::JsonConfig::default().error_handler(|err, _req| {
        use actix_web::error::JsonPayloadError;
        let mapped = match &err {
            JsonPayloadError::Deserialize(e) => ServiceError::body(e),
            JsonPayloadError::ContentType => ServiceError::BadRequest(
                "request body must be JSON (Content-Type: application/json)".into(),
            ),
            JsonPayloadError::Overflow { limit }
            | JsonPayloadError::OverflowKnownLength { limit, .. } => {
                ServiceError::TooLarge(format!("request body is larger than {limit} bytes"))
            }
            other => ServiceError::BadRequest(format!("request body: {other}")),
        };
        mapped.into()
    })
}
