-- smartfolio store (PostgreSQL), schema 2: a bot's rebalances, orders and fills by page, newest
-- first. Keyset paging walks (bot_id, time, id) in these indexes; text ids compare bytewise
-- (COLLATE "C"), as SQLite compares them.

CREATE INDEX rebalances_bot_time ON rebalances (bot_id, started_ms, id);
CREATE INDEX orders_bot_time ON orders (bot_id, created_ms, client_id COLLATE "C");
CREATE INDEX fills_bot_time ON fills (bot_id, time_ms, fill_id COLLATE "C");

UPDATE app_meta SET value = '2' WHERE key = 'schema_version';
