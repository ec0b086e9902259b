-- smartfolio store, schema 6: workers' leases (issue 16). One row per venue account: the worker
-- holding it (NULL once released), the fencing epoch (one more each time the lease changes
-- hands, never reused: the row stays after a release) and the expiry in ms. Fenced writes of a
-- bot's orders and fills read the row of the bot's venue account in their transaction.

CREATE TABLE leases (
    venue TEXT NOT NULL,
    account TEXT NOT NULL,
    holder TEXT,
    epoch INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (venue, account)
);

UPDATE app_meta SET value = '6' WHERE key = 'schema_version';
