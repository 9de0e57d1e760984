//! CSAF distribution for machines: Herald as a CSAF 2.0 *trusted provider* (section 7.1,
//! requirements 1-20) under `/.well-known/`. The files themselves are built by
//! `herald-distribution` from what storage returns; this module maps request paths to them
//! (`Resource::parse`, the one URL layout), enforces access, and answers GET and HEAD with ETag,
//! Last-Modified, conditional GET and `Access-Control-Allow-Origin: *` (CSAF 2.1 req. 25).
//!
//! Access:
//! * `provider-metadata.json`, `service.json`, `openpgp/<FPR>.asc`, `security.txt` and the whole
//!   `white/` tree are public.
//! * `green/` and `amber/` (directory, listings, index, changes, feed, category document,
//!   documents and sidecars) follow the entitlement rule of `herald_storage::entitlement::visible_to`, for
//!   API tokens with the `read` scope and for portal session cookies alike: a document and its
//!   sidecars when the caller may read that advisory; the directory-level files when the caller
//!   may open the label's directory (the manufacturer; a customer hospital; for AMBER also a
//!   hospital holding a grant), listing only what the caller may read. Anonymous callers get
//!   401 on every restricted path, whether a file exists or not (so nothing leaks); an
//!   authenticated caller that is not entitled gets 404. These answers are per caller:
//!   `Cache-Control: private`.
//! * `red/` does not exist (`Resource::parse` refuses it).
//!
//! provider-metadata.json and service.json list, for anonymous callers, only the public (WHITE)
//! directory and feed: a consumer (and CSAF checkers) fail a provider whose listed feed or
//! directory answers 401. A caller with a read token or a session (the same [`ReadCaller`] as
//! every restricted path) also finds the ROLIE feeds of GREEN and AMBER when it may open those
//! directories (`herald_storage::entitlement::may_open_directory`), each as its own `rolie.feeds[]` entry with
//! its `tlp_label` (CSAF 7.1.15: one feed per label), so a consumer configured with a token
//! discovers them from the one well-known URL. That answer is per caller (`Cache-Control:
//! private`); every answer of these two files carries `Vary: Authorization, Cookie` so a shared
//! cache never hands one caller's version to another.
//!
//! Directories answer with and without the trailing slash and never redirect (CSAF 7.1.6); the
//! listing's links are absolute, so they work from either form.

use actix_web::http::header::{self, EntityTag, HttpDate};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use herald_csaf::{Publisher, Tlp};
use herald_distribution::{
    ListingEntry, MetadataInput, Provider, Resource, SecurityTxtInput, Sidecar,
};
use herald_storage::{DbConnection, advisories::AdvisoryFilter, entitlement::Reader};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::error::ServiceError;
use crate::state::AppState;
use crate::web::auth::ReadCaller;

/// The TLPs whose directory and feed are announced in provider-metadata.json and service.json
/// (see the module docs for why the restricted ones are not).
const ANNOUNCED: [Tlp; 1] = [Tlp::White];

/// How far ahead security.txt's `Expires` lies (RFC 9116 recommends less than a year).
const SECURITY_TXT_VALIDITY_DAYS: i64 = 360;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // HEAD answers like GET without a body: mirrors and checkers probe with it.
    cfg.service(
        web::resource("/security.txt")
            .route(web::get().to(security_txt))
            .route(web::head().to(security_txt)),
    )
    .service(
        web::resource("/csaf/{tail:.*}")
            .route(web::get().to(csaf_file))
            .route(web::head().to(csaf_file)),
    );
}

/// The provider's identity from the configuration.
pub fn provider(config: &Config) -> Result<Provider, ServiceError> {
    Provider::new(
        &config.base_url,
        Publisher {
            name: config.publisher_name.clone(),
            namespace: config.publisher_namespace.clone(),
            category: "vendor".to_owned(),
        },
    )
    .map_err(ServiceError::internal)
}

/// A response body with what the caching headers need.
struct Reply {
    body: Vec<u8>,
    content_type: &'static str,
    /// A strong validator; `None` means "hash the body".
    etag: Option<String>,
    last_modified: Option<DateTime<Utc>>,
}

