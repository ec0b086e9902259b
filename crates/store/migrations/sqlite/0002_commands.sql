-- smartfolio store, schema 2: the daemon's command queue and its small key/value memory.
-- `smartfolio bot ...` run while `smartfolio run` owns the data directory enqueues its command
-- here; the daemon (the single owner of the paper exchange) executes it and writes the result.

CREATE TABLE commands (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    command     TEXT    NOT NULL,  -- JSON, owned by smartfolio-cli
    status      TEXT    NOT NULL,  -- queued | running | done | failed | canceled
    result      TEXT,              -- JSON, owned by smartfolio-cli
    created_ms  INTEGER NOT NULL,  -- wall clock
    finished_ms INTEGER
);
CREATE INDEX commands_status ON commands (status);

CREATE TABLE daemon_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

UPDATE app_meta SET value = '2' WHERE key = 'schema_version';
