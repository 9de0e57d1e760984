//! The in-process signal that what the CSAF provider serves has changed. The publish path (and
//! the signing of old revisions) raises it after its transaction commits; readers that keep
//! rendered replies (the web layer's serving cache) compare the counter on every lookup and
//! start over when it moved. It lives here, below the service and web layers, so that publishing
//! does not call up into the web adapter that happens to cache. Other processes sharing the
//! database are noticed through `herald_storage::advisories::publication_mark` instead.

use std::sync::atomic::{AtomicU64, Ordering};

/// Bumped by every local change to what the provider serves.
static LOCAL_CHANGES: AtomicU64 = AtomicU64::new(0);

/// Tells every reader in this process that published data changed (call after the change is
/// committed).
pub fn note_local_change() {
    LOCAL_CHANGES.fetch_add(1, Ordering::AcqRel);
}

/// How many local changes there have been: a reader that remembers it can tell whether anything
/// changed since.
pub fn local_changes() -> u64 {
    LOCAL_CHANGES.load(Ordering::Acquire)
}