impl Reply {
    fn new(body: impl Into<Vec<u8>>, content_type: &'static str) -> Reply {
        Reply {
            body: body.into(),
            content_type,
            etag: None,
            last_modified: None,
        }
    }

    fn json(value: &serde_json::Value) -> Result<Reply, ServiceError> {
        let body = serde_json::to_vec_pretty(value).map_err(ServiceError::internal)?;
        Ok(Reply::new(body, "application/json"))
    }
}

const TEXT: &str = "text/plain; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";

async fn security_txt(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ServiceError> {
    let provider = provider(&state.config)?;
    // CSAF 7.1.8 and RFC 9116 want the CSAF line and the file itself on https; a plain-http
    // base URL (a loopback test) cannot produce a valid security.txt, and the well-known
    // provider-metadata.json (7.1.9) serves discovery alone.
    if !provider.base_url().starts_with("https://") {
        return Err(ServiceError::NotFound);
    }
    let body = herald_distribution::security_txt(
        &provider,
        &SecurityTxtInput {
            contacts: std::slice::from_ref(&state.config.security_contact),
            expires: expires_midnight(Utc::now()),
            policy_url: None,
            preferred_languages: &["en".to_owned()],
        },
    )
    .map_err(ServiceError::internal)?;
    Ok(respond(&req, Reply::new(body, TEXT)))
}

/// `now + SECURITY_TXT_VALIDITY_DAYS`, rounded down to midnight UTC so that the file (and its
/// ETag) stays the same all day.
fn expires_midnight(now: DateTime<Utc>) -> DateTime<Utc> {
    let day = (now + chrono::Duration::days(SECURITY_TXT_VALIDITY_DAYS)).date_naive();
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

async fn csaf_file(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ServiceError> {
    let tail = req.match_info().get("tail").unwrap_or_default();
    // `white` and `white/` are the same directory: answer both, never redirect.
    let resource = Resource::parse(tail)
        .or_else(|| {
            Resource::parse(&format!("{tail}/")).filter(|r| {
                matches!(
                    r,
                    Resource::TlpDirectory { .. } | Resource::YearDirectory { .. }
                )
            })
        })
        .ok_or(ServiceError::NotFound)?;
    let restricted = !resource.is_public();
    let announcing = matches!(
        resource,
        Resource::ProviderMetadata | Resource::ServiceDocument
    );
    if announcing && has_credentials(&req) {
        let caller = ReadCaller::extract(&req).await?;
        if caller.is_personal() {
            let (config, who) = (state.config.clone(), caller.reader.clone());
            let reply = state
                .db(move |conn| {
                    let feeds = announced_for(conn, &who)?;
                    render_announcement(conn, &config, &resource, &feeds)
                })
                .await?;
            let mut resp = respond(&req, reply);
            resp.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("private"),
            );
            resp.headers_mut().insert(
                header::VARY,
                header::HeaderValue::from_static("Authorization, Cookie"),
            );
            return Ok(resp);
        }
    }
    let mut reader = Reader::Anonymous;
    if restricted {
        let caller = ReadCaller::extract(&req).await?;
        if !caller.authenticated {
            return Err(ServiceError::Unauthorized);
        }
        let (who, what) = (caller.reader.clone(), resource.clone());
        let entitled = state.db(move |conn| may_access(conn, &who, &what)).await?;
        if !entitled {
            return Err(ServiceError::NotFound);
        }
        reader = caller.reader;
    }
    // Documents, sidecars and public files: from the serving cache (access is decided above).
    if let Some(mut resp) =
        super::serving_cache::serve(&req, &state, &resource, restricted, render_shared).await?
    {
        if announcing {
            // One value with the cached reply's own Accept-Encoding (gzip or not): some caches
            // read only the first Vary line.
            resp.headers_mut().insert(
                header::VARY,
                header::HeaderValue::from_static("accept-encoding, Authorization, Cookie"),
            );
        }
        return Ok(resp);
    }
    let config = state.config.clone();
    let reply = state
        .db(move |conn| render_for(conn, &config, &resource, &reader))
        .await?;
    let mut resp = respond(&req, reply);
    if restricted {
        // Per-caller content must not be served to others from a shared cache.
        resp.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("private"),
        );
    }
    Ok(resp)
}

/// Whether the request carries a credential that may widen what it is shown: a bearer token or
/// the portal's session cookie.
fn has_credentials(req: &HttpRequest) -> bool {
    req.headers().contains_key(header::AUTHORIZATION)
        || crate::web::auth::session_cookie(req).is_some_and(|c| !c.is_empty())
}

/// The TLPs whose feeds are announced to `reader`: WHITE, and GREEN and AMBER when it may open
/// their directories. RED is never distributed.
fn announced_for(conn: &mut DbConnection, reader: &Reader) -> Result<Vec<Tlp>, ServiceError> {
    let mut tlps = ANNOUNCED.to_vec();
    for tlp in [Tlp::Green, Tlp::Amber] {
        if herald_storage::entitlement::may_open_directory(conn, reader, tlp)? {
            tlps.push(tlp);
        }
    }
    Ok(tlps)
}

/// provider-metadata.json or service.json announcing the feeds of `feeds` (WHITE first; the
/// directory listed is always WHITE's alone).
fn render_announcement(
    conn: &mut DbConnection,
    config: &Config,
    resource: &Resource,
    feeds: &[Tlp],
) -> Result<Reply, ServiceError> {
    let provider = provider(config)?;
    let dist = |e: herald_distribution::DistributionError| ServiceError::internal(e);
    match resource {
        Resource::ProviderMetadata => {
            // First start with no key yet: create it now rather than announce no key.
            crate::publish::signing_key(conn, config)?;
            let keys = herald_storage::keys::list_signing_keys(conn)?;
            let fingerprints: Vec<String> = keys.iter().map(|k| k.fingerprint.clone()).collect();
            // The metadata changes with every publish and every key change.
            let last_updated = keys
                .iter()
                .flat_map(|k| [Some(k.created_at), k.retired_at])
                .flatten()
                .chain(herald_storage::advisories::last_published_at(conn)?)
                .max()
                .unwrap_or_else(Utc::now);
            let value = herald_distribution::provider_metadata(
                &provider,
                &MetadataInput {
                    directories: &ANNOUNCED,
                    feeds,
                    public_key_fingerprints: &fingerprints,
                    last_updated,
                    list_on_csaf_aggregators: true,
                    mirror_on_csaf_aggregators: true,
                },
            )
            .map_err(dist)?;
            Reply::json(&value)
        }
        Resource::ServiceDocument => {
            Reply::json(&herald_distribution::rolie_service(&provider, feeds).map_err(dist)?)
        }
        _ => Err(ServiceError::NotFound),
    }
}

/// The access decision for a restricted resource (the caller is authenticated): a document and
/// its sidecars when the entitlement rule lets `reader` read that advisory; the directory-level
/// files (listings, index, changes, feed, category) when `reader` may open the label's
/// directory at all, whose content [`render_for`] then limits to what `reader` may read.
fn may_access(
    conn: &mut DbConnection,
    reader: &Reader,
    resource: &Resource,
) -> Result<bool, ServiceError> {
    Ok(match resource {
        Resource::Document { tlp, path } | Resource::Sidecar { tlp, path, .. } => {
            herald_storage::entitlement::may_read_path(conn, reader, *tlp, path)?
        }
        other => match other.tlp() {
            Some(tlp) => herald_storage::entitlement::may_open_directory(conn, reader, tlp)?,
            None => true,
        },
    })
}

/// Builds the file `resource` names from storage as everyone may see it (public files and
/// documents). Access has been checked by the caller.
fn render(
    conn: &mut DbConnection,
    config: &Config,
    resource: &Resource,
) -> Result<Reply, ServiceError> {
    render_for(conn, config, resource, &Reader::Anonymous)
}

/// Builds the file `resource` names from storage for `reader`: listings, index, changes, feeds
/// and category documents list only the advisories `reader` may read. Access has been checked.
fn render_for(
    conn: &mut DbConnection,
    config: &Config,
    resource: &Resource,
    reader: &Reader,
) -> Result<Reply, ServiceError> {
    let provider = provider(config)?;
    let dist = |e: herald_distribution::DistributionError| ServiceError::internal(e);
    match resource {
        Resource::ProviderMetadata | Resource::ServiceDocument => {
            render_announcement(conn, config, resource, &ANNOUNCED)
        }
        Resource::PublicKey { fingerprint } => {
            let key = herald_storage::keys::public_key_by_fingerprint(conn, fingerprint)?
                .ok_or(ServiceError::NotFound)?;
            Ok(Reply::new(key, "application/pgp-keys"))
        }
        Resource::TlpDirectory { tlp } => {
            let entries = herald_storage::advisories::list_visible_documents(conn, *tlp, reader)?;
            let listing =
                herald_distribution::tlp_directory_entries(*tlp, &entries).map_err(dist)?;
            let dir = provider.directory_url(*tlp).map_err(dist)?;
            let title = format!("Index of {}", url_path(&dir));
            Ok(Reply::new(listing_html(&title, &dir, listing), HTML))
        }
        Resource::YearDirectory { tlp, year } => {
            let entries = herald_storage::advisories::list_visible_documents(conn, *tlp, reader)?;
            let listing =
                herald_distribution::year_directory_entries(*tlp, *year, &entries).map_err(dist)?;
            if listing.is_empty() {
                return Err(ServiceError::NotFound);
            }
            let dir = format!("{}{year}/", provider.directory_url(*tlp).map_err(dist)?);
            let title = format!("Index of {}", url_path(&dir));
            Ok(Reply::new(listing_html(&title, &dir, listing), HTML))
        }
        Resource::IndexTxt { tlp } => {
            let entries = herald_storage::advisories::list_visible_documents(conn, *tlp, reader)?;
            Ok(Reply::new(
                herald_distribution::index_txt(*tlp, &entries).map_err(dist)?,
                TEXT,
            ))
        }
        Resource::ChangesCsv { tlp } => {
            let entries = herald_storage::advisories::list_visible_documents(conn, *tlp, reader)?;
            Ok(Reply::new(
                herald_distribution::changes_csv(*tlp, &entries).map_err(dist)?,
                "text/csv; charset=utf-8",
            ))
        }
        Resource::Feed { tlp } => {
            let entries = herald_storage::advisories::list_visible_documents(conn, *tlp, reader)?;
            // When the feed last changed: its newest publish. Storage keeps one global
            // "last published", which is never earlier than that.
            let updated = if entries.is_empty() {
                DateTime::<Utc>::UNIX_EPOCH
            } else {
                herald_storage::advisories::last_published_at(conn)?.unwrap_or_else(Utc::now)
            };
            Reply::json(
                &herald_distribution::rolie_feed(&provider, *tlp, &entries, updated)
                    .map_err(dist)?,
            )
        }
        Resource::CategoryDocument { tlp } => {
            let mut summaries = Vec::new();
            let mut filter = AdvisoryFilter {
                text: None,
                reader: reader.clone(),
                tlp: Some(*tlp),
                limit: 1000,
                offset: 0,
                ..AdvisoryFilter::default()
            };
            loop {
                let page = herald_storage::advisories::list_advisories(conn, &filter)?;
                let n = page.items.len() as i64;
                summaries.extend(page.items.into_iter().map(|i| i.summary));
                filter.offset += n;
                if n == 0 || filter.offset >= page.total {
                    break;
                }
            }
            Reply::json(&herald_distribution::rolie_category(&summaries))
        }
        Resource::Document { tlp, path } => {
            let doc = current_document(conn, *tlp, path)?;
            Ok(Reply {
                etag: Some(doc.sha256.clone()),
                last_modified: Some(doc.release_date),
                body: doc.bytes,
                content_type: "application/json",
            })
        }
        Resource::Sidecar { tlp, path, kind } => {
            let doc = current_document(conn, *tlp, path)?;
            let (body, content_type) = match kind {
                Sidecar::Sha256 => (herald_distribution::hash_file(&doc.sha256, path), TEXT),
                Sidecar::Sha512 => (herald_distribution::hash_file(&doc.sha512, path), TEXT),
                Sidecar::Signature => (
                    doc.signature.clone().ok_or(ServiceError::NotFound)?,
                    "application/pgp-signature",
                ),
            };
            Ok(Reply {
                etag: Some(format!("{}{}", doc.sha256, kind.extension())),
                last_modified: Some(doc.release_date),
                body: body.into_bytes(),
                content_type,
            })
        }
    }
}

/// [`render`] for the serving cache: the same reply with its validator computed once.
fn render_shared(
    conn: &mut DbConnection,
    config: &Config,
    resource: &Resource,
) -> Result<super::serving_cache::CachedReply, ServiceError> {
    let reply = render(conn, config, resource)?;
    let etag = reply
        .etag
        .unwrap_or_else(|| hex::encode(Sha256::digest(&reply.body)));
    super::serving_cache::CachedReply::new(
        reply.body.into(),
        reply.content_type,
        etag,
        reply.last_modified,
    )
}

fn current_document(
    conn: &mut DbConnection,
    tlp: Tlp,
    path: &str,
) -> Result<herald_storage::advisories::StoredDocument, ServiceError> {
    herald_storage::advisories::get_document(conn, path)?
        // The path names the TLP directory; a document whose label differs is never served from
        // it (defence in depth: storage derives the path from the label).
        .filter(|d| d.tlp == tlp)
        .ok_or(ServiceError::NotFound)
}

/// The path part of an absolute URL, for listing titles.
fn url_path(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.path().to_owned())
        .unwrap_or_else(|_| url.to_owned())
}

