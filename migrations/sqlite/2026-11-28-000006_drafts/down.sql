DROP TABLE tracking_counters;
DROP TABLE organization_settings;
DROP TABLE drafts;
