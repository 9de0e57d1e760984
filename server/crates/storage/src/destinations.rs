//! Destinations: where an organization wants notifications delivered, through which plugin,
//! with which (non-secret) configuration and granted capabilities, filtered how.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::schema::destinations;
use crate::{
    DbConnection, StorageError, accounts::find_organization, audit::append_audit, from_json,
    from_micros, new_id, now, to_json, to_micros, write_transaction,
};

/// CVSS severities in increasing order; a destination's threshold is one of them.
pub const SEVERITIES: [&str; 5] = ["none", "low", "medium", "high", "critical"];

/// Position of a severity in [`SEVERITIES`], if it is one.
pub fn severity_rank(severity: &str) -> Option<usize> {
    SEVERITIES
        .iter()
        .position(|s| s.eq_ignore_ascii_case(severity))
}

#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    pub id: String,
    pub org_id: String,
    pub plugin_id: String,
    pub name: String,
    /// Plugin configuration (a JSON object).
    pub config: serde_json::Value,
    /// Capabilities granted to the plugin (herald-delivery's `Grants`, as JSON).
    pub grants: serde_json::Value,
    pub enabled: bool,
    /// Only advisories at or above this severity; `None` = all.
    pub min_severity: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewDestination<'a> {
    pub org_id: &'a str,
    pub plugin_id: &'a str,
    pub name: &'a str,
    pub config: serde_json::Value,
    pub grants: serde_json::Value,
    pub enabled: bool,
    pub min_severity: Option<&'a str>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = destinations)]
pub(crate) struct DestinationRow {
    pub(crate) id: String,
    pub(crate) org_id: String,
    pub(crate) plugin_id: String,
    pub(crate) name: String,
    pub(crate) config: String,
    pub(crate) grants: String,
    pub(crate) enabled: bool,
    pub(crate) min_severity: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

impl DestinationRow {
    pub(crate) fn into_model(self) -> Result<Destination, StorageError> {
        Ok(Destination {
            config: from_json("destinations.config", &self.config)?,
            grants: from_json("destinations.grants", &self.grants)?,
            id: self.id,
            org_id: self.org_id,
            plugin_id: self.plugin_id,
            name: self.name,
            enabled: self.enabled,
            min_severity: self.min_severity,
            created_at: from_micros(self.created_at),
            updated_at: from_micros(self.updated_at),
        })
    }
}

/// The stored spelling of a severity threshold; an unknown one is an error listing the valid ones.
fn normalize_min_severity(min: Option<&str>) -> Result<Option<String>, StorageError> {
    match min {
        Some(s) => match severity_rank(s) {
            Some(i) => Ok(Some(SEVERITIES[i].to_string())),
            None => Err(StorageError::Invalid(format!(
                "minimum severity {s:?} is not one of {}",
                SEVERITIES.join(", ")
            ))),
        },
        None => Ok(None),
    }
}

pub fn create_destination(
    conn: &mut DbConnection,
    new: &NewDestination<'_>,
    actor: &str,
) -> Result<Destination, StorageError> {
    if new.name.trim().is_empty() {
        return Err(StorageError::Invalid("destination name is empty".into()));
    }
    if new.plugin_id.trim().is_empty() {
        return Err(StorageError::Invalid(
            "destination plugin id is empty".into(),
        ));
    }
    if !new.config.is_object() {
        return Err(StorageError::Invalid(
            "destination config must be a JSON object".into(),
        ));
    }
    if !new.grants.is_object() {
        return Err(StorageError::Invalid(
            "destination grants must be a JSON object".into(),
        ));
    }
    let min_severity = normalize_min_severity(new.min_severity)?;
    let at = to_micros(now());
    let row = DestinationRow {
        id: new_id(),
        org_id: new.org_id.to_string(),
        plugin_id: new.plugin_id.to_string(),
        name: new.name.trim().to_string(),
        config: to_json(&new.config)?,
        grants: to_json(&new.grants)?,
        enabled: new.enabled,
        min_severity,
        created_at: at,
        updated_at: at,
    };
    write_transaction(conn, |conn| {
        if find_organization(conn, new.org_id)?.is_none() {
            return Err(StorageError::Invalid(format!(
                "organization {} does not exist",
                new.org_id
            )));
        }
        diesel::insert_into(destinations::table)
            .values(&row)
            .execute(conn)?;
        append_audit(
            conn,
            actor,
            "destination.create",
            &format!("destination:{}", row.id),
            &serde_json::json!({ "org_id": row.org_id, "plugin_id": row.plugin_id, "name": row.name }),
        )
    })?;
    row.into_model()
}

/// Destinations of one organization, or all when `org_id` is `None`; oldest first.
pub fn list_destinations(
    conn: &mut DbConnection,
    org_id: Option<&str>,
) -> Result<Vec<Destination>, StorageError> {
    let mut q = destinations::table
        .select(DestinationRow::as_select())
        .into_boxed();
    if let Some(org) = org_id {
        q = q.filter(destinations::org_id.eq(org.to_string()));
    }
    q.order((destinations::created_at.asc(), destinations::id.asc()))
        .load(conn)?
        .into_iter()
        .map(DestinationRow::into_model)
        .collect()
}

pub fn get_destination(
    conn: &mut DbConnection,
    id: &str,
) -> Result<Option<Destination>, StorageError> {
    destinations::table
        .find(id)
        .select(DestinationRow::as_select())
        .first(conn)
        .optional()?
        .map(DestinationRow::into_model)
        .transpose()
}

pub fn set_destination_enabled(
    conn: &mut DbConnection,
    id: &str,
    enabled: bool,
    actor: &str,
) -> Result<(), StorageError> {
    write_transaction(conn, |conn| {
        let n = diesel::update(destinations::table.find(id))
            .set((
                destinations::enabled.eq(enabled),
                destinations::updated_at.eq(to_micros(now())),
            ))
            .execute(conn)?;
        if n == 0 {
            return Err(StorageError::NotFound);
        }
        append_audit(
            conn,
            actor,
            if enabled {
                "destination.enable"
            } else {
                "destination.disable"
            },
            &format!("destination:{id}"),
            &serde_json::json!({}),
        )
    })
}

/// A change to a destination; `None` leaves a field as it is. The plugin is fixed at creation.
#[derive(Debug, Clone, Default)]
pub struct DestinationUpdate<'a> {
    pub name: Option<&'a str>,
    pub config: Option<serde_json::Value>,
    pub grants: Option<serde_json::Value>,
    pub enabled: Option<bool>,
    /// `Some(None)` removes the threshold.
    pub min_severity: Option<Option<&'a str>>,
}

