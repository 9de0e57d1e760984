//! The serving cache: rendered CSAF distribution replies (body bytes, ETag, Last-Modified,
//! content type) kept in memory so that a GET of a document answers without touching the
//! database. `distribution.rs` asks it only AFTER its access decision, and only for what is
//! identical for everyone allowed to see it:
//! * documents with their `.sha256`, `.sha512` and `.asc`, by document path, as ONE unit built
//!   from one stored revision, so a reader never gets a new document with an old signature;
//! * the public files (WHITE listings, index, changes, feed, category, provider metadata,
//!   service document, public keys) for requests that carry no credentials, since what a
//!   credentialed caller sees may be per caller.
//!
//! Invalidation:
//! * a publish in this process (and signing of old revisions) calls
//!   [`crate::published::note_local_change`]; every cache sees it on its next lookup and starts
//!   over (immediately, no polling);
//! * other Herald processes sharing the database are noticed by [`watch`], which polls
//!   [`herald_storage::advisories::publication_mark`] every [`POLL_INTERVAL`] (three tiny aggregate
//!   queries). Staleness after a publish in another process is therefore bounded by
//!   `POLL_INTERVAL` plus one query, about one second.
//!
//! A reply rendered from data read before an invalidation is never stored after it: each fill
//! remembers the cache's generation before reading and is dropped if the generation moved.
//!
//! A hit is the hot path of a CSAF provider (aggregators and hospitals poll every document), so
//! it does no work that could be done once: bodies are `Bytes` (serving clones a reference
//! count, not the document), the header values (ETag, Last-Modified, content type) are built
//! when the entry is filled, and the conditional-GET check compares bytes without formatting.
//! Most CSAF clients (Go's HTTP client in csaf_downloader, reqwest with gzip) ask for gzip: the
//! gzip body is made once, with the entry, rather than by the `Compress` middleware on every
//! request (which then leaves a reply with `Content-Encoding` alone); that cost several times the
//! rest of serving a document.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, AcceptEncoding, Encoding, Header as _, HeaderValue, HttpDate};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use herald_csaf::Tlp;
use herald_distribution::{Resource, Sidecar};
use herald_storage::{DbConnection, advisories::PublicationMark};

use crate::config::Config;
use crate::error::ServiceError;
use crate::published::local_changes;
use crate::state::AppState;

/// How often [`watch`] looks for publications by other processes: the staleness bound.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Above this many body bytes the cache starts over rather than grow (documents are at most
/// 10 MiB each; a provider's whole corpus is usually far smaller).
const MAX_BYTES: usize = 512 * 1024 * 1024;

/// One rendered reply with its headers ready to copy.
#[derive(Debug, Clone)]
pub struct CachedReply {
    pub body: Bytes,
    pub content_type: HeaderValue,
    /// The strong validator as sent, quotes included.
    etag_header: HeaderValue,
    /// The validator of the gzip representation: a strong ETag names exact bytes, and the gzip
    /// body is other bytes (RFC 9110 8.8.3), so it gets its own.
    gzip_etag_header: HeaderValue,
    pub last_modified: Option<DateTime<Utc>>,
    last_modified_header: Option<HeaderValue>,
    /// `body` gzip-compressed, for callers that accept gzip.
    gzip: Bytes,
}

impl CachedReply {
    /// `etag` is the strong validator without quotes.
    pub fn new(
        body: Bytes,
        content_type: &'static str,
        etag: String,
        last_modified: Option<DateTime<Utc>>,
    ) -> Result<CachedReply, ServiceError> {
        let etag_header =
            HeaderValue::from_str(&format!("\"{etag}\"")).map_err(ServiceError::internal)?;
        let gzip_etag_header =
            HeaderValue::from_str(&format!("\"{etag}-gzip\"")).map_err(ServiceError::internal)?;
        let last_modified_header = last_modified
            .map(|m| {
                HeaderValue::from_str(&HttpDate::from(std::time::SystemTime::from(m)).to_string())
            })
            .transpose()
            .map_err(ServiceError::internal)?;
        let gzip = gzip(&body)?;
        Ok(CachedReply {
            body,
            gzip,
            content_type: HeaderValue::from_static(content_type),
            etag_header,
            gzip_etag_header,
            last_modified,
            last_modified_header,
        })
    }

    /// Body bytes held, both encodings.
    fn bytes(&self) -> usize {
        self.body.len() + self.gzip.len()
    }

