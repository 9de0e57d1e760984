-- End of support (issue 16): the lifecycle dates a manufacturer announces per catalog product
-- (each a day 'YYYY-MM-DD', 'tba', or NULL when not announced), its recommended compensating
-- controls, and the informational advisory generated from them.
CREATE TABLE product_lifecycle (
    product_id               TEXT PRIMARY KEY REFERENCES products (id),
    general_availability     TEXT,
    end_of_sales             TEXT,
    end_of_standard_support  TEXT,
    end_of_security_updates  TEXT,
    compensating_controls    TEXT NOT NULL,
    -- the csaf_informational_advisory announcing these dates, once published
    advisory_tracking_id     TEXT,
    updated_at               BIGINT NOT NULL,
    updated_by               TEXT NOT NULL
);
