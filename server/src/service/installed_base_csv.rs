//! The installed base as CSV: import with a preview and a row-by-row report, nothing written
//! until the caller confirms; export for spreadsheets and asset-management tools.
//!
//! The import is one pure step ([`plan`]: parse, match every row against the catalog and what is
//! stored, report) and one write ([`import`] with `confirm`: the same plan, refused while any row
//! has a problem, written in one transaction). Preview and confirmation are separate requests
//! that carry the same file, so no half-imported state is ever stored between them.
//!
//! Columns (a header row is required; names are case-insensitive, unknown columns are reported
//! and ignored): `site`, `site_code`, `product_id`, `udi_di`, `product`, `version`, `quantity`,
//! `serial`, `notes`. A product is found by `product_id`, else `udi_di`, else `product` name
//! (and `version` when the catalog has several). Rows naming the same site and product make one
//! entry: their serials and quantities add up.
//!
//! Hostile files: the body is capped at [`MAX_BYTES`] and [`MAX_ROWS`] rows (a clear error
//! beyond), must be UTF-8 (a UTF-16 or Latin-1 file is refused naming the line), and the report
//! lists at most [`MAX_PROBLEMS`] problems (with the total). On export, a cell that a spreadsheet
//! would run as a formula (`=`, `+`, `-`, `@`, tab, carriage return first) is prefixed with `'`.

use std::collections::{BTreeMap, HashMap, HashSet};

use herald_storage::{
    DbConnection, installed_base::EntryInput, sites::DEFAULT_SITE, sites::SiteInput,
};

use crate::error::ServiceError;
use crate::service::Principal;
use crate::state::AppState;

/// Largest file accepted (bytes).
pub const MAX_BYTES: usize = 16 * 1024 * 1024;
/// Most data rows accepted.
pub const MAX_ROWS: usize = 100_000;
/// Most problems a report lists (the total is always given).
pub const MAX_PROBLEMS: usize = 1_000;

const COLUMNS: [&str; 9] = [
    "site",
    "site_code",
    "product_id",
    "udi_di",
    "product",
    "version",
    "quantity",
    "serial",
    "notes",
];

/// Why a row cannot be imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    UnknownProduct,
    AmbiguousVersion,
    DuplicateSerial,
    /// The product is already in the installed base at that site (edit the entry instead).
    AlreadyInstalled,
    InvalidValue,
}

/// One problem, by line of the file (the header is line 1).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct RowProblem {
    pub line: u64,
    pub kind: ProblemKind,
    pub message: String,
}

/// An entry the import would write.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PlannedEntry {
    pub site: String,
    /// Whether the site is created by the import.
    pub new_site: bool,
    pub product_id: String,
    pub product: String,
    pub version: Option<String>,
    pub devices: i64,
    pub serials: usize,
}

/// What an import would do (preview) or did (confirmed).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// Data rows read (without the header and blank lines).
    pub rows: u64,
    pub entries: Vec<PlannedEntry>,
    /// Problems, at most [`MAX_PROBLEMS`] of them.
    pub problems: Vec<RowProblem>,
    pub problem_count: usize,
    /// Columns of the header Herald does not know (ignored).
    pub ignored_columns: Vec<String>,
    /// Whether the import was written (only when confirmed and without problems).
    pub written: bool,
}

/// A catalog product as the import matches it.
#[derive(Debug, Clone, Default)]
struct Candidate {
    id: String,
    name: String,
    version: Option<String>,
}

#[derive(Default)]
struct Planned {
    site_id: Option<String>,
    site_name: String,
    site_code: Option<String>,
    product: Candidate,
    quantity: Option<i32>,
    serials: Vec<String>,
    notes: Option<String>,
    first_line: u64,
}

