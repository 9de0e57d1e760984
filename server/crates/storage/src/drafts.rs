//! Advisory authoring storage: drafts (the form's content as JSON, its life cycle
//! draft → submitted → published, or discarded), the per-organization settings an admin changes
//! (the four-eyes rule), and the counters that number new tracking ids.
//!
//! Storage does not read the draft JSON (the authoring model lives in `herald_csaf::authoring`).
//! Every change is audited in the same transaction. Publishing itself is the one publish path
//! (`herald_storage::advisories::publish` via the server's `publish_document`); the caller runs it inside
//! one transaction with [`check_draft_base`] and [`mark_draft_published`], so a stale draft
//! never publishes and a published draft is never left open.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::json;

use crate::schema::{advisories, drafts, organization_settings, tracking_counters};
use crate::{
    DbConnection, StorageError, audit::append_audit, from_json, from_micros, new_id, now, to_json,
    to_micros, write_transaction,
};

crate::accounts::string_enum!(
    /// Where a draft is in its life.
    DraftState {
        Draft = "draft",
        Submitted = "submitted",
        Published = "published",
        Discarded = "discarded",
    }
);

impl DraftState {
    /// A draft in this state can still be edited, submitted or published.
    pub fn is_open(self) -> bool {
        matches!(self, DraftState::Draft | DraftState::Submitted)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredDraft {
    pub id: String,
    pub manufacturer_org_id: String,
    pub tracking_id: String,
    /// The advisory this draft updates (`advisories.id`), if any.
    pub advisory_id: Option<String>,
    /// The advisory's version the update was started from.
    pub base_version: Option<String>,
    pub draft: serde_json::Value,
    pub state: DraftState,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    pub submitted_at: Option<DateTime<Utc>>,
    pub submitted_by: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub published_by: Option<String>,
    pub published_version: Option<String>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = drafts)]
struct DraftRow {
    id: String,
    manufacturer_org_id: String,
    tracking_id: String,
    advisory_id: Option<String>,
    base_version: Option<String>,
    draft_json: String,
    state: String,
    created_at: i64,
    created_by: String,
    updated_at: i64,
    updated_by: String,
    submitted_at: Option<i64>,
    submitted_by: Option<String>,
    published_at: Option<i64>,
    published_by: Option<String>,
    published_version: Option<String>,
}

impl DraftRow {
    fn into_model(self) -> Result<StoredDraft, StorageError> {
        Ok(StoredDraft {
            draft: from_json("drafts.draft_json", &self.draft_json)?,
            state: self
                .state
                .parse()
                .map_err(|_| StorageError::Corrupt(format!("drafts.state: {:?}", self.state)))?,
            id: self.id,
            manufacturer_org_id: self.manufacturer_org_id,
            tracking_id: self.tracking_id,
            advisory_id: self.advisory_id,
            base_version: self.base_version,
            created_at: from_micros(self.created_at),
            created_by: self.created_by,
            updated_at: from_micros(self.updated_at),
            updated_by: self.updated_by,
            submitted_at: self.submitted_at.map(from_micros),
            submitted_by: self.submitted_by,
            published_at: self.published_at.map(from_micros),
            published_by: self.published_by,
            published_version: self.published_version,
        })
    }
}

/// A new draft. For an update of a published advisory, `advisory_id` and `base_version` name the
/// advisory and the version the draft starts from.
#[derive(Debug, Clone)]
pub struct NewDraft<'a> {
    pub manufacturer_org_id: &'a str,
    pub tracking_id: &'a str,
    pub advisory_id: Option<&'a str>,
    pub base_version: Option<&'a str>,
    pub draft: &'a serde_json::Value,
    pub actor: &'a str,
}

fn subject(id: &str) -> String {
    format!("draft:{id}")
}

