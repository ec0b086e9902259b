-- smartfolio store, schema 4: a bot's rebalances, orders and fills by page, newest first.
-- Keyset paging walks (bot_id, time, id) in these indexes; a page and its total read no more
-- than the page's rows and the index entries of the filtered range.

CREATE INDEX rebalances_bot_time ON rebalances (bot_id, started_ms, id);
CREATE INDEX orders_bot_time ON orders (bot_id, created_ms, client_id);
CREATE INDEX fills_bot_time ON fills (bot_id, time_ms, fill_id);

UPDATE app_meta SET value = '4' WHERE key = 'schema_version';
