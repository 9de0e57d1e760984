-- Releases and patches (issue 16): a release of a manufacturer's product line that updates some
-- catalog versions to the version it produces, and the advisories it fixes. Publishing it
-- revises each fixed advisory through the one publish path (release_fixes records which
-- revision, or the held publication while the four-eyes rule waits for an approver).
CREATE TABLE releases (
    id                   TEXT PRIMARY KEY,
    manufacturer_org_id  TEXT NOT NULL REFERENCES organizations (id),
    name                 TEXT NOT NULL,
    -- the catalog product (vendor, family, name of the line; this version) it produces
    produced_product_id  TEXT NOT NULL REFERENCES products (id),
    produced_version     TEXT NOT NULL,
    release_date         BIGINT NOT NULL,
    -- over_the_air | service_engineer | hospital_it | download | other
    delivery             TEXT NOT NULL,
    regulatory_review    BOOLEAN NOT NULL,
    install_notes        TEXT NOT NULL,
    known_issues         TEXT NOT NULL,
    url                  TEXT,
    -- draft | pending (a revision waits for approval) | published
    state                TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    created_by           TEXT NOT NULL,
    updated_at           BIGINT NOT NULL,
    published_at         BIGINT,
    published_by         TEXT
);
CREATE INDEX releases_org_state ON releases (manufacturer_org_id, state);

-- The catalog versions a release updates.
CREATE TABLE release_applies_to (
    release_id  TEXT NOT NULL REFERENCES releases (id),
    product_id  TEXT NOT NULL REFERENCES products (id),
    PRIMARY KEY (release_id, product_id)
);
CREATE INDEX release_applies_to_product ON release_applies_to (product_id);

-- The advisories a release fixes, and what publishing did to each.
CREATE TABLE release_fixes (
    release_id        TEXT NOT NULL REFERENCES releases (id),
    advisory_id       TEXT NOT NULL REFERENCES advisories (id),
    -- the revision that carries the fix, once published
    revision_version  TEXT,
    -- the held publication (a submitted draft) while the four-eyes rule waits
    draft_id          TEXT REFERENCES drafts (id),
    PRIMARY KEY (release_id, advisory_id)
);
CREATE INDEX release_fixes_advisory ON release_fixes (advisory_id);
