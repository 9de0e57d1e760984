-- The manufacturer's overrides of Herald's compiled-in notification templates (handlebars), one
-- row per event kind, channel (`email`, `default`, or a plugin id) and part (`subject`, `text`,
-- `html`). A row is written only after the template compiled and rendered in strict mode against
-- sample notifications; deleting it restores the built-in default.
CREATE TABLE notification_templates (
    kind        TEXT NOT NULL,
    channel     TEXT NOT NULL,
    part        TEXT NOT NULL,
    body        TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    -- `token:<id>` or `user:<id>` of whoever saved it
    updated_by  TEXT NOT NULL,
    PRIMARY KEY (kind, channel, part)
);
