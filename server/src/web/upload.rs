//! Publishing from the portal by uploading a CSAF file (`/upload`): a plain HTML page with a
//! multipart form (no JavaScript), and its POST, which goes through the one publish path
//! ([`crate::publish::publish_document`], as `POST /api/v1/advisories` and `herald import`) and
//! answers with a page: the published URLs and warnings, or every failed test (test id, JSON
//! path, message) with nothing written. These are actix routes rather than Leptos server
//! functions because server functions do not take file uploads without JavaScript.
//!
//! Who may: a signed-in publisher or admin of the manufacturer organization (session cookie).
//! With the four-eyes rule on, a publisher's upload is held for approval
//! ([`crate::service::publish`]) and the page says where an approver finds it.
//! Cross-site requests: the POST passes `web::csrf`'s middleware (same origin) and carries the
//! session's CSRF token in the form's hidden field, which the handler checks
//! ([`crate::web::csrf::verify`]) before it uses the file.
//!
//! Size: the body may hold the document (at most [`herald_csaf::MAX_DOCUMENT_BYTES`], the API's
//! limit) plus the form's framing; a larger upload gets a page saying so.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::TryStreamExt;
use herald_csaf::Finding;

use crate::error::ServiceError;
use crate::publish::Published;
use crate::service::Principal;
use crate::service::publish::Submitted;
use crate::state::AppState;
use crate::web::auth::session_cookie;

/// Room for the multipart framing (boundaries, part headers) around the document.
const FRAMING: usize = 64 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/upload")
            .wrap(actix_web::middleware::from_fn(crate::web::csrf::guard))
            .route(web::get().to(upload_page))
            .route(web::post().to(upload)),
    );
}

/// Text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page; `body` is HTML built with [`esc`] for every value.
fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Herald</title><link rel=\"stylesheet\" href=\"/pkg/herald.css\"></head>\
         <body><header class=\"site-header\"><nav class=\"site-nav\" aria-label=\"Main\">\
         <a href=\"/\" class=\"brand\">Herald</a> <a href=\"/advisories\">Advisories</a> \
         <a href=\"/products\">Products</a> <a href=\"/upload\">Upload</a></nav></header>\
         <main id=\"main\" class=\"content\"><h1>{}</h1>{body}</main></body></html>",
        esc(title),
        esc(title)
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        // Per user and may list restricted findings: never kept by any cache.
        .insert_header(("Cache-Control", "no-store"))
        .body(html)
}

/// The form; its hidden CSRF field comes first so that the handler reads it before the file.
const FORM: &str = "<form method=\"post\" action=\"/upload\" enctype=\"multipart/form-data\" \
    data-testid=\"upload-form\"><input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\"><p><label for=\"document\">CSAF 2.0 document (JSON, at most 10 MiB)\
    </label> <input type=\"file\" id=\"document\" name=\"document\" accept=\".json,application/json\" \
    required></p><p><button type=\"submit\">Validate and publish</button></p></form>";

fn form_page(req: &HttpRequest, status: StatusCode, title: &str, before: &str) -> HttpResponse {
    use actix_web::HttpMessage as _;
    let token = req
        .extensions()
        .get::<app::csrf::CsrfToken>()
        .map(|t| t.0.clone())
        .unwrap_or_default();
    let form = FORM.replace("{csrf}", &esc(&token));
    page(status, title, &format!("{before}{form}"))
}

/// The signed-in user's principal if they may publish (publisher or admin of a manufacturer).
/// `Err` is the page to answer instead.
async fn publisher(state: &AppState, req: &HttpRequest) -> Result<Principal, HttpResponse> {
    let to_login = || {
        HttpResponse::SeeOther()
            .insert_header(("Location", "/login?next=%2Fupload"))
            .finish()
    };
    let Some(cookie) = session_cookie(req).filter(|c| !c.is_empty()) else {
        return Err(to_login());
    };
    let policy = state.config.accounts.sessions;
    let found = state
        .db(move |conn| Principal::from_session(conn, &cookie, &policy))
        .await;
    match found {
        Ok(None) => Err(to_login()),
        Ok(Some(p)) if p.is_publisher() => Ok(p),
        Ok(Some(_)) => Err(page(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "<p role=\"alert\">Only publishers and administrators of the manufacturer can publish advisories.</p>",
        )),
        Err(e) => Err(error_page(req, e)),
    }
}

