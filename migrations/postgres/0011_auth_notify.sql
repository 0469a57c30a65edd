-- Several kadro nodes share this database, each with a token cache. Every change that can alter
-- what a token grants (an account deactivated, deleted or made superuser or not, a password
-- changed, a token revoked, a group's permissions or a staff's groups changed) announces itself
-- with NOTIFY kadro_auth in the transaction that makes it, so it is delivered at commit, to every
-- node LISTENing, whoever made it: the API of any node, the CLI, or SQL by hand.
CREATE FUNCTION kadro_auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('kadro_auth', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;

-- A token's last use (written at most once a minute) changes nothing it grants.
CREATE TRIGGER api_tokens_auth_changed
    AFTER UPDATE OF key_hash, account_kind, account_id, created_at OR DELETE OR TRUNCATE
    ON api_tokens FOR EACH STATEMENT EXECUTE FUNCTION kadro_auth_changed();

CREATE TRIGGER users_auth_changed
    AFTER UPDATE OF is_active, is_staff, is_superuser, division_id, password_hash OR DELETE
    ON users FOR EACH STATEMENT EXECUTE FUNCTION kadro_auth_changed();

CREATE TRIGGER staffs_auth_changed
    AFTER UPDATE OF is_active, is_staff, is_superuser, password_hash OR DELETE
    ON staffs FOR EACH STATEMENT EXECUTE FUNCTION kadro_auth_changed();

CREATE TRIGGER staff_permission_groups_auth_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON staff_permission_groups
    FOR EACH STATEMENT EXECUTE FUNCTION kadro_auth_changed();

CREATE TRIGGER permission_group_permissions_auth_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON permission_group_permissions
    FOR EACH STATEMENT EXECUTE FUNCTION kadro_auth_changed();

CREATE TRIGGER permission_groups_auth_changed
    AFTER DELETE OR TRUNCATE ON permission_groups
    FOR EACH STATEMENT EXECUTE FUNCTION kadro_auth_changed();