pub fn create_draft(
    conn: &mut DbConnection,
    new: &NewDraft<'_>,
) -> Result<StoredDraft, StorageError> {
    if new.tracking_id.trim().is_empty() {
        return Err(StorageError::Invalid("tracking id is empty".into()));
    }
    if new.advisory_id.is_some() != new.base_version.is_some() {
        return Err(StorageError::Invalid(
            "an update draft needs both the advisory and its base version".into(),
        ));
    }
    let at = to_micros(now());
    let row = DraftRow {
        id: new_id(),
        manufacturer_org_id: new.manufacturer_org_id.to_string(),
        tracking_id: new.tracking_id.to_string(),
        advisory_id: new.advisory_id.map(str::to_string),
        base_version: new.base_version.map(str::to_string),
        draft_json: to_json(new.draft)?,
        state: DraftState::Draft.as_str().to_string(),
        created_at: at,
        created_by: new.actor.to_string(),
        updated_at: at,
        updated_by: new.actor.to_string(),
        submitted_at: None,
        submitted_by: None,
        published_at: None,
        published_by: None,
        published_version: None,
    };
    write_transaction(conn, |conn| {
        diesel::insert_into(drafts::table)
            .values(&row)
            .execute(conn)?;
        append_audit(
            conn,
            new.actor,
            "draft.create",
            &subject(&row.id),
            &json!({
                "tracking_id": row.tracking_id,
                "advisory_id": row.advisory_id,
                "base_version": row.base_version,
            }),
        )?;
        load(conn, new.manufacturer_org_id, &row.id)?.ok_or(StorageError::NotFound)
    })
}

fn load(
    conn: &mut DbConnection,
    org_id: &str,
    id: &str,
) -> Result<Option<StoredDraft>, StorageError> {
    drafts::table
        .filter(drafts::id.eq(id))
        .filter(drafts::manufacturer_org_id.eq(org_id))
        .select(DraftRow::as_select())
        .first(conn)
        .optional()?
        .map(DraftRow::into_model)
        .transpose()
}

/// One draft of the organization (another organization's draft is `None`, like a missing one).
pub fn get_draft(
    conn: &mut DbConnection,
    org_id: &str,
    id: &str,
) -> Result<Option<StoredDraft>, StorageError> {
    load(conn, org_id, id)
}

/// The organization's drafts, most recently changed first; `open_only` leaves out published and
/// discarded ones.
pub fn list_drafts(
    conn: &mut DbConnection,
    org_id: &str,
    open_only: bool,
) -> Result<Vec<StoredDraft>, StorageError> {
    let mut query = drafts::table
        .filter(drafts::manufacturer_org_id.eq(org_id))
        .select(DraftRow::as_select())
        .order((drafts::updated_at.desc(), drafts::id.desc()))
        .limit(1000)
        .into_boxed();
    if open_only {
        query = query.filter(
            drafts::state.eq_any([DraftState::Draft.as_str(), DraftState::Submitted.as_str()]),
        );
    }
    query
        .load(conn)?
        .into_iter()
        .map(DraftRow::into_model)
        .collect()
}

fn open_draft(
    conn: &mut DbConnection,
    org_id: &str,
    id: &str,
) -> Result<StoredDraft, StorageError> {
    let draft = load(conn, org_id, id)?.ok_or(StorageError::NotFound)?;
    if !draft.state.is_open() {
        return Err(StorageError::Conflict(format!(
            "draft {id} is {}; it can no longer be changed",
            draft.state
        )));
    }
    Ok(draft)
}

/// Replaces the content of an open draft. A submitted draft goes back to `draft`: what an
/// approver approves is what was submitted, so an edit needs a new submission.
pub fn update_draft(
    conn: &mut DbConnection,
    org_id: &str,
    id: &str,
    draft: &serde_json::Value,
    actor: &str,
) -> Result<StoredDraft, StorageError> {
    let text = to_json(draft)?;
    write_transaction(conn, |conn| {
        let before = open_draft(conn, org_id, id)?;
        diesel::update(drafts::table.find(id))
            .set((
                drafts::draft_json.eq(&text),
                drafts::state.eq(DraftState::Draft.as_str()),
                drafts::updated_at.eq(to_micros(now())),
                drafts::updated_by.eq(actor),
                drafts::submitted_at.eq(None::<i64>),
                drafts::submitted_by.eq(None::<String>),
            ))
            .execute(conn)?;
        append_audit(
            conn,
            actor,
            "draft.update",
            &subject(id),
            &json!({"tracking_id": before.tracking_id, "was": before.state.as_str()}),
        )?;
        load(conn, org_id, id)?.ok_or(StorageError::NotFound)
    })
}

