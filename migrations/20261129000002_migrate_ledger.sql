-- What `provision migrate` records in the target: one row per completed migration (the
-- source's sha256 makes a re-run of the same file a no-op), and every value it could not
-- place exactly, with the original, so nothing is lost.

CREATE TABLE provision_migrations (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_sha256 text NOT NULL,
    source_path   text NOT NULL,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL DEFAULT now(),
    report        jsonb NOT NULL
);
CREATE INDEX provision_migrations_sha ON provision_migrations (source_sha256);

CREATE TABLE provision_quarantine (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    migration_id bigint NOT NULL REFERENCES provision_migrations (id),
    table_name   text NOT NULL,
    row_key      text NOT NULL,
    -- NULL when the whole row is quarantined.
    column_name  text,
    -- {"type": "integer"|"real"|"text"|"blob"|"null", "value" or "hex": ...}; per column for whole rows.
    original     jsonb NOT NULL,
    reason       text NOT NULL
);
CREATE INDEX provision_quarantine_migration ON provision_quarantine (migration_id);
