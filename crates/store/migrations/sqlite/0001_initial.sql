-- smartfolio store, schema 1.
-- Decimals are canonical TEXT (rust_decimal's normalized string form); times are INTEGER epoch ms (UTC).
-- Kept close to portable SQL so the PostgreSQL migration is a transliteration (TEXT money -> NUMERIC).

CREATE TABLE app_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE bots (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL UNIQUE,
    venue      TEXT    NOT NULL,
    account    TEXT    NOT NULL,
    quote      TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    config     TEXT    NOT NULL,  -- JSON, owned by smartfolio-bot
    state      TEXT    NOT NULL,  -- JSON, owned by smartfolio-bot
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);

CREATE TABLE rebalances (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    bot_id      INTEGER NOT NULL REFERENCES bots(id),
    seq         INTEGER NOT NULL,
    kind        TEXT    NOT NULL,  -- deploy | rebalance | invest | withdraw | stop | resume
    reason      TEXT    NOT NULL,
    status      TEXT    NOT NULL,  -- open | completed | partial | aborted | interrupted
    started_ms  INTEGER NOT NULL,
    finished_ms INTEGER,
    plan        TEXT    NOT NULL,  -- JSON report of the plan
    summary     TEXT,              -- JSON report of what happened
    UNIQUE (bot_id, seq)
);
CREATE INDEX rebalances_open ON rebalances (status);

CREATE TABLE orders (
    client_id       TEXT    PRIMARY KEY,
    bot_id          INTEGER NOT NULL REFERENCES bots(id),
    rebalance_id    INTEGER NOT NULL REFERENCES rebalances(id),
    leg             INTEGER NOT NULL,
    venue           TEXT    NOT NULL,
    account         TEXT    NOT NULL,
    base            TEXT    NOT NULL,
    quote           TEXT    NOT NULL,
    side            TEXT    NOT NULL,  -- buy | sell
    quantity        TEXT    NOT NULL,
    kind            TEXT    NOT NULL,  -- market | limit
    limit_price     TEXT,
    status          TEXT    NOT NULL,  -- pending | open | partially_filled | filled | canceled | rejected | not_sent
    venue_order_id  TEXT,
    filled_quantity TEXT    NOT NULL,
    error           TEXT,
    created_ms      INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL
);
CREATE INDEX orders_bot ON orders (bot_id);
CREATE INDEX orders_status ON orders (status);

CREATE TABLE fills (
    venue      TEXT    NOT NULL,
    account    TEXT    NOT NULL,
    fill_id    TEXT    NOT NULL,
    client_id  TEXT    NOT NULL REFERENCES orders(client_id),
    bot_id     INTEGER NOT NULL REFERENCES bots(id),
    base       TEXT    NOT NULL,
    quote      TEXT    NOT NULL,
    side       TEXT    NOT NULL,
    quantity   TEXT    NOT NULL,
    price      TEXT    NOT NULL,
    fee        TEXT    NOT NULL,
    fee_asset  TEXT    NOT NULL,
    time_ms    INTEGER NOT NULL,
    PRIMARY KEY (venue, account, fill_id)
);
CREATE INDEX fills_bot ON fills (bot_id);

CREATE TABLE ledger (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    bot_id  INTEGER NOT NULL REFERENCES bots(id),
    asset   TEXT    NOT NULL,
    amount  TEXT    NOT NULL,  -- signed
    kind    TEXT    NOT NULL,  -- deposit | withdraw | trade | fee | release
    ref     TEXT    NOT NULL,  -- fill id, flow id, ...
    time_ms INTEGER NOT NULL
);
CREATE INDEX ledger_bot ON ledger (bot_id);

CREATE TABLE flows (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    bot_id  INTEGER NOT NULL REFERENCES bots(id),
    kind    TEXT    NOT NULL,  -- deposit | withdraw
    asset   TEXT    NOT NULL,
    amount  TEXT    NOT NULL,  -- units of asset, > 0
    value   TEXT    NOT NULL,  -- its value in quote when it moved, > 0
    time_ms INTEGER NOT NULL
);
CREATE INDEX flows_bot ON flows (bot_id);

CREATE TABLE snapshots (
    bot_id       INTEGER NOT NULL REFERENCES bots(id),
    time_ms      INTEGER NOT NULL,
    value        TEXT    NOT NULL,
    net_invested TEXT    NOT NULL,
    hold_value   TEXT    NOT NULL,
    PRIMARY KEY (bot_id, time_ms)
);

CREATE TABLE paper_accounts (
    account  TEXT PRIMARY KEY,
    next_seq INTEGER NOT NULL
);

CREATE TABLE paper_balances (
    account TEXT NOT NULL,
    asset   TEXT NOT NULL,
    free    TEXT NOT NULL,
    locked  TEXT NOT NULL,
    PRIMARY KEY (account, asset)
);

CREATE TABLE paper_orders (
    account         TEXT    NOT NULL,
    client_id       TEXT    NOT NULL,
    venue_id        TEXT    NOT NULL,
    base            TEXT    NOT NULL,
    quote           TEXT    NOT NULL,
    side            TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    limit_price     TEXT,
    quantity        TEXT    NOT NULL,
    filled_quantity TEXT    NOT NULL,
    average_price   TEXT,
    status          TEXT    NOT NULL,
    created_ms      INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL,
    PRIMARY KEY (account, client_id)
);

CREATE TABLE paper_fills (
    account        TEXT    NOT NULL,
    fill_id        TEXT    NOT NULL,
    seq            INTEGER NOT NULL,
    client_id      TEXT    NOT NULL,
    venue_order_id TEXT    NOT NULL,
    base           TEXT    NOT NULL,
    quote          TEXT    NOT NULL,
    side           TEXT    NOT NULL,
    quantity       TEXT    NOT NULL,
    price          TEXT    NOT NULL,
    fee            TEXT    NOT NULL,
    fee_asset      TEXT    NOT NULL,
    time_ms        INTEGER NOT NULL,
    PRIMARY KEY (account, fill_id)
);

INSERT INTO app_meta (key, value) VALUES ('schema_version', '1');