fn cell(record: &csv::StringRecord, index: Option<usize>) -> Option<&str> {
    index
        .and_then(|i| record.get(i))
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// What the import reads from the database to match rows: the catalog the hospital may name,
/// its sites, its entries and its serial numbers.
struct Known {
    candidates: Vec<Candidate>,
    by_id: HashMap<String, usize>,
    by_udi: HashMap<String, Vec<usize>>,
    by_name: HashMap<String, Vec<usize>>,
    /// site name -> (id, code)
    sites: HashMap<String, (String, Option<String>)>,
    /// site code -> site name
    site_codes: HashMap<String, String>,
    /// (site id, product id)
    entries: HashSet<(String, String)>,
    /// (product id, serial) -> site name
    serials: HashMap<(String, String), String>,
}

fn load_known(conn: &mut DbConnection, p: &Principal, org: &str) -> Result<Known, ServiceError> {
    let mut products = herald_storage::catalog::list_products_for_reader(conn, &p.reader())?;
    for maker in herald_storage::customers::manufacturers_of(conn, org)? {
        products.extend(herald_storage::catalog::list_products(conn, &maker)?);
    }
    let mut seen = HashSet::new();
    products.retain(|p| seen.insert(p.id.clone()));
    let mut known = Known {
        candidates: Vec::new(),
        by_id: HashMap::new(),
        by_udi: HashMap::new(),
        by_name: HashMap::new(),
        sites: HashMap::new(),
        site_codes: HashMap::new(),
        entries: HashSet::new(),
        serials: HashMap::new(),
    };
    for (i, p) in products.into_iter().enumerate() {
        known.by_id.insert(p.id.clone(), i);
        if let Some(u) = &p.udi_di {
            known.by_udi.entry(u.to_lowercase()).or_default().push(i);
        }
        known
            .by_name
            .entry(p.name.to_lowercase())
            .or_default()
            .push(i);
        known.candidates.push(Candidate {
            id: p.id,
            name: p.name,
            version: p.version,
        });
    }
    let sites = herald_storage::sites::list_sites(conn, org)?;
    let names: HashMap<String, String> = sites
        .iter()
        .map(|s| (s.id.clone(), s.name.clone()))
        .collect();
    for s in sites {
        if let Some(code) = &s.code {
            known.site_codes.insert(code.clone(), s.name.clone());
        }
        known.sites.insert(s.name, (s.id, s.code));
    }
    for e in herald_storage::installed_base::list_installed_base(conn, org)? {
        let site = names.get(&e.site_id).cloned().unwrap_or_default();
        for serial in &e.serials {
            known
                .serials
                .insert((e.product.id.clone(), serial.clone()), site.clone());
        }
        known.entries.insert((e.site_id, e.product.id));
    }
    Ok(known)
}

/// Reads and matches every row; writes nothing.
fn plan(known: &Known, csv_bytes: &[u8]) -> Result<(ImportReport, Vec<Planned>), ServiceError> {
    if csv_bytes.len() > MAX_BYTES {
        return Err(ServiceError::TooLarge(format!(
            "the CSV file is larger than {} MiB; split it",
            MAX_BYTES / (1024 * 1024)
        )));
    }
    if csv_bytes.starts_with(&[0xFF, 0xFE]) || csv_bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(ServiceError::field(
            "csv",
            "the file is UTF-16; save it as \"CSV UTF-8\"",
        ));
    }
    let body = csv_bytes
        .strip_prefix(&[0xEF, 0xBB, 0xBF])
        .unwrap_or(csv_bytes);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(body);
    let encoding = |e: csv::Error| -> ServiceError {
        let line = e.position().map(|p| p.line()).unwrap_or(0);
        match e.kind() {
            csv::ErrorKind::Utf8 { .. } => ServiceError::field(
                "csv",
                format!("line {line} is not UTF-8; save the file as \"CSV UTF-8\""),
            ),
            _ => ServiceError::field("csv", format!("line {line}: {e}")),
        }
    };
    let header = reader.headers().map_err(encoding)?.clone();
    let index = |name: &str| {
        header.iter().position(|h| {
            h.trim()
                .trim_start_matches('\u{feff}')
                .eq_ignore_ascii_case(name)
        })
    };
    let col: HashMap<&str, Option<usize>> = COLUMNS.iter().map(|c| (*c, index(c))).collect();
    if col["product_id"].is_none() && col["udi_di"].is_none() && col["product"].is_none() {
        return Err(ServiceError::field(
            "csv",
            "the header names none of product_id, udi_di, product",
        ));
    }
    let ignored_columns: Vec<String> = header
        .iter()
        .map(str::trim)
        .filter(|h| !h.is_empty() && !COLUMNS.iter().any(|c| c.eq_ignore_ascii_case(h)))
        .map(str::to_owned)
        .collect();

    let mut problems: Vec<RowProblem> = Vec::new();
    let mut problem_count = 0usize;
    let mut report = |line: u64, kind: ProblemKind, message: String| {
        problem_count += 1;
        if problems.len() < MAX_PROBLEMS {
            problems.push(RowProblem {
                line,
                kind,
                message,
            });
        }
    };
    let mut planned: BTreeMap<(String, String), Planned> = BTreeMap::new();
    // (product, serial) -> line first seen in this file
    let mut file_serials: HashMap<(String, String), u64> = HashMap::new();
    let mut rows = 0u64;
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(encoding(e)),
        }
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        rows += 1;
        if rows > MAX_ROWS as u64 {
            return Err(ServiceError::TooLarge(format!(
                "the file has more than {MAX_ROWS} rows; split it"
            )));
        }
        let get = |name: &str| cell(&record, col[name]);

        // The site: by name, else by code, else the default site.
        let site_name = match (get("site"), get("site_code")) {
            (Some(n), _) => n.to_owned(),
            (None, Some(code)) => match known.site_codes.get(code) {
                Some(n) => n.clone(),
                None => {
                    report(
                        line,
                        ProblemKind::InvalidValue,
                        format!("site_code {code:?} is not one of your sites; add a site column"),
                    );
                    continue;
                }
            },
            (None, None) => DEFAULT_SITE.to_owned(),
        };
        if site_name.chars().count() > 200 || site_name.chars().any(char::is_control) {
            report(
                line,
                ProblemKind::InvalidValue,
                "site must be 1-200 printable characters".into(),
            );
            continue;
        }

        // The product.
        let found: Result<&Candidate, (ProblemKind, String)> = if let Some(id) = get("product_id") {
            known.by_id.get(id).map(|&i| &known.candidates[i]).ok_or((
                ProblemKind::UnknownProduct,
                format!("product_id {id:?} is not in the catalog"),
            ))
        } else if let Some(udi) = get("udi_di") {
            match known.by_udi.get(&udi.to_lowercase()).map(Vec::as_slice) {
                Some([i]) => Ok(&known.candidates[*i]),
                Some(_) => Err((
                    ProblemKind::AmbiguousVersion,
                    format!("UDI-DI {udi:?} names several catalog products; give product_id"),
                )),
                None => Err((
                    ProblemKind::UnknownProduct,
                    format!("no catalog product has UDI-DI {udi:?}"),
                )),
            }
        } else if let Some(name) = get("product") {
            let all: &[usize] = known
                .by_name
                .get(&name.to_lowercase())
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let version = get("version");
            let matching: Vec<usize> = all
                .iter()
                .copied()
                .filter(|&i| match version {
                    Some(v) => known.candidates[i]
                        .version
                        .as_deref()
                        .is_some_and(|cv| cv.eq_ignore_ascii_case(v)),
                    None => true,
                })
                .collect();
            match matching.as_slice() {
                [i] => Ok(&known.candidates[*i]),
                [] if all.is_empty() => Err((
                    ProblemKind::UnknownProduct,
                    format!("no catalog product is named {name:?}"),
                )),
                [] => Err((
                    ProblemKind::UnknownProduct,
                    format!(
                        "{name:?} has no version {:?} in the catalog (known: {})",
                        version.unwrap_or_default(),
                        versions(known, all)
                    ),
                )),
                _ => Err((
                    ProblemKind::AmbiguousVersion,
                    format!(
                        "{name:?} has several versions ({}); give the version",
                        versions(known, &matching)
                    ),
                )),
            }
        } else {
            Err((
                ProblemKind::UnknownProduct,
                "no product_id, udi_di or product on this row".into(),
            ))
        };
        let product = match found {
            Ok(p) => p,
            Err((kind, message)) => {
                report(line, kind, message);
                continue;
            }
        };

        let quantity = match get("quantity") {
            None => None,
            Some(q) => match q.parse::<i32>() {
                Ok(n) if (1..=herald_storage::installed_base::MAX_QUANTITY).contains(&n) => Some(n),
                _ => {
                    report(
                        line,
                        ProblemKind::InvalidValue,
                        format!(
                            "quantity {q:?} is not a number from 1 to {}",
                            herald_storage::installed_base::MAX_QUANTITY
                        ),
                    );
                    continue;
                }
            },
        };
        let serial = get("serial");
        if let Some(s) = serial {
            if s.chars().count() > herald_storage::installed_base::MAX_SERIAL_LEN
                || s.chars().any(char::is_control)
            {
                report(
                    line,
                    ProblemKind::InvalidValue,
                    format!(
                        "serial must be 1-{} printable characters",
                        herald_storage::installed_base::MAX_SERIAL_LEN
                    ),
                );
                continue;
            }
            let key = (product.id.clone(), s.to_owned());
            if let Some(first) = file_serials.get(&key) {
                report(
                    line,
                    ProblemKind::DuplicateSerial,
                    format!("serial {s:?} of {} is also on line {first}", product.name),
                );
                continue;
            }
            if let Some(site) = known.serials.get(&key) {
                report(
                    line,
                    ProblemKind::DuplicateSerial,
                    format!(
                        "serial {s:?} of {} is already in your installed base at site {site:?}",
                        product.name
                    ),
                );
                continue;
            }
            file_serials.insert(key, line);
        }
        let notes = get("notes");
        if notes.is_some_and(|n| n.chars().count() > 2000) {
            report(
                line,
                ProblemKind::InvalidValue,
                "notes are longer than 2000 characters".into(),
            );
            continue;
        }
        let existing_site = known.sites.get(&site_name);
        if let Some((site_id, _)) = existing_site
            && known
                .entries
                .contains(&(site_id.clone(), product.id.clone()))
        {
            report(
                line,
                ProblemKind::AlreadyInstalled,
                format!(
                    "{} is already in your installed base at site {site_name:?}; edit that entry instead",
                    product_label(product)
                ),
            );
            continue;
        }
        let p = planned
            .entry((site_name.clone(), product.id.clone()))
            .or_insert_with(|| Planned {
                site_id: existing_site.map(|(id, _)| id.clone()),
                site_name: site_name.clone(),
                site_code: get("site_code").map(str::to_owned),
                product: product.clone(),
                first_line: line,
                ..Planned::default()
            });
        if let Some(s) = serial {
            p.serials.push(s.to_owned());
        } else {
            let q = quantity.unwrap_or(1);
            p.quantity = Some(p.quantity.unwrap_or(0).saturating_add(q));
        }
        if let Some(n) = notes
            && p.notes.is_none()
        {
            p.notes = Some(n.to_owned());
        }
    }
    let mut out = Vec::with_capacity(planned.len());
    let mut entries = Vec::with_capacity(planned.len());
    for (_, mut p) in planned {
        // Serials and serial-less units of one product at one site: the serials are the devices
        // Herald can name; units without serials are added to the count as a quantity only
        // when there are no serials at all.
        if !p.serials.is_empty() {
            if let Some(q) = p.quantity {
                p.serials.sort();
                report(
                    p.first_line,
                    ProblemKind::InvalidValue,
                    format!(
                        "{} at site {:?} has rows with serial numbers and {q} without; give a serial on every row or none",
                        product_label(&p.product),
                        p.site_name
                    ),
                );
                continue;
            }
        } else if p
            .quantity
            .is_some_and(|q| q > herald_storage::installed_base::MAX_QUANTITY)
        {
            report(
                p.first_line,
                ProblemKind::InvalidValue,
                format!(
                    "more than {} units in one entry",
                    herald_storage::installed_base::MAX_QUANTITY
                ),
            );
            continue;
        }
        if p.serials.len() > herald_storage::installed_base::MAX_SERIALS {
            report(
                p.first_line,
                ProblemKind::InvalidValue,
                format!(
                    "more than {} serial numbers of one product at one site",
                    herald_storage::installed_base::MAX_SERIALS
                ),
            );
            continue;
        }
        entries.push(PlannedEntry {
            site: p.site_name.clone(),
            new_site: p.site_id.is_none(),
            product_id: p.product.id.clone(),
            product: p.product.name.clone(),
            version: p.product.version.clone(),
            devices: herald_storage::installed_base::device_count(p.serials.len(), p.quantity),
            serials: p.serials.len(),
        });
        out.push(p);
    }
    problems.sort_by_key(|p| p.line);
    Ok((
        ImportReport {
            rows,
            entries,
            problems,
            problem_count,
            ignored_columns,
            written: false,
        },
        out,
    ))
}