/// Applies `update` and audits which fields changed (names only: configuration values may be
/// sensitive enough not to copy into the log). Returns the destination as stored.
pub fn update_destination(
    conn: &mut DbConnection,
    id: &str,
    update: &DestinationUpdate<'_>,
    actor: &str,
) -> Result<Destination, StorageError> {
    if let Some(name) = update.name
        && name.trim().is_empty()
    {
        return Err(StorageError::Invalid("destination name is empty".into()));
    }
    if let Some(c) = &update.config
        && !c.is_object()
    {
        return Err(StorageError::Invalid(
            "destination config must be a JSON object".into(),
        ));
    }
    if let Some(g) = &update.grants
        && !g.is_object()
    {
        return Err(StorageError::Invalid(
            "destination grants must be a JSON object".into(),
        ));
    }
    let min_severity = update
        .min_severity
        .map(normalize_min_severity)
        .transpose()?;
    write_transaction(conn, |conn| {
        let mut row: DestinationRow = destinations::table
            .find(id)
            .select(DestinationRow::as_select())
            .first(conn)?;
        let mut changed = Vec::new();
        if let Some(name) = update.name {
            row.name = name.trim().to_string();
            changed.push("name");
        }
        if let Some(config) = &update.config {
            row.config = to_json(config)?;
            changed.push("config");
        }
        if let Some(grants) = &update.grants {
            row.grants = to_json(grants)?;
            changed.push("grants");
        }
        if let Some(enabled) = update.enabled {
            row.enabled = enabled;
            changed.push("enabled");
        }
        if let Some(min) = min_severity {
            row.min_severity = min;
            changed.push("min_severity");
        }
        row.updated_at = to_micros(now());
        diesel::update(destinations::table.find(id))
            .set((
                destinations::name.eq(&row.name),
                destinations::config.eq(&row.config),
                destinations::grants.eq(&row.grants),
                destinations::enabled.eq(row.enabled),
                destinations::min_severity.eq(&row.min_severity),
                destinations::updated_at.eq(row.updated_at),
            ))
            .execute(conn)?;
        append_audit(
            conn,
            actor,
            "destination.update",
            &format!("destination:{id}"),
            &serde_json::json!({ "changed": changed }),
        )?;
        row.into_model()
    })
}