/// The HTML listing with absolute links, so that it works whether the directory was requested
/// with or without its trailing slash.
fn listing_html(title: &str, dir_url: &str, entries: Vec<ListingEntry>) -> String {
    let entries: Vec<ListingEntry> = entries
        .into_iter()
        .map(|e| ListingEntry {
            href: format!("{dir_url}{}", e.href),
            name: e.name,
        })
        .collect();
    herald_distribution::directory_listing_html(title, &entries)
}

/// Writes the reply with CORS and caching headers, or 304 when the caller's copy is current.
fn respond(req: &HttpRequest, reply: Reply) -> HttpResponse {
    let tag = reply
        .etag
        .unwrap_or_else(|| hex::encode(Sha256::digest(&reply.body)));
    let etag = EntityTag::new_strong(tag);
    let unchanged = not_modified(req, etag.to_string().as_bytes(), reply.last_modified);
    let mut builder = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    builder.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"));
    builder.insert_header(header::ETag(etag));
    if let Some(modified) = reply.last_modified {
        builder.insert_header(header::LastModified(HttpDate::from(
            std::time::SystemTime::from(modified),
        )));
    }
    if unchanged {
        return builder.finish();
    }
    builder.content_type(reply.content_type).body(reply.body)
}

/// An entity tag without its `W/` marker(s).
fn strip_weak(mut tag: &[u8]) -> &[u8] {
    while let Some(rest) = tag.strip_prefix(b"W/") {
        tag = rest;
    }
    tag
}

/// RFC 9110 conditional GET: If-None-Match wins over If-Modified-Since (which is only honoured
/// where a Last-Modified exists). `etag` is our strong validator as sent, quotes included: the
/// serving cache passes its prepared header value, so a cache hit compares without formatting.
pub(super) fn not_modified(req: &HttpRequest, etag: &[u8], updated: Option<DateTime<Utc>>) -> bool {
    let headers = req.headers();
    // A value that is not visible ASCII matches nothing and counts as absent (If-Modified-Since
    // then decides).
    if let Some(v) = headers
        .get(header::IF_NONE_MATCH)
        .filter(|v| v.to_str().is_ok())
    {
        // Weak comparison (RFC 9110 13.1.2): a `W/` prefix on theirs does not matter.
        return v
            .as_bytes()
            .split(|b| *b == b',')
            .map(<[u8]>::trim_ascii)
            .any(|t| t == b"*" || strip_weak(t) == etag);
    }
    if let (Some(updated), Some(since)) = (
        updated,
        headers
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok()),
    ) {
        return updated.timestamp() <= since.timestamp();
    }
    false
}