fn error_page(req: &HttpRequest, e: ServiceError) -> HttpResponse {
    let status = actix_web::ResponseError::status_code(&e);
    let message = match e {
        ServiceError::Internal(cause) => {
            let reference = uuid::Uuid::new_v4().simple().to_string();
            tracing::error!(reference = %reference, error = ?cause, "upload failed");
            format!("internal error (reference {reference})")
        }
        other => other.to_string(),
    };
    form_page(
        req,
        status,
        "Not published",
        &format!(
            "<p role=\"alert\" data-testid=\"upload-error\">{}</p>",
            esc(&message)
        ),
    )
}

/// The upload form.
pub async fn upload_page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    if let Err(answer) = publisher(&state, &req).await {
        return answer;
    }
    form_page(
        &req,
        StatusCode::OK,
        "Publish an advisory",
        "<p>Upload a CSAF 2.0 document: it is validated (JSON schema, every mandatory test, \
         optional tests as warnings), signed and published, or refused with every failed test \
         and nothing stored. A document with the tracking id of a published advisory is its \
         next revision.</p>",
    )
}

/// Publishes the uploaded file (see the module docs).
pub async fn upload(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: Multipart,
) -> HttpResponse {
    let principal = match publisher(&state, &req).await {
        Ok(p) => p,
        Err(answer) => return answer,
    };
    let limit = herald_csaf::MAX_DOCUMENT_BYTES + FRAMING;
    let too_large = || {
        form_page(
            &req,
            StatusCode::PAYLOAD_TOO_LARGE,
            "Not published",
            &format!(
                "<p role=\"alert\" data-testid=\"upload-error\">The file is too large: the limit \
                 is {} bytes (10 MiB). Nothing was stored.</p>",
                herald_csaf::MAX_DOCUMENT_BYTES
            ),
        )
    };
    let declared = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return too_large();
    }
    let (csrf, document) =
        match file_part(payload, "document", herald_csaf::MAX_DOCUMENT_BYTES).await {
            (csrf, Ok(Some(d))) => (csrf, d),
            (_, Ok(None)) => return too_large(),
            (_, Err(m)) => return error_page(&req, ServiceError::BadRequest(m)),
        };
    // The middleware checked the origin; the form's token is checked here, where the multipart
    // body is read (the file is not used unless it passes).
    if !crate::web::csrf::verify(&req, csrf.as_deref()) {
        return page(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "<p role=\"alert\">The form did not carry this session's form token. Reload the \
             upload page and try again.</p>",
        );
    }
    if document.len() > herald_csaf::MAX_DOCUMENT_BYTES {
        return too_large();
    }
    let config = state.config.clone();
    let submitted = state
        .db(move |conn| {
            Ok(crate::service::publish::submit_document(
                conn, &config, &principal, &document,
            ))
        })
        .await;
    match submitted {
        Ok(Ok(Submitted::Published(p))) => success_page(&p),
        Ok(Ok(Submitted::Held(draft))) => held_page(&draft),
        Ok(Err(ServiceError::Invalid(findings))) if !is_size(&findings) => {
            failed_page(&req, &findings)
        }
        Ok(Err(e)) => error_page(&req, e),
        Err(e) => error_page(&req, e),
    }
}

/// The answer to an upload held for approval under the four-eyes rule.
fn held_page(draft: &crate::authoring::DraftView) -> HttpResponse {
    page(
        StatusCode::ACCEPTED,
        "Held for approval",
        &format!(
            "<p role=\"status\" data-testid=\"upload-held\">The four-eyes rule is on: \
             <strong>{}</strong> version {} is held for approval and is not published yet. An \
             approver other than you publishes it from <a href=\"/authoring/{}\" \
             data-testid=\"pending-url\">its page</a>.</p><p><a href=\"/upload\">Upload another \
             document</a></p>",
            esc(&draft.tracking_id),
            esc(draft.uploaded_version.as_deref().unwrap_or("")),
            esc(&draft.id),
        ),
    )
}

fn is_size(findings: &[Finding]) -> bool {
    findings
        .iter()
        .any(|f| f.test_id == herald_csaf::SIZE_TEST_ID)
}

