DROP TABLE installed_base_imports;
DROP TABLE remediation_history;
DROP TABLE remediation_status;
DROP TABLE installed_serials;
ALTER TABLE installed_base ADD COLUMN site TEXT;
UPDATE installed_base ib SET site = s.name FROM sites s WHERE s.id = ib.site_id;
-- One row per product survives (the first by id).
DELETE FROM installed_base ib WHERE ib.id <> (SELECT MIN(x.id) FROM installed_base x
                 WHERE x.org_id = ib.org_id AND x.product_id = ib.product_id);
ALTER TABLE installed_base DROP CONSTRAINT installed_base_site_product;
DROP INDEX installed_base_org;
ALTER TABLE installed_base DROP COLUMN site_id;
ALTER TABLE installed_base ADD CONSTRAINT installed_base_org_id_product_id_key UNIQUE (org_id, product_id);
DROP TABLE sites;
