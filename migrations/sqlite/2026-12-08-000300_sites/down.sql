DROP TABLE installed_base_imports;
DROP TABLE remediation_history;
DROP TABLE remediation_status;
DROP TABLE installed_serials;
CREATE TABLE installed_base_old (
    id          TEXT PRIMARY KEY NOT NULL,
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    product_id  TEXT NOT NULL REFERENCES products (id),
    quantity    INTEGER CHECK (quantity IS NULL OR quantity > 0),
    site        TEXT,
    notes       TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    confirmed_at  BIGINT,
    confirmed_by  TEXT,
    UNIQUE (org_id, product_id)
);
-- One row per product survives (the first by id); the site's name goes back to the text column.
INSERT INTO installed_base_old (id, org_id, product_id, quantity, site, notes, created_at,
                                updated_at, confirmed_at, confirmed_by)
SELECT ib.id, ib.org_id, ib.product_id, ib.quantity, s.name, ib.notes, ib.created_at,
       ib.updated_at, ib.confirmed_at, ib.confirmed_by
  FROM installed_base ib JOIN sites s ON s.id = ib.site_id
 WHERE ib.id = (SELECT MIN(x.id) FROM installed_base x
                 WHERE x.org_id = ib.org_id AND x.product_id = ib.product_id);
DROP TABLE installed_base;
ALTER TABLE installed_base_old RENAME TO installed_base;
CREATE INDEX installed_base_product ON installed_base (product_id);
DROP TABLE sites;