fn findings_table(findings: &[Finding], testid: &str) -> String {
    let rows: String = findings
        .iter()
        .map(|f| {
            format!(
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
                esc(&f.test_id),
                esc(if f.path.is_empty() { "/" } else { &f.path }),
                esc(&f.message)
            )
        })
        .collect();
    format!(
        "<table data-testid=\"{testid}\"><thead><tr><th>Test</th><th>JSON path</th><th>Message</th>\
         </tr></thead><tbody>{rows}</tbody></table>"
    )
}

fn success_page(p: &Published) -> HttpResponse {
    let warnings = if p.warnings.is_empty() {
        "<p>No warnings.</p>".to_string()
    } else {
        format!(
            "<h2>Warnings ({})</h2>{}",
            p.warnings.len(),
            findings_table(&p.warnings, "upload-warnings")
        )
    };
    let what = if p.event == herald_storage::advisories::EVENT_ADVISORY_UPDATED {
        "a new revision of"
    } else {
        "the new advisory"
    };
    page(
        StatusCode::CREATED,
        "Published",
        &format!(
            "<p role=\"status\" data-testid=\"upload-published\">Published {what} \
             <strong>{}</strong>, version {}.</p><ul><li>Portal: <a href=\"{}\" \
             data-testid=\"portal-url\">{}</a></li><li>CSAF: <a href=\"{}\" data-testid=\"csaf-url\">{}</a>\
             </li></ul>{warnings}<p><a href=\"/upload\">Upload another document</a></p>",
            esc(&p.tracking_id),
            esc(&p.version),
            esc(&p.portal_url),
            esc(&p.portal_url),
            esc(&p.csaf_url),
            esc(&p.csaf_url),
        ),
    )
}

fn failed_page(req: &HttpRequest, findings: &[Finding]) -> HttpResponse {
    let errors: Vec<Finding> = findings
        .iter()
        .filter(|f| f.severity == herald_csaf::Severity::Error)
        .cloned()
        .collect();
    let shown = if errors.is_empty() { findings } else { &errors };
    form_page(
        req,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Not published",
        &format!(
            "<p role=\"alert\" data-testid=\"upload-error\">The document is not valid CSAF 2.0: \
             {} failed tests. Nothing was stored.</p>{}",
            shown.len(),
            findings_table(shown, "upload-findings")
        ),
    )
}

/// The CSRF field (if it comes before the file) and the content of the file field `name` of
/// the `multipart/form-data` body (RFC 7578, parsed by `actix-multipart`); `Ok(None)` when the
/// file is larger than `max` bytes. Other fields are streamed past without being kept.
async fn file_part(
    form: Multipart,
    name: &str,
    max: usize,
) -> (Option<String>, Result<Option<Vec<u8>>, String>) {
    let mut csrf = None;
    let file = read_parts(form, name, max, &mut csrf).await;
    (csrf, file)
}

/// The token field may hold a few dozen characters; anything longer is not one.
const MAX_CSRF_FIELD: usize = 256;

async fn read_parts(
    mut form: Multipart,
    name: &str,
    max: usize,
    csrf: &mut Option<String>,
) -> Result<Option<Vec<u8>>, String> {
    let broken =
        |e: actix_multipart::MultipartError| format!("the upload is not a readable form: {e}");
    while let Some(mut field) = form.try_next().await.map_err(broken)? {
        let field_name = field
            .content_disposition()
            .and_then(|d| d.get_name())
            .map(str::to_owned);
        let is_file = field_name.as_deref() == Some(name);
        let is_csrf = field_name.as_deref() == Some(app::csrf::CSRF_FIELD);
        let mut content = Vec::new();
        while let Some(chunk) = field.try_next().await.map_err(broken)? {
            let limit = if is_csrf { MAX_CSRF_FIELD } else { max };
            if is_file || is_csrf {
                if content.len() + chunk.len() > limit {
                    return Ok(None);
                }
                content.extend_from_slice(&chunk);
            }
        }
        if is_csrf {
            *csrf = String::from_utf8(content).ok();
        } else if is_file {
            if content.is_empty() {
                return Err("no file was chosen".into());
            }
            return Ok(Some(content));
        }
    }
    Err(format!("the form has no field {name:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href='x'>&\""),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;"
        );
    }
}
