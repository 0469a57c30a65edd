-- SQLite has no trigram index; an FTS5 table with the trigram tokenizer, kept in step with
-- `users` by triggers, answers the users list's case-insensitive contains filters
-- (email, first_name, last_name, phone_number) without scanning every user.

CREATE VIRTUAL TABLE users_search USING fts5(
    email, first_name, last_name, phone_number,
    content = 'users', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO users_search (users_search) VALUES ('rebuild');

CREATE TRIGGER users_search_insert AFTER INSERT ON users
BEGIN
    INSERT INTO users_search (rowid, email, first_name, last_name, phone_number)
    VALUES (NEW.id, NEW.email, NEW.first_name, NEW.last_name, NEW.phone_number);
END;

CREATE TRIGGER users_search_delete AFTER DELETE ON users
BEGIN
    INSERT INTO users_search (users_search, rowid, email, first_name, last_name, phone_number)
    VALUES ('delete', OLD.id, OLD.email, OLD.first_name, OLD.last_name, OLD.phone_number);
END;

CREATE TRIGGER users_search_update AFTER UPDATE OF email, first_name, last_name, phone_number ON users
BEGIN
    INSERT INTO users_search (users_search, rowid, email, first_name, last_name, phone_number)
    VALUES ('delete', OLD.id, OLD.email, OLD.first_name, OLD.last_name, OLD.phone_number);
    INSERT INTO users_search (rowid, email, first_name, last_name, phone_number)
    VALUES (NEW.id, NEW.email, NEW.first_name, NEW.last_name, NEW.phone_number);
END;