fn product_label(c: &Candidate) -> String {
    match &c.version {
        Some(v) => format!("{} {v}", c.name),
        None => c.name.clone(),
    }
}

fn versions(known: &Known, of: &[usize]) -> String {
    let mut v: Vec<&str> = of
        .iter()
        .map(|&i| {
            known.candidates[i]
                .version
                .as_deref()
                .unwrap_or("no version")
        })
        .collect();
    v.sort_unstable();
    v.dedup();
    v.join(", ")
}

/// Previews (`confirm == false`) or writes (`confirm == true`) an import into the caller's
/// installed base (hospital admins). A confirmed import with any problem writes nothing and is
/// refused (422) naming the first problems; the preview's report says the same beforehand.
pub async fn import(
    state: &AppState,
    p: &Principal,
    csv_bytes: Vec<u8>,
    confirm: bool,
) -> Result<ImportReport, ServiceError> {
    let org = p.require_hospital_admin()?.to_owned();
    let p = p.clone();
    state
        .db(move |conn| run(conn, &p, &org, &csv_bytes, confirm))
        .await
}

/// Stages a file for the portal's preview (hospital admins); nothing enters the installed base.
/// The staged file's id.
pub async fn stage(
    state: &AppState,
    p: &Principal,
    csv_bytes: Vec<u8>,
) -> Result<String, ServiceError> {
    let org = p.require_hospital_admin()?.to_owned();
    if csv_bytes.len() > MAX_BYTES {
        return Err(ServiceError::TooLarge(format!(
            "the CSV file is larger than {} MiB; split it",
            MAX_BYTES / (1024 * 1024)
        )));
    }
    if csv_bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ServiceError::field("csv", "the file is empty"));
    }
    let actor = p.actor();
    state
        .db(move |conn| {
            Ok(herald_storage::import_staging::stage_import(
                conn, &org, &csv_bytes, &actor,
            )?)
        })
        .await
}