    /// The response: 200 with the body, or 304 when the caller's copy is current. CORS and
    /// caching headers as `distribution.rs` writes them. Built directly from the prepared
    /// header values (cloning a `HeaderValue` is a reference count, like the body).
    pub fn respond(&self, req: &HttpRequest) -> HttpResponse {
        let gzipped = wants_gzip(req);
        let etag = if gzipped {
            &self.gzip_etag_header
        } else {
            &self.etag_header
        };
        let unchanged = super::distribution::not_modified(req, etag.as_bytes(), self.last_modified);
        let mut resp = if unchanged {
            HttpResponse::new(StatusCode::NOT_MODIFIED)
        } else {
            let body = if gzipped { &self.gzip } else { &self.body };
            HttpResponse::with_body(StatusCode::OK, body.clone()).map_into_boxed_body()
        };
        let headers = resp.headers_mut();
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if gzipped && !unchanged {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        headers.insert(header::ETAG, etag.clone());
        if let Some(m) = &self.last_modified_header {
            headers.insert(header::LAST_MODIFIED, m.clone());
        }
        if !unchanged {
            headers.insert(header::CONTENT_TYPE, self.content_type.clone());
        }
        resp
    }
}

/// `body` gzip-compressed (the default level: made once per cache entry).
fn gzip(body: &[u8]) -> Result<Bytes, ServiceError> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4 + 64),
        flate2::Compression::default(),
    );
    encoder.write_all(body).map_err(ServiceError::internal)?;
    Ok(Bytes::from(
        encoder.finish().map_err(ServiceError::internal)?,
    ))
}

/// Whether the caller gets the gzip body: the `Compress` middleware's own negotiation over what
/// it supports (gzip, deflate, identity) chose gzip. A caller preferring deflate is left to the
/// middleware, as before; without an Accept-Encoding header nothing is compressed.
fn wants_gzip(req: &HttpRequest) -> bool {
    const SUPPORTED: [Encoding; 3] = [Encoding::gzip(), Encoding::deflate(), Encoding::identity()];
    if !req.headers().contains_key(header::ACCEPT_ENCODING) {
        return false;
    }
    AcceptEncoding::parse(req)
        .ok()
        .and_then(|accept| accept.negotiate(SUPPORTED.iter()))
        .is_some_and(|chosen| chosen == Encoding::gzip())
}

/// A document and its sidecars from one stored revision.
#[derive(Debug)]
pub struct DocumentUnit {
    pub tlp: Tlp,
    pub document: CachedReply,
    pub sha256: CachedReply,
    pub sha512: CachedReply,
    pub signature: Option<CachedReply>,
}

impl DocumentUnit {
    /// Reads the current revision at `path` (below `/.well-known/csaf/`) and renders the
    /// document and every sidecar from it.
    pub fn load(conn: &mut DbConnection, path: &str) -> Result<DocumentUnit, ServiceError> {
        let doc =
            herald_storage::advisories::get_document(conn, path)?.ok_or(ServiceError::NotFound)?;
        let modified = Some(doc.release_date);
        let sidecar = |kind: Sidecar, body: String, content_type| {
            CachedReply::new(
                Bytes::from(body),
                content_type,
                format!("{}{}", doc.sha256, kind.extension()),
                modified,
            )
        };
        const TEXT: &str = "text/plain; charset=utf-8";
        Ok(DocumentUnit {
            tlp: doc.tlp,
            sha256: sidecar(
                Sidecar::Sha256,
                herald_distribution::hash_file(&doc.sha256, path),
                TEXT,
            )?,
            sha512: sidecar(
                Sidecar::Sha512,
                herald_distribution::hash_file(&doc.sha512, path),
                TEXT,
            )?,
            signature: doc
                .signature
                .clone()
                .map(|s| sidecar(Sidecar::Signature, s, "application/pgp-signature"))
                .transpose()?,
            document: CachedReply::new(
                Bytes::from(doc.bytes),
                "application/json",
                doc.sha256.clone(),
                modified,
            )?,
        })
    }

    fn reply(&self, resource: &Resource) -> Option<&CachedReply> {
        match resource {
            Resource::Document { .. } => Some(&self.document),
            Resource::Sidecar { kind, .. } => match kind {
                Sidecar::Sha256 => Some(&self.sha256),
                Sidecar::Sha512 => Some(&self.sha512),
                Sidecar::Signature => self.signature.as_ref(),
            },
            _ => None,
        }
    }

    fn bytes(&self) -> usize {
        self.document.bytes()
            + self.sha256.bytes()
            + self.sha512.bytes()
            + self.signature.as_ref().map_or(0, CachedReply::bytes)
    }
}

#[derive(Debug, Clone)]
enum Entry {
    Document(Arc<DocumentUnit>),
    File(Arc<CachedReply>),
}

impl Entry {
    fn bytes(&self) -> usize {
        match self {
            Entry::Document(d) => d.bytes(),
            Entry::File(f) => f.bytes(),
        }
    }
}

#[derive(Default)]
struct Entries {
    map: HashMap<String, Entry>,
    bytes: usize,
}

/// The cache; one per application state (see `AppState::serving`).
#[derive(Default)]
pub struct ServingCache {
    /// Moves on every invalidation; fills started before it moved are dropped.
    generation: AtomicU64,
    /// The value of [`local_changes`] this cache last caught up with.
    seen_local: AtomicU64,
    entries: RwLock<Entries>,
    /// The last database mark [`watch`] saw.
    mark: Mutex<Option<PublicationMark>>,
}

