-- smartfolio store on PostgreSQL, schema 1. The same tables as migrations/sqlite at schema 3
-- (the number the SQLite store reached when PostgreSQL came), so both backends describe one model.
-- Money is NUMERIC (exact, read as rust_decimal), never a float; times are BIGINT epoch ms (UTC).

CREATE TABLE app_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE bots (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT   NOT NULL UNIQUE,
    venue      TEXT   NOT NULL,
    account    TEXT   NOT NULL,
    quote      TEXT   NOT NULL,
    status     TEXT   NOT NULL,
    config     TEXT   NOT NULL,  -- JSON, owned by smartfolio-bot
    state      TEXT   NOT NULL,  -- JSON, owned by smartfolio-bot
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE rebalances (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bot_id      BIGINT NOT NULL REFERENCES bots(id),
    seq         BIGINT NOT NULL,
    kind        TEXT   NOT NULL,  -- deploy | rebalance | invest | withdraw | stop | resume
    reason      TEXT   NOT NULL,
    status      TEXT   NOT NULL,  -- open | completed | partial | aborted | interrupted
    started_ms  BIGINT NOT NULL,
    finished_ms BIGINT,
    plan        TEXT   NOT NULL,  -- JSON report of the plan
    summary     TEXT,             -- JSON report of what happened
    UNIQUE (bot_id, seq)
);
CREATE INDEX rebalances_open ON rebalances (status);

CREATE TABLE orders (
    client_id       TEXT    PRIMARY KEY,
    bot_id          BIGINT  NOT NULL REFERENCES bots(id),
    rebalance_id    BIGINT  NOT NULL REFERENCES rebalances(id),
    leg             BIGINT  NOT NULL,
    venue           TEXT    NOT NULL,
    account         TEXT    NOT NULL,
    base            TEXT    NOT NULL,
    quote           TEXT    NOT NULL,
    side            TEXT    NOT NULL,  -- buy | sell
    quantity        NUMERIC NOT NULL,
    kind            TEXT    NOT NULL,  -- market | limit
    limit_price     NUMERIC,
    status          TEXT    NOT NULL,  -- pending | open | partially_filled | filled | canceled | rejected | not_sent
    venue_order_id  TEXT,
    filled_quantity NUMERIC NOT NULL,
    error           TEXT,
    created_ms      BIGINT  NOT NULL,
    updated_ms      BIGINT  NOT NULL
);
CREATE INDEX orders_bot ON orders (bot_id);
CREATE INDEX orders_status ON orders (status);

CREATE TABLE fills (
    venue      TEXT    NOT NULL,
    account    TEXT    NOT NULL,
    fill_id    TEXT    NOT NULL,
    client_id  TEXT    NOT NULL REFERENCES orders(client_id),
    bot_id     BIGINT  NOT NULL REFERENCES bots(id),
    base       TEXT    NOT NULL,
    quote      TEXT    NOT NULL,
    side       TEXT    NOT NULL,
    quantity   NUMERIC NOT NULL,
    price      NUMERIC NOT NULL,
    fee        NUMERIC NOT NULL,
    fee_asset  TEXT    NOT NULL,
    time_ms    BIGINT  NOT NULL,
    PRIMARY KEY (venue, account, fill_id)
);
CREATE INDEX fills_bot ON fills (bot_id);

CREATE TABLE ledger (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bot_id  BIGINT  NOT NULL REFERENCES bots(id),
    asset   TEXT    NOT NULL,
    amount  NUMERIC NOT NULL,  -- signed
    kind    TEXT    NOT NULL,  -- deposit | withdraw | trade | fee | release
    ref     TEXT    NOT NULL,  -- fill id, flow id, ...
    time_ms BIGINT  NOT NULL
);
CREATE INDEX ledger_bot ON ledger (bot_id);

CREATE TABLE flows (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bot_id  BIGINT  NOT NULL REFERENCES bots(id),
    kind    TEXT    NOT NULL,  -- deposit | withdraw
    asset   TEXT    NOT NULL,
    amount  NUMERIC NOT NULL,  -- units of asset, > 0
    value   NUMERIC NOT NULL,  -- its value in quote when it moved
    time_ms BIGINT  NOT NULL
);
CREATE INDEX flows_bot ON flows (bot_id);

CREATE TABLE snapshots (
    bot_id       BIGINT  NOT NULL REFERENCES bots(id),
    time_ms      BIGINT  NOT NULL,
    value        NUMERIC NOT NULL,
    net_invested NUMERIC NOT NULL,
    hold_value   NUMERIC NOT NULL,
    PRIMARY KEY (bot_id, time_ms)
);

CREATE TABLE paper_accounts (
    account  TEXT PRIMARY KEY,
    next_seq BIGINT NOT NULL
);

CREATE TABLE paper_balances (
    account TEXT    NOT NULL,
    asset   TEXT    NOT NULL,
    free    NUMERIC NOT NULL,
    locked  NUMERIC NOT NULL,
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
    limit_price     NUMERIC,
    quantity        NUMERIC NOT NULL,  -- in size_unit
    filled_quantity NUMERIC NOT NULL,
    average_price   NUMERIC,
    status          TEXT    NOT NULL,
    created_ms      BIGINT  NOT NULL,
    updated_ms      BIGINT  NOT NULL,
    size_unit       TEXT    NOT NULL,  -- base | quote
    time_in_force   TEXT    NOT NULL,  -- gtc | ioc | fok
    post_only       BOOLEAN NOT NULL,
    filled_quote    NUMERIC NOT NULL,
    fees            TEXT    NOT NULL,  -- JSON [{"asset": .., "amount": ".."}]
    PRIMARY KEY (account, client_id)
);

CREATE TABLE paper_fills (
    account        TEXT    NOT NULL,
    fill_id        TEXT    NOT NULL,
    seq            BIGINT  NOT NULL,
    client_id      TEXT    NOT NULL,
    venue_order_id TEXT    NOT NULL,
    base           TEXT    NOT NULL,
    quote          TEXT    NOT NULL,
    side           TEXT    NOT NULL,
    quantity       NUMERIC NOT NULL,
    price          NUMERIC NOT NULL,
    fee            NUMERIC NOT NULL,
    fee_asset      TEXT    NOT NULL,
    time_ms        BIGINT  NOT NULL,
    PRIMARY KEY (account, fill_id)
);

-- The command queue: enqueued by any process, claimed (FOR UPDATE SKIP LOCKED) by the owner.
CREATE TABLE commands (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    command     TEXT   NOT NULL,  -- JSON, owned by smartfolio-cli
    status      TEXT   NOT NULL,  -- queued | running | done | failed | canceled
    result      TEXT,             -- JSON, owned by smartfolio-cli
    created_ms  BIGINT NOT NULL,  -- wall clock
    finished_ms BIGINT
);
CREATE INDEX commands_queued ON commands (id) WHERE status = 'queued';
CREATE INDEX commands_status ON commands (status);

CREATE TABLE daemon_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

INSERT INTO app_meta (key, value) VALUES ('schema_version', '1');
