-- The hospital data model entitlement and notification matching read (issues 3 and 4):
-- which hospitals are customers of the manufacturer, what they run (installed base), what the
-- manufacturer granted them beyond that, and what each destination subscribed to.
-- The portal that edits these (installed base, subscriptions, acknowledgements, per-customer
-- feeds) adds columns and tables next to these; nothing here is specific to one screen.

-- A hospital is a customer of a manufacturer: it may read that manufacturer's TLP:GREEN
-- advisories, and TLP:AMBER ones for the products in its installed base.
CREATE TABLE customers (
    manufacturer_org_id  TEXT NOT NULL REFERENCES organizations (id),
    hospital_org_id      TEXT NOT NULL REFERENCES organizations (id),
    -- the manufacturer's own reference for the account (CRM number), optional
    reference            TEXT,
    created_at           BIGINT NOT NULL,
    -- actor that made the hospital a customer (user:<id>, token:<id>, demo, ...)
    created_by           TEXT NOT NULL,
    PRIMARY KEY (manufacturer_org_id, hospital_org_id)
);
CREATE INDEX customers_hospital ON customers (hospital_org_id);

-- The catalog products a hospital runs. One row per product; quantity, site and notes are
-- the hospital's own bookkeeping. A hospital declares its own entries, which route its
-- notifications at once; an entry opens TLP:AMBER advisories only once the manufacturer has
-- confirmed it (or added it itself), because a self-declared list would let any customer read any
-- AMBER advisory by naming the product.
CREATE TABLE installed_base (
    id          TEXT PRIMARY KEY NOT NULL,
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    product_id  TEXT NOT NULL REFERENCES products (id),
    quantity    INTEGER CHECK (quantity IS NULL OR quantity > 0),
    site        TEXT,
    notes       TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    -- when and by whom (user:<id>, token:<id>, demo) the manufacturer confirmed the entry
    confirmed_at  BIGINT,
    confirmed_by  TEXT,
    UNIQUE (org_id, product_id)
);
CREATE INDEX installed_base_product ON installed_base (product_id);

-- Access the manufacturer grants a hospital beyond its installed base: every advisory naming a
-- product, or one advisory. Exactly one of product_id and advisory_id is set.
CREATE TABLE entitlement_grants (
    id                   TEXT PRIMARY KEY NOT NULL,
    manufacturer_org_id  TEXT NOT NULL REFERENCES organizations (id),
    hospital_org_id      TEXT NOT NULL REFERENCES organizations (id),
    product_id           TEXT REFERENCES products (id),
    advisory_id          TEXT REFERENCES advisories (id),
    note                 TEXT,
    created_at           BIGINT NOT NULL,
    created_by           TEXT NOT NULL,
    CHECK ((product_id IS NULL AND advisory_id IS NOT NULL) OR (product_id IS NOT NULL AND advisory_id IS NULL))
);
-- NULLs are distinct in unique indexes on both backends, so each index covers one grant kind.
CREATE UNIQUE INDEX entitlement_grants_product ON entitlement_grants (hospital_org_id, product_id);
CREATE UNIQUE INDEX entitlement_grants_advisory ON entitlement_grants (hospital_org_id, advisory_id);

-- What one destination wants. A destination without a row takes the defaults: every notice
-- kind, every product it may read (narrowed to the installed base when the organization has one),
-- not a security contact.
CREATE TABLE subscriptions (
    destination_id    TEXT PRIMARY KEY NOT NULL REFERENCES destinations (id),
    -- JSON array of products(id); with families: empty = no product filter
    product_ids       TEXT NOT NULL,
    -- JSON array of product family names, compared case-insensitively
    families          TEXT NOT NULL,
    -- JSON array of notice kinds (advisory.published, advisory.updated, ...); empty = every kind
    event_kinds       TEXT NOT NULL,
    -- a designated security contact: receives critical notices even with routine_opt_out
    security_contact  BOOLEAN NOT NULL,
    -- no routine notices (only critical ones, and only if security_contact)
    routine_opt_out   BOOLEAN NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
