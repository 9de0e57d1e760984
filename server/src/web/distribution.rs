//! CSAF distribution for machines (CSAF 2.0 section 7): `/.well-known/csaf/provider-metadata.json`
//! and the documents themselves, served byte for byte as stored at publish time, with their hash
//! files. Only TLP:WHITE is served here; restricted labels get their authenticated path with the
//! customer portal.

use actix_web::http::header::{self, EntityTag, HttpDate};
use actix_web::{HttpRequest, HttpResponse, web};
use herald_csaf::Tlp;
use serde_json::json;

use crate::state::AppState;
use crate::web::error::WebError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // HEAD answers like GET without a body: mirrors and checkers probe with it.
    cfg.service(
        web::resource("/csaf/provider-metadata.json")
            .route(web::get().to(provider_metadata))
            .route(web::head().to(provider_metadata)),
    )
    .service(
        web::resource("/csaf/{tlp}/{year}/{file}")
            .route(web::get().to(document))
            .route(web::head().to(document)),
    );
}

fn provider_base(state: &AppState) -> String {
    format!("{}/.well-known/csaf", state.config.base_url)
}

async fn provider_metadata(state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    let last = state
        .db(|conn| Ok(herald_storage::last_published_at(conn)?))
        .await?;
    let base = provider_base(&state);
    let last_updated = last.unwrap_or_else(chrono::Utc::now);
    let body = json!({
        "canonical_url": format!("{base}/provider-metadata.json"),
        "distributions": [{ "directory_url": format!("{base}/{}", herald_csaf::tlp_dir(Tlp::White)) }],
        "last_updated": last_updated.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "list_on_CSAF_aggregators": true,
        "metadata_version": "2.0",
        "mirror_on_CSAF_aggregators": true,
        "publisher": {
            "category": "vendor",
            "name": state.config.publisher_name,
            "namespace": state.config.publisher_namespace,
        },
        "role": "csaf_publisher",
    });
    Ok(csaf_headers(HttpResponse::Ok()).json(body))
}

/// CORS for every CSAF file (CSAF 2.1 requirement 25), and no caching surprises.
fn csaf_headers(mut builder: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    builder.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"));
    builder
}

#[derive(Clone, Copy)]
enum Variant {
    Json,
    Sha256,
    Sha512,
}

async fn document(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, WebError> {
    let (tlp_dir, year, file) = path.into_inner();
    if tlp_dir != herald_csaf::tlp_dir(Tlp::White) {
        return Err(WebError::NotFound);
    }
    let (name, variant) = if let Some(n) = file.strip_suffix(".sha256") {
        (n.to_owned(), Variant::Sha256)
    } else if let Some(n) = file.strip_suffix(".sha512") {
        (n.to_owned(), Variant::Sha512)
    } else {
        (file.clone(), Variant::Json)
    };
    // The stored path is built by herald_csaf::document_path; anything else cannot match, so path
    // tricks (`..`, encoded slashes) simply find nothing.
    let stored_path = format!("{tlp_dir}/{year}/{name}");
    let doc = state
        .db(move |conn| Ok(herald_storage::get_document(conn, &stored_path)?))
        .await?
        .ok_or(WebError::NotFound)?;
    if doc.tlp != Tlp::White {
        return Err(WebError::NotFound);
    }
    let (body, content_type, tag): (Vec<u8>, &str, String) = match variant {
        Variant::Json => (doc.bytes, "application/json", doc.sha256.clone()),
        Variant::Sha256 => (
            format!("{}  {}\n", doc.sha256, name).into_bytes(),
            "text/plain; charset=utf-8",
            format!("{}-sha256", doc.sha256),
        ),
        Variant::Sha512 => (
            format!("{}  {}\n", doc.sha512, name).into_bytes(),
            "text/plain; charset=utf-8",
            format!("{}-sha512", doc.sha256),
        ),
    };
    let etag = EntityTag::new_strong(tag);
    let modified = HttpDate::from(std::time::SystemTime::from(doc.release_date));
    if not_modified(&req, &etag, doc.release_date) {
        return Ok(csaf_headers(HttpResponse::NotModified())
            .insert_header(header::ETag(etag))
            .insert_header(header::LastModified(modified))
            .finish());
    }
    Ok(csaf_headers(HttpResponse::Ok())
        .content_type(content_type)
        .insert_header(header::ETag(etag))
        .insert_header(header::LastModified(modified))
        .body(body))
}

/// RFC 9110 conditional GET: If-None-Match wins over If-Modified-Since.
fn not_modified(
    req: &HttpRequest,
    etag: &EntityTag,
    updated: chrono::DateTime<chrono::Utc>,
) -> bool {
    let headers = req.headers();
    if let Some(v) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        return v.split(',').map(str::trim).any(|t| {
            t == "*" || t.trim_start_matches("W/") == etag.to_string().trim_start_matches("W/")
        });
    }
    if let Some(since) = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
    {
        return updated.timestamp() <= since.timestamp();
    }
    false
}