impl std::fmt::Debug for ServingCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServingCache")
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl ServingCache {
    pub fn new() -> ServingCache {
        ServingCache {
            seen_local: AtomicU64::new(local_changes()),
            ..ServingCache::default()
        }
    }

    /// Drops every entry.
    pub fn invalidate(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.map.clear();
        entries.bytes = 0;
    }

    /// Catches up with local changes; returns the generation a fill starting now must carry.
    fn current_generation(&self) -> u64 {
        let local = local_changes();
        if self.seen_local.load(Ordering::Acquire) != local {
            self.invalidate();
            self.seen_local.store(local, Ordering::Release);
        }
        self.generation.load(Ordering::Acquire)
    }

    fn get(&self, key: &str) -> Option<Entry> {
        self.current_generation();
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.map.get(key).cloned()
    }

    /// Stores `entry` unless the cache was invalidated since `generation` was taken.
    fn insert(&self, generation: u64, key: String, entry: Entry) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if local_changes() != self.seen_local.load(Ordering::Acquire)
            || self.generation.load(Ordering::Acquire) != generation
        {
            return;
        }
        let size = entry.bytes() + key.len();
        if entries.bytes + size > MAX_BYTES {
            entries.map.clear();
            entries.bytes = 0;
        }
        entries.bytes += size;
        if let Some(old) = entries.map.insert(key, entry) {
            entries.bytes = entries.bytes.saturating_sub(old.bytes());
        }
    }

    /// How many entries are held (tests and metrics).
    pub fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .map
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Compares the database's publication mark with the last one seen and invalidates when
    /// it moved (or on the first look). Returns whether it did. [`watch`] calls it every [`POLL_INTERVAL`].
    pub async fn poll(&self, state: &AppState) -> Result<bool, ServiceError> {
        let mark = state
            .db(|conn| Ok(herald_storage::advisories::publication_mark(conn)?))
            .await?;
        let mut last = self.mark.lock().unwrap_or_else(|e| e.into_inner());
        // The first look invalidates too: entries filled before it have no mark to compare.
        let moved = *last != Some(mark);
        *last = Some(mark);
        drop(last);
        if moved {
            self.invalidate();
        }
        Ok(moved)
    }
}

/// Polls the database for publications by other processes until `stop` turns true. `herald
/// serve` runs it beside the web server.
pub async fn watch(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if let Err(e) = state.serving.poll(&state).await {
            // The next poll retries; until then the cache may serve what it holds.
            tracing::warn!(error = %e, "serving cache: could not read the publication mark");
        }
    }
}

/// Whether a request carries credentials (then public files are rendered for it, not shared).
fn has_credentials(req: &HttpRequest) -> bool {
    req.headers().contains_key(header::AUTHORIZATION) || req.headers().contains_key(header::COOKIE)
}

/// Renders a non-document resource for the cache.
pub type Render = fn(&mut DbConnection, &Config, &Resource) -> Result<CachedReply, ServiceError>;

/// Answers `resource` from the cache (filling it on a miss) when it is shared; `None` means the
/// caller renders it itself. Access must have been decided already. `restricted` replies are
/// marked `Cache-Control: private`.
pub async fn serve(
    req: &HttpRequest,
    state: &AppState,
    resource: &Resource,
    restricted: bool,
    render: Render,
) -> Result<Option<HttpResponse>, ServiceError> {
    let cache = &state.serving;
    let mut resp = match resource {
        Resource::Document { tlp, path } | Resource::Sidecar { tlp, path, .. } => {
            let unit = match cache.get(path) {
                Some(Entry::Document(unit)) => unit,
                _ => {
                    let generation = cache.current_generation();
                    let p = path.clone();
                    let unit = Arc::new(state.db(move |conn| DocumentUnit::load(conn, &p)).await?);
                    cache.insert(generation, path.clone(), Entry::Document(unit.clone()));
                    unit
                }
            };
            // The path names the TLP directory; a document whose label differs is never
            // served from it (storage derives the path from the label).
            if unit.tlp != *tlp {
                return Err(ServiceError::NotFound);
            }
            unit.reply(resource)
                .ok_or(ServiceError::NotFound)?
                .respond(req)
        }
        _ if !restricted && !has_credentials(req) => {
            let key = format!("{resource:?}");
            let reply = match cache.get(&key) {
                Some(Entry::File(reply)) => reply,
                _ => {
                    let generation = cache.current_generation();
                    let config = state.config.clone();
                    let r = resource.clone();
                    let reply = Arc::new(state.db(move |conn| render(conn, &config, &r)).await?);
                    cache.insert(generation, key, Entry::File(reply.clone()));
                    reply
                }
            };
            reply.respond(req)
        }
        _ => return Ok(None),
    };
    if restricted {
        // Per-caller content must not be served to others from a shared cache.
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    }
    Ok(Some(resp))
}
