//! The one entitlement rule everything reads, and what it is judged from:
//!
//! * customers: a hospital organization is a customer of a manufacturer organization;
//! * installed base: the catalog products a hospital runs (quantity, site, notes);
//! * grants: access the manufacturer gives a hospital beyond that, to every advisory naming a
//!   product or to one advisory;
//! * subscriptions: what one destination wants (products, families, notice kinds) and whether it
//!   is a security contact that gets critical notices even when it opted out of routine ones;
//! * [`Reader`] and [`visible_to`]: who may read which advisory, as a SQL condition so that lists,
//!   pages, the CSAF distribution tree and fan-out all ask the database the same question.
//!
//! The entitlement rule ([`visible_to`]), by the advisory's TLP label:
//!
//! | label        | manufacturer (publisher) | hospital                                              |
//! |--------------|--------------------------|-------------------------------------------------------|
//! | WHITE / none | yes                      | yes (anonymous readers too)                           |
//! | GREEN        | yes                      | a customer of the publisher, or entitled as for AMBER |
//! | AMBER        | yes                      | a product of the advisory is in its installed base, confirmed by the manufacturer (and it is a customer of the publisher), or granted to it, or the advisory itself is granted to it |
//! | RED          | yes                      | never                                                 |
//!
//! GREEN's audience includes AMBER's: a label never shows less to a wider circle. Hospitals
//! declare their own installed base, so an entry entitles only once the manufacturer confirmed it
//! ([`crate::installed_base::confirm_installed_product`]) and only a customer; until then it only routes notifications.

use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use herald_csaf::Tlp;

use crate::schema::{advisories, advisory_products, customers, entitlement_grants};
use crate::{
    DbConnection, StorageError, accounts::OrgKind, accounts::find_organization, advisories::tlp_str,
};

// ---------------------------------------------------------------------------------------------
// the rule

/// Who is reading, for the entitlement rule. Built from a token's or session's organization
/// ([`Reader::for_org`]); a token without the `read` scope reads as [`Reader::Anonymous`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Reader {
    #[default]
    Anonymous,
    /// A manufacturer organization: reads everything it published (and WHITE of others).
    Manufacturer { org_id: String },
    /// A hospital organization: see the module docs.
    Hospital { org_id: String },
}

impl Reader {
    /// The reader for an organization (by its kind); an unknown organization reads as anonymous.
    pub fn for_org(conn: &mut DbConnection, org_id: &str) -> Result<Reader, StorageError> {
        Ok(match find_organization(conn, org_id)? {
            Some(org) => Reader::of(org.kind, org.id),
            None => Reader::Anonymous,
        })
    }

    pub fn of(kind: OrgKind, org_id: String) -> Reader {
        match kind {
            OrgKind::Manufacturer => Reader::Manufacturer { org_id },
            OrgKind::Hospital => Reader::Hospital { org_id },
        }
    }

    pub fn org_id(&self) -> Option<&str> {
        match self {
            Reader::Anonymous => None,
            Reader::Manufacturer { org_id } | Reader::Hospital { org_id } => Some(org_id),
        }
    }

    /// Whether what this reader sees differs from what an anonymous reader sees, i.e. whether
    /// responses built for it must not be shared (`Cache-Control: private`).
    pub fn is_personal(&self) -> bool {
        !matches!(self, Reader::Anonymous)
    }
}

/// A SQL condition over the `advisories` table (raw SQL with bound parameters), usable in any
/// query that has `advisories` in its FROM clause, alone or joined. Built by [`visible_to`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visibility {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Sql(String),
    Bind(String),
}

impl Visibility {
    /// No restriction (internal readers: the provider's own bookkeeping, tests).
    pub fn everything() -> Visibility {
        Visibility { parts: Vec::new() }.sql("(1 = 1)")
    }

    fn sql(mut self, s: impl Into<String>) -> Self {
        self.parts.push(Part::Sql(s.into()));
        self
    }

    fn bind(mut self, v: &str) -> Self {
        self.parts.push(Part::Bind(v.to_string()));
        self
    }
}

impl diesel::expression::Expression for Visibility {
    type SqlType = Bool;
}

impl<QS> diesel::expression::AppearsOnTable<QS> for Visibility {}
impl<QS> diesel::expression::SelectableExpression<QS> for Visibility {}

impl<GB> diesel::expression::ValidGrouping<GB> for Visibility {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl diesel::query_builder::QueryId for Visibility {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB> diesel::query_builder::QueryFragment<DB> for Visibility
where
    DB: diesel::backend::Backend + diesel::sql_types::HasSqlType<Text>,
    String: diesel::serialize::ToSql<Text, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        out.unsafe_to_cache_prepared();
        for part in &self.parts {
            match part {
                Part::Sql(s) => out.push_sql(s),
                Part::Bind(v) => out.push_bind_param::<Text, String>(v)?,
            }
        }
        Ok(())
    }
}