/// The preview of a staged file (`confirm == false`), or its import (`confirm == true`, after
/// which the staged file is gone). Another hospital's staged file is 404.
pub async fn staged(
    state: &AppState,
    p: &Principal,
    id: &str,
    confirm: bool,
) -> Result<ImportReport, ServiceError> {
    let org = p.require_hospital_admin()?.to_owned();
    let (p, id) = (p.clone(), id.to_owned());
    state
        .db(move |conn| {
            let csv_bytes = herald_storage::import_staging::staged_import(conn, &org, &id)?
                .ok_or(ServiceError::NotFound)?;
            herald_storage::write_transaction_as(conn, |conn| {
                let report = run(conn, &p, &org, &csv_bytes, confirm)?;
                if report.written {
                    herald_storage::import_staging::drop_staged_import(conn, &org, &id)?;
                }
                Ok(report)
            })
        })
        .await
}

fn run(
    conn: &mut DbConnection,
    p: &Principal,
    org: &str,
    csv_bytes: &[u8],
    confirm: bool,
) -> Result<ImportReport, ServiceError> {
    let actor = p.actor();
    let known = load_known(conn, p, org)?;
    let (mut report, planned) = plan(&known, csv_bytes)?;
    if !confirm {
        return Ok(report);
    }
    if report.problem_count > 0 {
        let first: Vec<String> = report
            .problems
            .iter()
            .take(3)
            .map(|p| format!("line {}: {}", p.line, p.message))
            .collect();
        return Err(ServiceError::field(
            "csv",
            format!(
                "{} row(s) cannot be imported, nothing was written ({})",
                report.problem_count,
                first.join("; ")
            ),
        ));
    }
    if planned.is_empty() {
        return Err(ServiceError::field("csv", "the file has no rows to import"));
    }
    herald_storage::write_transaction_as::<_, ServiceError, _>(conn, |conn| {
        let mut site_ids: HashMap<String, String> = HashMap::new();
        for entry in &planned {
            let site_id = match (&entry.site_id, site_ids.get(&entry.site_name)) {
                (Some(id), _) | (None, Some(id)) => id.clone(),
                (None, None) => {
                    let site = herald_storage::sites::create_site(
                        conn,
                        org,
                        &SiteInput {
                            name: entry.site_name.clone(),
                            code: entry.site_code.clone(),
                            address: None,
                        },
                        &actor,
                    )
                    .map_err(|e| {
                        ServiceError::field("csv", format!("site {:?}: {e}", entry.site_name))
                    })?;
                    site_ids.insert(entry.site_name.clone(), site.id.clone());
                    site.id
                }
            };
            herald_storage::installed_base::insert_entry(
                conn,
                org,
                &EntryInput {
                    site_id,
                    product_id: entry.product.id.clone(),
                    quantity: entry.quantity,
                    serials: entry.serials.clone(),
                    notes: entry.notes.clone(),
                },
                &actor,
            )
            .map_err(|e| match e {
                herald_storage::StorageError::Conflict(m)
                | herald_storage::StorageError::Invalid(m) => {
                    ServiceError::field("csv", format!("line {}: {m}", entry.first_line))
                }
                other => other.into(),
            })?;
        }
        Ok(())
    })?;
    report.written = true;
    Ok(report)
}

