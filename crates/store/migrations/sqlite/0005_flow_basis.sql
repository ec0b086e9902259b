-- smartfolio store, schema 5: coins brought in with a cost basis (`bot create --coins
-- BTC=0.1@50000`). A flow's basis is the cost of one unit in the bot's quote as the user gave
-- it at the transfer; NULL when none was given (the realized-gains report then takes the
-- market value the flow recorded, and flags it). Canonical decimal text, as every amount.

ALTER TABLE flows ADD COLUMN basis TEXT;

UPDATE app_meta SET value = '5' WHERE key = 'schema_version';
