-- The identifier a SCIM client (Entra ID) gives a permission group it provisions (RFC 7643
-- 3.1 externalId); SCIM shows it, the permissions API does not.
ALTER TABLE permission_groups ADD COLUMN external_id TEXT;