/// Submits an open draft for approval (a submitted draft stays submitted).
pub fn submit_draft(
    conn: &mut DbConnection,
    org_id: &str,
    id: &str,
    actor: &str,
) -> Result<StoredDraft, StorageError> {
    write_transaction(conn, |conn| {
        let before = open_draft(conn, org_id, id)?;
        let at = to_micros(now());
        diesel::update(drafts::table.find(id))
            .set((
                drafts::state.eq(DraftState::Submitted.as_str()),
                drafts::submitted_at.eq(Some(at)),
                drafts::submitted_by.eq(Some(actor)),
            ))
            .execute(conn)?;
        append_audit(
            conn,
            actor,
            "draft.submit",
            &subject(id),
            &json!({"tracking_id": before.tracking_id}),
        )?;
        load(conn, org_id, id)?.ok_or(StorageError::NotFound)
    })
}

/// Discards an open draft (kept for the record, no longer editable).
pub fn discard_draft(
    conn: &mut DbConnection,
    org_id: &str,
    id: &str,
    actor: &str,
) -> Result<StoredDraft, StorageError> {
    write_transaction(conn, |conn| {
        let before = open_draft(conn, org_id, id)?;
        diesel::update(drafts::table.find(id))
            .set((
                drafts::state.eq(DraftState::Discarded.as_str()),
                drafts::updated_at.eq(to_micros(now())),
                drafts::updated_by.eq(actor),
            ))
            .execute(conn)?;
        append_audit(
            conn,
            actor,
            "draft.discard",
            &subject(id),
            &json!({"tracking_id": before.tracking_id}),
        )?;
        load(conn, org_id, id)?.ok_or(StorageError::NotFound)
    })
}

/// Refuses ([`StorageError::Conflict`]) to publish a draft whose base is gone: an update whose
/// advisory moved past the version it was started from, or a new advisory whose tracking id
/// meanwhile exists (imported or published by another draft).
pub fn check_draft_base(conn: &mut DbConnection, draft: &StoredDraft) -> Result<(), StorageError> {
    match (&draft.advisory_id, &draft.base_version) {
        (Some(advisory_id), Some(base)) => {
            let current: String = advisories::table
                .find(advisory_id)
                .select(advisories::current_version)
                .first(conn)?;
            if &current != base {
                return Err(StorageError::Conflict(format!(
                    "advisory {} is now at version {current}, but this draft was started from version {base}; start a new update from the current version",
                    draft.tracking_id
                )));
            }
        }
        _ => {
            let exists: i64 = advisories::table
                .filter(advisories::tracking_id.eq(&draft.tracking_id))
                .count()
                .get_result(conn)?;
            if exists > 0 {
                return Err(StorageError::Conflict(format!(
                    "advisory {} was published meanwhile; start an update from it instead",
                    draft.tracking_id
                )));
            }
        }
    }
    Ok(())
}

/// Marks an open draft published as `version` by `actor`. Run it in the transaction that
/// published the document; a draft that is no longer open (a concurrent publication) is a
/// conflict and rolls that transaction back.
pub fn mark_draft_published(
    conn: &mut DbConnection,
    org_id: &str,
    id: &str,
    version: &str,
    actor: &str,
) -> Result<StoredDraft, StorageError> {
    write_transaction(conn, |conn| {
        let at = to_micros(now());
        let changed = diesel::update(
            drafts::table
                .filter(drafts::id.eq(id))
                .filter(drafts::manufacturer_org_id.eq(org_id))
                .filter(
                    drafts::state
                        .eq_any([DraftState::Draft.as_str(), DraftState::Submitted.as_str()]),
                ),
        )
        .set((
            drafts::state.eq(DraftState::Published.as_str()),
            drafts::published_at.eq(Some(at)),
            drafts::published_by.eq(Some(actor)),
            drafts::published_version.eq(Some(version)),
        ))
        .execute(conn)?;
        if changed != 1 {
            return Err(StorageError::Conflict(format!(
                "draft {id} is no longer open (published or discarded meanwhile)"
            )));
        }
        let draft = load(conn, org_id, id)?.ok_or(StorageError::NotFound)?;
        append_audit(
            conn,
            actor,
            "draft.publish",
            &subject(id),
            &json!({
                "tracking_id": draft.tracking_id,
                "version": version,
                "created_by": draft.created_by,
                "updated_by": draft.updated_by,
                "submitted_by": draft.submitted_by,
            }),
        )?;
        Ok(draft)
    })
}

