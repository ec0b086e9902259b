-- smartfolio store (PostgreSQL), schema 6: a command is for a venue account (issue 16).
-- `venue` and `account` are set when it is queued (the account of the bot it names, or of a
-- new bot); only the worker holding that account's lease claims it, so a command for an
-- account no worker holds waits in the queue. Commands queued before have none (NULL): any
-- worker claims them, as before.

ALTER TABLE commands ADD COLUMN venue TEXT;
ALTER TABLE commands ADD COLUMN account TEXT;
CREATE INDEX commands_queued_account ON commands (venue, account, id) WHERE status = 'queued';

UPDATE app_meta SET value = '6' WHERE key = 'schema_version';
