-- When a staff was deleted through SCIM: SCIM answers 404 for it from then on (RFC 7644 3.6),
-- while the staff API still shows it, inactive. Reactivating the staff clears it.
ALTER TABLE staffs ADD COLUMN deprovisioned_date TEXT;
