-- The hospital's workspace (issue 17): sites, installed-base entries per site with serial
-- numbers, and remediation status per advisory and site with its full history.

-- A hospital's sites (a campus, a building, a clinic). Name unique per hospital; the code is the
-- hospital's own short reference (asset-management systems export it), unique when given.
CREATE TABLE sites (
    id          TEXT PRIMARY KEY NOT NULL,
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    name        TEXT NOT NULL,
    code        TEXT,
    address     TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (org_id, name)
);
CREATE UNIQUE INDEX sites_code ON sites (org_id, code);

-- Every existing entry moves to a site named after its old free-text `site` (or "Main site").
INSERT INTO sites (id, org_id, name, code, address, created_at, updated_at)
SELECT lower(hex(randomblob(16))), org_id, COALESCE(NULLIF(trim(site), ''), 'Main site'), NULL,
       NULL, MIN(created_at), MIN(created_at)
  FROM installed_base
 GROUP BY org_id, COALESCE(NULLIF(trim(site), ''), 'Main site');

-- The installed base becomes per site: the same product may run at several sites, once per site.
-- The manufacturer's confirmation stays per entry (the entitlement rule reads confirmed_at).
CREATE TABLE installed_base_new (
    id          TEXT PRIMARY KEY NOT NULL,
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    site_id     TEXT NOT NULL REFERENCES sites (id),
    product_id  TEXT NOT NULL REFERENCES products (id),
    quantity    INTEGER CHECK (quantity IS NULL OR quantity > 0),
    notes       TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    confirmed_at  BIGINT,
    confirmed_by  TEXT,
    UNIQUE (site_id, product_id)
);
INSERT INTO installed_base_new (id, org_id, site_id, product_id, quantity, notes, created_at,
                                updated_at, confirmed_at, confirmed_by)
SELECT ib.id, ib.org_id, s.id, ib.product_id, ib.quantity, ib.notes, ib.created_at, ib.updated_at,
       ib.confirmed_at, ib.confirmed_by
  FROM installed_base ib
  JOIN sites s ON s.org_id = ib.org_id AND s.name = COALESCE(NULLIF(trim(ib.site), ''), 'Main site');
DROP TABLE installed_base;
ALTER TABLE installed_base_new RENAME TO installed_base;
CREATE INDEX installed_base_product ON installed_base (product_id);
CREATE INDEX installed_base_org ON installed_base (org_id);

-- Serial numbers of an entry's devices. A serial is unique per hospital and product: the same
-- device cannot run at two sites.
CREATE TABLE installed_serials (
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    product_id  TEXT NOT NULL REFERENCES products (id),
    serial      TEXT NOT NULL,
    entry_id    TEXT NOT NULL REFERENCES installed_base (id) ON DELETE CASCADE,
    PRIMARY KEY (org_id, product_id, serial)
);
CREATE INDEX installed_serials_entry ON installed_serials (entry_id);

-- Where a site stands on an advisory now (the latest of its history).
CREATE TABLE remediation_status (
    site_id      TEXT NOT NULL REFERENCES sites (id),
    advisory_id  TEXT NOT NULL REFERENCES advisories (id),
    org_id       TEXT NOT NULL REFERENCES organizations (id),
    -- received, under_assessment, mitigated, patched, not_applicable, risk_accepted
    status       TEXT NOT NULL,
    -- required for not_applicable
    reason       TEXT,
    note         TEXT,
    -- the release installed, as the hospital names it (a free reference until releases land)
    release_ref  TEXT,
    actor        TEXT NOT NULL,
    at           BIGINT NOT NULL,
    PRIMARY KEY (site_id, advisory_id)
);
CREATE INDEX remediation_status_advisory ON remediation_status (advisory_id, org_id);
CREATE INDEX remediation_status_org ON remediation_status (org_id, advisory_id);

-- Every status ever set, never rewritten.
CREATE TABLE remediation_history (
    id           TEXT PRIMARY KEY NOT NULL,
    site_id      TEXT NOT NULL REFERENCES sites (id),
    advisory_id  TEXT NOT NULL REFERENCES advisories (id),
    org_id       TEXT NOT NULL REFERENCES organizations (id),
    status       TEXT NOT NULL,
    reason       TEXT,
    note         TEXT,
    release_ref  TEXT,
    actor        TEXT NOT NULL,
    at           BIGINT NOT NULL
);
CREATE INDEX remediation_history_site ON remediation_history (site_id, advisory_id, at);

-- A CSV file a hospital staged for import: the portal's preview reads it back, the confirmation
-- writes the installed base from it and deletes it. Nothing here is part of the installed base.
CREATE TABLE installed_base_imports (
    id          TEXT PRIMARY KEY NOT NULL,
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    csv         BLOB NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL
);
CREATE INDEX installed_base_imports_org ON installed_base_imports (org_id, created_at);
