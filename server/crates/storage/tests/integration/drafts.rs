//! Draft storage on both backends: life cycle, organization scoping, the stale-base check,
//! tracking-id allocation and the audited four-eyes setting.

use anyhow::{Result, ensure};
use herald_storage::testing::{TestDb, manufacturer, publish_sample, sample_summary};
use herald_storage::{
    StorageError, accounts::OrgKind, both_backends, drafts::DraftState, drafts::NewDraft,
};
use serde_json::json;

fn life_cycle_and_scoping(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let org = manufacturer(&mut conn)?;
    let other = herald_storage::accounts::create_organization(
        &mut conn,
        OrgKind::Manufacturer,
        "Other Maker",
        "other",
    )?;
    let content = json!({"title": "first"});
    let d = herald_storage::drafts::create_draft(
        &mut conn,
        &NewDraft {
            manufacturer_org_id: &org.id,
            tracking_id: "LARK-2026-0001",
            advisory_id: None,
            base_version: None,
            draft: &content,
            actor: "user:a",
        },
    )?;
    ensure!(d.state == DraftState::Draft && d.draft == content);
    ensure!(herald_storage::drafts::get_draft(&mut conn, &other.id, &d.id)?.is_none());
    let s = herald_storage::drafts::submit_draft(&mut conn, &org.id, &d.id, "user:a")?;
    ensure!(s.state == DraftState::Submitted && s.submitted_by.as_deref() == Some("user:a"));
    // An edit after submission needs a new submission.
    let e = herald_storage::drafts::update_draft(
        &mut conn,
        &org.id,
        &d.id,
        &json!({"title": "2"}),
        "user:b",
    )?;
    ensure!(e.state == DraftState::Draft && e.updated_by == "user:b" && e.submitted_by.is_none());
    ensure!(e.created_by == "user:a");
    let p = herald_storage::drafts::mark_draft_published(&mut conn, &org.id, &d.id, "1", "user:c")?;
    ensure!(p.state == DraftState::Published && p.published_version.as_deref() == Some("1"));
    // Closed: no edit, no second publication.
    ensure!(matches!(
        herald_storage::drafts::update_draft(&mut conn, &org.id, &d.id, &content, "user:a"),
        Err(StorageError::Conflict(_))
    ));
    ensure!(matches!(
        herald_storage::drafts::mark_draft_published(&mut conn, &org.id, &d.id, "1", "user:c"),
        Err(StorageError::Conflict(_))
    ));
    ensure!(herald_storage::drafts::list_drafts(&mut conn, &org.id, true)?.is_empty());
    ensure!(herald_storage::drafts::list_drafts(&mut conn, &org.id, false)?.len() == 1);
    ensure!(herald_storage::drafts::list_drafts(&mut conn, &other.id, false)?.is_empty());
    let audit = herald_storage::audit::list_audit(&mut conn, Some(&format!("draft:{}", d.id)), 10)?;
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    for a in [
        "draft.create",
        "draft.submit",
        "draft.update",
        "draft.publish",
    ] {
        ensure!(actions.contains(&a), "{a} not audited: {actions:?}");
    }
    Ok(())
}

fn stale_base_is_a_conflict(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let org = manufacturer(&mut conn)?;
    let v1 = sample_summary(
        "LARK-2026-0007",
        &[("1", "2026-01-01T00:00:00Z")],
        None,
        &[],
    );
    publish_sample(&mut conn, &org.id, &v1)?;
    let advisory =
        herald_storage::advisories::get_advisory(&mut conn, "LARK-2026-0007")?.expect("advisory");
    let update = herald_storage::drafts::create_draft(
        &mut conn,
        &NewDraft {
            manufacturer_org_id: &org.id,
            tracking_id: "LARK-2026-0007",
            advisory_id: Some(&advisory.id),
            base_version: Some("1"),
            draft: &json!({}),
            actor: "user:a",
        },
    )?;
    herald_storage::drafts::check_draft_base(&mut conn, &update)?;
    let v2 = sample_summary(
        "LARK-2026-0007",
        &[("1", "2026-01-01T00:00:00Z"), ("2", "2026-02-01T00:00:00Z")],
        None,
        &[],
    );
    publish_sample(&mut conn, &org.id, &v2)?;
    match herald_storage::drafts::check_draft_base(&mut conn, &update) {
        Err(StorageError::Conflict(m)) => ensure!(m.contains("version 2"), "{m}"),
        other => anyhow::bail!("stale base not refused: {other:?}"),
    }
    // A new-advisory draft whose tracking id got published meanwhile is stale too.
    let fresh = herald_storage::drafts::create_draft(
        &mut conn,
        &NewDraft {
            manufacturer_org_id: &org.id,
            tracking_id: "LARK-2026-0007",
            advisory_id: None,
            base_version: None,
            draft: &json!({}),
            actor: "user:a",
        },
    )?;
    ensure!(matches!(
        herald_storage::drafts::check_draft_base(&mut conn, &fresh),
        Err(StorageError::Conflict(_))
    ));
    Ok(())
}

fn tracking_ids_are_unique(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let org = manufacturer(&mut conn)?;
    // An imported advisory already uses number 2: it is skipped.
    let imported = sample_summary(
        "LARK-2026-0002",
        &[("1", "2026-01-01T00:00:00Z")],
        None,
        &[],
    );
    publish_sample(&mut conn, &org.id, &imported)?;
    let a = herald_storage::drafts::allocate_tracking_id(&mut conn, "LARK", 2026)?;
    ensure!(a == "LARK-2026-0001", "{a}");
    herald_storage::drafts::create_draft(
        &mut conn,
        &NewDraft {
            manufacturer_org_id: &org.id,
            tracking_id: &a,
            advisory_id: None,
            base_version: None,
            draft: &json!({}),
            actor: "user:a",
        },
    )?;
    let b = herald_storage::drafts::allocate_tracking_id(&mut conn, "LARK", 2026)?;
    ensure!(b == "LARK-2026-0003", "{b}");
    let c = herald_storage::drafts::allocate_tracking_id(&mut conn, "LARK", 2027)?;
    ensure!(c == "LARK-2027-0001", "{c}");
    Ok(())
}

fn four_eyes_setting_is_audited(db: &TestDb) -> Result<()> {
    let mut conn = db.conn()?;
    let org = manufacturer(&mut conn)?;
    ensure!(!herald_storage::drafts::four_eyes(&mut conn, &org.id)?);
    herald_storage::drafts::set_four_eyes(&mut conn, &org.id, true, "user:admin")?;
    ensure!(herald_storage::drafts::four_eyes(&mut conn, &org.id)?);
    herald_storage::drafts::set_four_eyes(&mut conn, &org.id, false, "user:admin")?;
    ensure!(!herald_storage::drafts::four_eyes(&mut conn, &org.id)?);
    let audit = herald_storage::audit::list_audit(
        &mut conn,
        Some(&format!("organization:{}", org.id)),
        10,
    )?;
    ensure!(
        audit
            .iter()
            .filter(|a| a.action == "organization.four_eyes")
            .count()
            == 2,
        "{audit:?}"
    );
    Ok(())
}

both_backends!(
    life_cycle_and_scoping,
    stale_base_is_a_conflict,
    tracking_ids_are_unique,
    four_eyes_setting_is_audited,
);
