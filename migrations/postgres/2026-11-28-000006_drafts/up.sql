-- Advisory authoring (issue 3): drafts a publisher fills in through the portal form or
-- `/api/v1/drafts`, Herald's per-organization settings (the four-eyes rule), and the counters
-- that number new tracking ids (`<PREFIX>-<YEAR>-<NNNN>`).
CREATE TABLE drafts (
    id                   TEXT PRIMARY KEY,
    manufacturer_org_id  TEXT NOT NULL REFERENCES organizations (id),
    -- assigned when the draft is created; for an update, the advisory's tracking id
    tracking_id          TEXT NOT NULL,
    -- set when the draft updates a published advisory, with the version it was started from
    advisory_id          TEXT REFERENCES advisories (id),
    base_version         TEXT,
    -- the authoring model (herald_csaf::authoring::Draft) as JSON
    draft_json           TEXT NOT NULL,
    -- draft | submitted | published | discarded
    state                TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    created_by           TEXT NOT NULL,
    updated_at           BIGINT NOT NULL,
    updated_by           TEXT NOT NULL,
    submitted_at         BIGINT,
    submitted_by         TEXT,
    -- who approved and published it (the same act) and the version it became
    published_at         BIGINT,
    published_by         TEXT,
    published_version    TEXT
);
CREATE INDEX drafts_org_state ON drafts (manufacturer_org_id, state);
CREATE INDEX drafts_tracking_id ON drafts (tracking_id);

-- Settings an organization's admin changes (audited in audit_log). No row: every default.
CREATE TABLE organization_settings (
    org_id      TEXT PRIMARY KEY REFERENCES organizations (id),
    -- publication of a draft needs an approver (or admin) who is neither its author nor its
    -- last editor
    four_eyes   BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT NOT NULL
);

-- The last number handed out per tracking-id prefix and year.
CREATE TABLE tracking_counters (
    prefix       TEXT NOT NULL,
    year         INTEGER NOT NULL,
    last_number  INTEGER NOT NULL,
    PRIMARY KEY (prefix, year)
);