/// A cell a spreadsheet would run as a formula, made inert with a leading `'` (OWASP's advice
/// for CSV injection).
pub fn neutralise(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_owned(),
    }
}

/// The caller's installed base as CSV in the import's columns: one row per serial number, one
/// row per entry without serials (hospital people).
pub async fn export(state: &AppState, p: &Principal) -> Result<Vec<u8>, ServiceError> {
    let org = p.require_hospital_reader()?.to_owned();
    state
        .db(move |conn| {
            let sites: HashMap<String, Option<String>> =
                herald_storage::sites::list_sites(conn, &org)?
                    .into_iter()
                    .map(|s| (s.id, s.code))
                    .collect();
            let entries = herald_storage::installed_base::list_installed_base(conn, &org)?;
            let mut w = csv::Writer::from_writer(Vec::new());
            let io = |e: csv::Error| ServiceError::internal(e);
            w.write_record(COLUMNS).map_err(io)?;
            for e in entries {
                let code = sites.get(&e.site_id).cloned().flatten().unwrap_or_default();
                let base = |serial: &str, quantity: String| {
                    [
                        e.site_name.as_str(),
                        code.as_str(),
                        e.product.id.as_str(),
                        e.product.udi_di.as_deref().unwrap_or(""),
                        e.product.name.as_str(),
                        e.product.version.as_deref().unwrap_or(""),
                        quantity.as_str(),
                        serial,
                        e.notes.as_deref().unwrap_or(""),
                    ]
                    .map(neutralise)
                };
                if e.serials.is_empty() {
                    let q = e.quantity.map(|q| q.to_string()).unwrap_or_default();
                    w.write_record(base("", q)).map_err(io)?;
                } else {
                    for s in &e.serials {
                        w.write_record(base(s, String::new())).map_err(io)?;
                    }
                }
            }
            w.into_inner()
                .map_err(|e| ServiceError::internal(e.into_error()))
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Known {
        let products = [
            (
                "p420",
                "FlowSure 300",
                Some("4.2.0"),
                Some("09506000134208"),
            ),
            ("p421", "FlowSure 300", Some("4.2.1"), None),
            ("pmon", "VitalView", None, None),
        ];
        let mut k = Known {
            candidates: Vec::new(),
            by_id: HashMap::new(),
            by_udi: HashMap::new(),
            by_name: HashMap::new(),
            sites: HashMap::new(),
            site_codes: HashMap::new(),
            entries: HashSet::new(),
            serials: HashMap::new(),
        };
        for (i, (id, name, version, udi)) in products.into_iter().enumerate() {
            k.by_id.insert(id.into(), i);
            if let Some(u) = udi {
                k.by_udi.insert(u.into(), vec![i]);
            }
            k.by_name.entry(name.to_lowercase()).or_default().push(i);
            k.candidates.push(Candidate {
                id: id.into(),
                name: name.into(),
                version: version.map(Into::into),
            });
        }
        k.sites
            .insert("North".into(), ("site-n".into(), Some("N1".into())));
        k.site_codes.insert("N1".into(), "North".into());
        k.serials
            .insert(("p420".into(), "OLD-1".into()), "North".into());
        k
    }

    #[test]
    fn rows_are_matched_and_reported_line_by_line() {
        let csv = "site,product,version,serial,quantity,notes,colour\n\
                   North,FlowSure 300,4.2.0,A1,,ward 3,red\n\
                   North,FlowSure 300,4.2.0,A2,,,\n\
                   South,FlowSure 300,,B1,,,\n\
                   South,Nonesuch,,,2,,\n\
                   South,FlowSure 300,4.2.1,A1,,,\n\
                   South,FlowSure 300,4.2.0,A1,,,\n\
                   South,FlowSure 300,4.2.0,OLD-1,,,\n\
                   ,VitalView,,,3,,\n\
                   South,VitalView,,,x,,\n";
        let (report, planned) = plan(&known(), csv.as_bytes()).expect("plan");
        assert_eq!(report.rows, 9);
        assert_eq!(report.ignored_columns, ["colour"]);
        let kinds: Vec<(u64, ProblemKind)> =
            report.problems.iter().map(|p| (p.line, p.kind)).collect();
        assert_eq!(
            kinds,
            [
                (4, ProblemKind::AmbiguousVersion),
                (5, ProblemKind::UnknownProduct),
                (7, ProblemKind::DuplicateSerial),
                (8, ProblemKind::DuplicateSerial),
                (10, ProblemKind::InvalidValue),
            ]
        );
        assert!(report.problems[0].message.contains("4.2.0, 4.2.1"));
        assert!(report.problems[2].message.contains("line 2"));
        assert!(report.problems[3].message.contains("North"));
        // North: A1+A2 of 4.2.0 on the existing site; South: A1 of 4.2.1 (another product, so
        // the same serial is fine); Main site: 3 VitalView.
        let summary: Vec<(String, String, i64, bool)> = report
            .entries
            .iter()
            .map(|e| (e.site.clone(), e.product_id.clone(), e.devices, e.new_site))
            .collect();
        assert_eq!(
            summary,
            [
                (DEFAULT_SITE.into(), "pmon".into(), 3, true),
                ("North".into(), "p420".into(), 2, false),
                ("South".into(), "p421".into(), 1, true),
            ]
        );
        assert_eq!(planned.len(), 3);
    }

    #[test]
    fn hostile_files_are_refused_clearly() {
        let k = known();
        // UTF-16 and Latin-1.
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("site,product\n".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let e = plan(&k, &utf16).err().expect("utf-16 refused").to_string();
        assert!(e.contains("UTF-16"), "{e}");
        let latin1 = b"site,product\nH\xF4pital,VitalView\n";
        let e = plan(&k, latin1).err().expect("latin-1 refused").to_string();
        assert!(e.contains("line 2") && e.contains("UTF-8"), "{e}");
        // A BOM is fine.
        let (r, _) = plan(&k, "\u{feff}site,product\nNorth,VitalView\n".as_bytes()).expect("bom");
        assert_eq!(r.entries.len(), 1);
        // No product column at all.
        assert!(plan(&k, b"site,colour\nNorth,red\n").is_err());
        // More rows than the limit.
        let mut big = String::from("product,serial\n");
        for i in 0..=MAX_ROWS {
            big.push_str(&format!("VitalView,S{i}\n"));
        }
        let e = plan(&k, big.as_bytes()).err().expect("too many rows");
        assert!(matches!(e, ServiceError::TooLarge(_)), "{e}");
        // Formula cells are plain text on the way in (no product is named "=1+1") and inert
        // on the way out.
        let (r, _) = plan(&k, b"product\n=HYPERLINK(\"http://x\")\n").expect("plan");
        assert_eq!(r.problems[0].kind, ProblemKind::UnknownProduct);
        for f in ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"] {
            assert!(neutralise(f).starts_with('\''), "{f:?}");
        }
        assert_eq!(neutralise("North"), "North");
    }

    #[test]
    fn a_hundred_thousand_rows_in_bounded_time() {
        let k = known();
        let mut big = String::from("site,product,version,serial\n");
        for i in 0..MAX_ROWS {
            big.push_str(&format!("Site {},FlowSure 300,4.2.0,SN-{i}\n", i % 20));
        }
        let started = std::time::Instant::now();
        let (r, planned) = plan(&k, big.as_bytes()).expect("plan");
        let took = started.elapsed();
        assert_eq!(r.rows, MAX_ROWS as u64);
        assert_eq!(r.problem_count, 0);
        assert_eq!(planned.len(), 20);
        assert_eq!(
            r.entries.iter().map(|e| e.devices).sum::<i64>(),
            MAX_ROWS as i64
        );
        // Generous for a debug build on a shared 2-core machine; it measures seconds, not ms.
        assert!(took < std::time::Duration::from_secs(30), "{took:?}");
    }
}
