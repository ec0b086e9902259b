-- smartfolio store, schema 3: paper orders of the exchange interface v2.
-- An order is sized in base or quote units (`quantity` holds the amount in `size_unit`), has a
-- time in force and a post-only flag, and carries its cumulative quote filled and fees.
-- Rows written before schema 3 keep NULL in `filled_quote` and `fees`: they are derived from the
-- order's fills when the account is loaded.

ALTER TABLE paper_orders ADD COLUMN size_unit     TEXT    NOT NULL DEFAULT 'base'; -- base | quote
ALTER TABLE paper_orders ADD COLUMN time_in_force TEXT    NOT NULL DEFAULT 'gtc';  -- gtc | ioc | fok
ALTER TABLE paper_orders ADD COLUMN post_only     INTEGER NOT NULL DEFAULT 0;
ALTER TABLE paper_orders ADD COLUMN filled_quote  TEXT;
ALTER TABLE paper_orders ADD COLUMN fees          TEXT;  -- JSON [{"asset": .., "amount": ".."}]

UPDATE app_meta SET value = '3' WHERE key = 'schema_version';
