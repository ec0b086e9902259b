-- smartfolio store (PostgreSQL), schema 3: coins brought in with a cost basis (`bot create
-- --coins BTC=0.1@50000`). A flow's basis is the cost of one unit in the bot's quote as the
-- user gave it at the transfer; NULL when none was given (the realized-gains report then takes
-- the market value the flow recorded, and flags it).

ALTER TABLE flows ADD COLUMN basis NUMERIC;

UPDATE app_meta SET value = '3' WHERE key = 'schema_version';