/// The entitlement rule as a SQL condition on `advisories` (see the module docs). `label`:
/// `None` judges by the advisory's current label (`advisories.tlp`), `Some` by a given label
/// (fan-out judges an event by its revision's label, which a later revision may have changed).
pub fn visible_to(reader: &Reader, label: Option<Tlp>) -> Visibility {
    // The label is one of four fixed spellings, never caller text, so it may be inlined.
    let tlp = match label {
        None => "advisories.tlp".to_string(),
        Some(t) => format!("'{}'", tlp_str(t)),
    };
    let v = Visibility { parts: Vec::new() };
    match reader {
        Reader::Anonymous => v.sql(format!("({tlp} = 'WHITE')")),
        Reader::Manufacturer { org_id } => v
            .sql(format!(
                "({tlp} = 'WHITE' OR advisories.publisher_org_id = "
            ))
            .bind(org_id)
            .sql(")"),
        Reader::Hospital { org_id } => {
            // AMBER entitlement of this hospital to the advisory in the current row.
            let amber = |v: Visibility| {
                v.sql(
                    "(EXISTS (SELECT 1 FROM entitlement_grants g \
                       WHERE g.advisory_id = advisories.id AND g.hospital_org_id = ",
                )
                .bind(org_id)
                .sql(
                    ") OR EXISTS (SELECT 1 FROM advisory_products ap \
                       JOIN entitlement_grants g ON g.product_id = ap.product_id \
                       WHERE ap.advisory_id = advisories.id AND g.hospital_org_id = ",
                )
                .bind(org_id)
                .sql(
                    ") OR EXISTS (SELECT 1 FROM advisory_products ap \
                       JOIN installed_base ib ON ib.product_id = ap.product_id \
                       JOIN customers c ON c.hospital_org_id = ib.org_id \
                         AND c.manufacturer_org_id = advisories.publisher_org_id \
                       WHERE ap.advisory_id = advisories.id AND ib.confirmed_at IS NOT NULL \
                         AND ib.org_id = ",
                )
                .bind(org_id)
                .sql("))")
            };
            let v = v
                .sql(format!(
                    "({tlp} = 'WHITE' OR ({tlp} = 'GREEN' AND (EXISTS (SELECT 1 FROM customers c \
                       WHERE c.manufacturer_org_id = advisories.publisher_org_id \
                         AND c.hospital_org_id = "
                ))
                .bind(org_id)
                .sql(") OR ");
            let v = amber(v).sql(format!(")) OR ({tlp} = 'AMBER' AND "));
            amber(v).sql("))")
        }
    }
}

/// Whether `reader` may read the advisory (by its current label). A missing advisory is `false`.
pub fn may_read(
    conn: &mut DbConnection,
    reader: &Reader,
    advisory_id: &str,
) -> Result<bool, StorageError> {
    may_read_as(conn, reader, advisory_id, None)
}

/// [`may_read`] judging by `label` instead of the current one (see [`visible_to`]).
pub fn may_read_as(
    conn: &mut DbConnection,
    reader: &Reader,
    advisory_id: &str,
    label: Option<Tlp>,
) -> Result<bool, StorageError> {
    let n: i64 = advisories::table
        .filter(advisories::id.eq(advisory_id))
        .filter(visible_to(reader, label))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Whether `reader` may read the advisory distributed at `path` (below `/.well-known/csaf/`)
/// under the label `tlp`. A path that holds nothing, or an advisory with another label, is
/// `false`.
pub fn may_read_path(
    conn: &mut DbConnection,
    reader: &Reader,
    tlp: Tlp,
    path: &str,
) -> Result<bool, StorageError> {
    let n: i64 = advisories::table
        .filter(advisories::path.eq(path))
        .filter(advisories::tlp.eq(tlp_str(tlp)))
        .filter(visible_to(reader, None))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Whether `reader` may open the distribution directory of `tlp` at all (its listings, index,
/// changes and feed, which then list only what [`visible_to`] allows): the manufacturer, for
/// GREEN a customer, for AMBER a customer or a hospital holding a grant. RED: nobody.
pub fn may_open_directory(
    conn: &mut DbConnection,
    reader: &Reader,
    tlp: Tlp,
) -> Result<bool, StorageError> {
    match (tlp, reader) {
        (Tlp::White, _) => Ok(true),
        (Tlp::Red, _) | (_, Reader::Anonymous) => Ok(false),
        (_, Reader::Manufacturer { .. }) => Ok(true),
        (Tlp::Green | Tlp::Amber, Reader::Hospital { org_id }) => {
            let customer: i64 = customers::table
                .filter(customers::hospital_org_id.eq(org_id))
                .count()
                .get_result(conn)?;
            if customer > 0 {
                return Ok(true);
            }
            let granted: i64 = entitlement_grants::table
                .filter(entitlement_grants::hospital_org_id.eq(org_id))
                .count()
                .get_result(conn)?;
            Ok(granted > 0)
        }
    }
}

/// The tracking id of an advisory by its id.
pub fn advisory_tracking_id(
    conn: &mut DbConnection,
    advisory_id: &str,
) -> Result<Option<String>, StorageError> {
    Ok(advisories::table
        .find(advisory_id)
        .select(advisories::tracking_id)
        .first(conn)
        .optional()?)
}

/// The catalog product ids an advisory names (its current revision).
pub fn advisory_product_ids(
    conn: &mut DbConnection,
    advisory_id: &str,
) -> Result<Vec<String>, StorageError> {
    let mut ids: Vec<String> = advisory_products::table
        .filter(advisory_products::advisory_id.eq(advisory_id))
        .select(advisory_products::product_id)
        .load(conn)?;
    ids.sort();
    ids.dedup();
    Ok(ids)
}
