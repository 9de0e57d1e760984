DROP TABLE release_fixes;
DROP TABLE release_applies_to;
DROP TABLE releases;
