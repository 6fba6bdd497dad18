-- A certificate derived from a certificate of another trusted CA (/my/device with
-- derive_from_trusted_cas): which trusted CA issued the parent, and when the parent ends.
--
-- parent_trusted_ca_id: the trusted CA (trusted_cas.id) whose certificate is the issuing CA on
-- the parent's validated path; NULL for parents certgate issued and for rows from before this
-- migration. When that CA's CRL (or delta CRL) is accepted and lists parent_serial_hex, the
-- child is revoked in the same transaction as the CRL cache update. No foreign key: removing a
-- trusted CA must not be blocked by the certificates derived from its certificates.
-- parent_not_after: the parent's notAfter (Unix seconds), the latest the child may end.
ALTER TABLE issued_certificates ADD COLUMN parent_trusted_ca_id BIGINT;
ALTER TABLE issued_certificates ADD COLUMN parent_not_after BIGINT;
CREATE INDEX issued_certificates_foreign_parent ON issued_certificates (parent_trusted_ca_id, parent_serial_hex);
