-- A user being registered on the Commerce platform: reserved (its email is taken) but not yet
-- confirmed. No request reads such a row; the registration, or the recovery job that settles
-- it after a crash, either confirms it (FALSE) or deletes it.
ALTER TABLE users ADD COLUMN registering BOOLEAN NOT NULL DEFAULT FALSE;