// ---------------------------------------------------------------------------------------------
// organization settings

/// Whether the four-eyes rule is on for the organization (off unless an admin turned it on).
pub fn four_eyes(conn: &mut DbConnection, org_id: &str) -> Result<bool, StorageError> {
    Ok(organization_settings::table
        .find(org_id)
        .select(organization_settings::four_eyes)
        .first(conn)
        .optional()?
        .unwrap_or(false))
}

/// Turns the four-eyes rule on or off (audited as `organization.four_eyes`).
pub fn set_four_eyes(
    conn: &mut DbConnection,
    org_id: &str,
    on: bool,
    actor: &str,
) -> Result<(), StorageError> {
    write_transaction(conn, |conn| {
        let at = to_micros(now());
        let before = four_eyes(conn, org_id)?;
        let updated = diesel::update(organization_settings::table.find(org_id))
            .set((
                organization_settings::four_eyes.eq(on),
                organization_settings::updated_at.eq(at),
                organization_settings::updated_by.eq(actor),
            ))
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(organization_settings::table)
                .values((
                    organization_settings::org_id.eq(org_id),
                    organization_settings::four_eyes.eq(on),
                    organization_settings::updated_at.eq(at),
                    organization_settings::updated_by.eq(actor),
                ))
                .execute(conn)?;
        }
        append_audit(
            conn,
            actor,
            "organization.four_eyes",
            &format!("organization:{org_id}"),
            &json!({"from": before, "to": on}),
        )
    })
}

// ---------------------------------------------------------------------------------------------
// tracking ids

/// Whether an advisory or a draft already uses `tracking_id`.
pub fn tracking_id_taken(conn: &mut DbConnection, tracking_id: &str) -> Result<bool, StorageError> {
    let advisories: i64 = advisories::table
        .filter(advisories::tracking_id.eq(tracking_id))
        .count()
        .get_result(conn)?;
    let drafts: i64 = drafts::table
        .filter(drafts::tracking_id.eq(tracking_id))
        .count()
        .get_result(conn)?;
    Ok(advisories + drafts > 0)
}

/// Hands out the next unused tracking id `<prefix>-<year>-<NNNN>` (four digits at least). The
/// counter row is locked by its update until the caller's transaction ends, so concurrent
/// callers get different numbers on both backends; numbers an imported advisory already uses are
/// skipped.
pub fn allocate_tracking_id(
    conn: &mut DbConnection,
    prefix: &str,
    year: i32,
) -> Result<String, StorageError> {
    if prefix.is_empty() {
        return Err(StorageError::Invalid("tracking id prefix is empty".into()));
    }
    write_transaction(conn, |conn| {
        let row = (
            tracking_counters::prefix.eq(prefix),
            tracking_counters::year.eq(year),
            tracking_counters::last_number.eq(0),
        );
        // diesel's multi-backend connection has no ON CONFLICT, so each backend runs it natively.
        match conn {
            DbConnection::Sqlite(c) => diesel::insert_into(tracking_counters::table)
                .values(row)
                .on_conflict((tracking_counters::prefix, tracking_counters::year))
                .do_nothing()
                .execute(c)?,
            DbConnection::Postgres(c) => diesel::insert_into(tracking_counters::table)
                .values(row)
                .on_conflict((tracking_counters::prefix, tracking_counters::year))
                .do_nothing()
                .execute(c)?,
        };
        loop {
            diesel::update(tracking_counters::table.find((prefix, year)))
                .set(tracking_counters::last_number.eq(tracking_counters::last_number + 1))
                .execute(conn)?;
            let n: i32 = tracking_counters::table
                .find((prefix, year))
                .select(tracking_counters::last_number)
                .first(conn)?;
            let id = format!("{prefix}-{year}-{n:04}");
            if !tracking_id_taken(conn, &id)? {
                return Ok(id);
            }
        }
    })
}
