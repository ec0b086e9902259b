-- smartfolio store, schema 8: a command is for a venue account (issue 16). `venue` and
-- `account` are set when it is queued (the account of the bot it names, or of a new bot); only
-- an owner holding that account claims it. Commands queued before have none (NULL): any owner
-- claims them, as before.

ALTER TABLE commands ADD COLUMN venue TEXT;
ALTER TABLE commands ADD COLUMN account TEXT;

UPDATE app_meta SET value = '8' WHERE key = 'schema_version';
