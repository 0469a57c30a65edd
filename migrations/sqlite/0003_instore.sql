-- Instore: geography, retail stores with their address, permissions and permission groups,
-- staffs and their assignments. Staff tokens live in `api_tokens` (account_kind 'staff').
-- Timestamps are fixed-width RFC 3339 UTC text written by kadro, so they sort as strings.

CREATE TABLE countries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    code TEXT NOT NULL,
    omnitron_id INTEGER,
    created_date TEXT NOT NULL,
    modified_date TEXT NOT NULL
);
CREATE UNIQUE INDEX countries_code_key ON countries (code);
CREATE INDEX countries_omnitron_idx ON countries (omnitron_id);

CREATE TABLE cities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    country_id INTEGER NOT NULL REFERENCES countries (id) ON DELETE RESTRICT,
    omnitron_id INTEGER,
    created_date TEXT NOT NULL,
    modified_date TEXT NOT NULL
);
CREATE INDEX cities_country_idx ON cities (country_id, id);
CREATE INDEX cities_omnitron_idx ON cities (omnitron_id);

CREATE TABLE townships (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    city_id INTEGER NOT NULL REFERENCES cities (id) ON DELETE RESTRICT,
    omnitron_id INTEGER,
    created_date TEXT NOT NULL,
    modified_date TEXT NOT NULL
);
CREATE INDEX townships_city_idx ON townships (city_id, id);
CREATE INDEX townships_omnitron_idx ON townships (omnitron_id);

CREATE TABLE retail_stores (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    remote_id TEXT,
    is_active BOOLEAN NOT NULL,
    fast_delivery BOOLEAN NOT NULL,
    omnitron_id INTEGER,
    created_date TEXT NOT NULL,
    modified_date TEXT NOT NULL
);
CREATE INDEX retail_stores_active_idx ON retail_stores (is_active, id);
CREATE INDEX retail_stores_remote_idx ON retail_stores (remote_id);
CREATE INDEX retail_stores_omnitron_idx ON retail_stores (omnitron_id);

-- One address per store, created and deleted with it.
CREATE TABLE addresses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    retail_store_id INTEGER NOT NULL UNIQUE REFERENCES retail_stores (id) ON DELETE CASCADE,
    township_id INTEGER NOT NULL REFERENCES townships (id) ON DELETE RESTRICT,
    phone_number TEXT NOT NULL,
    line TEXT NOT NULL,
    postcode TEXT,
    created_date TEXT NOT NULL,
    modified_date TEXT NOT NULL
);
CREATE INDEX addresses_township_idx ON addresses (township_id);

-- One row per protected Instore route and method, kept in step with the route table at start.
CREATE TABLE permissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    method TEXT NOT NULL,
    label TEXT,
    parent TEXT,
    is_visible_for_user BOOLEAN NOT NULL,
    created_date TEXT NOT NULL,
    modified_date TEXT NOT NULL
);
CREATE UNIQUE INDEX permissions_route_key ON permissions (path, method);

CREATE TABLE permission_groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    created_date TEXT NOT NULL,
    modified_date TEXT NOT NULL
);
CREATE UNIQUE INDEX permission_groups_name_key ON permission_groups (name);

CREATE TABLE permission_group_permissions (
    group_id INTEGER NOT NULL REFERENCES permission_groups (id) ON DELETE CASCADE,
    permission_id INTEGER NOT NULL REFERENCES permissions (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, permission_id)
);
CREATE INDEX permission_group_permissions_permission_idx
    ON permission_group_permissions (permission_id, group_id);

CREATE TABLE staffs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    email TEXT NOT NULL,
    username TEXT,
    password_hash TEXT NOT NULL,
    remote_id TEXT,
    is_active BOOLEAN NOT NULL,
    is_staff BOOLEAN NOT NULL,
    is_superuser BOOLEAN NOT NULL,
    current_store_id INTEGER REFERENCES retail_stores (id) ON DELETE SET NULL,
    last_login TEXT,
    date_joined TEXT NOT NULL,
    created_date TEXT NOT NULL,
    modified_date TEXT NOT NULL
);
-- Emails are not unique (duplicate_email_staffs finds the shared ones); usernames are, when set.
CREATE INDEX staffs_email_idx ON staffs (lower(email), id);
CREATE UNIQUE INDEX staffs_username_key ON staffs (lower(username));
CREATE INDEX staffs_remote_idx ON staffs (remote_id);
CREATE INDEX staffs_active_idx ON staffs (is_active, id);
CREATE INDEX staffs_current_store_idx ON staffs (current_store_id);

CREATE TABLE staff_retail_stores (
    staff_id INTEGER NOT NULL REFERENCES staffs (id) ON DELETE CASCADE,
    retail_store_id INTEGER NOT NULL REFERENCES retail_stores (id) ON DELETE CASCADE,
    PRIMARY KEY (staff_id, retail_store_id)
);
CREATE INDEX staff_retail_stores_store_idx ON staff_retail_stores (retail_store_id, staff_id);

CREATE TABLE staff_permission_groups (
    staff_id INTEGER NOT NULL REFERENCES staffs (id) ON DELETE CASCADE,
    group_id INTEGER NOT NULL REFERENCES permission_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (staff_id, group_id)
);
CREATE INDEX staff_permission_groups_group_idx ON staff_permission_groups (group_id, staff_id);
