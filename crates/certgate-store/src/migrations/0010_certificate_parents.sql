-- Where a certificate came from: the certificate that authenticated the request for it, on
-- EST re-enrollment (simplereenroll) and on /my/device. All three stay NULL for a certificate
-- issued with an enrollment code or by `certgate pki issue`, and for every certificate issued
-- before this migration (their origin was not recorded).
--
-- parent_serial_hex: the parent's serial, lowercase hex as issued_certificates.serial_hex.
-- parent_issuer: the parent's issuer DN (Windows form), for people.
-- parent_authority_id: the certgate CA that issued the parent, when certgate did; NULL for a
-- certificate of another trusted CA (only /my/device accepts those). Revoking a certificate
-- revokes the rows whose parent_serial_hex is its serial and parent_authority_id its CA, and
-- so on down: the index below serves that walk.
ALTER TABLE issued_certificates ADD COLUMN parent_serial_hex TEXT;
ALTER TABLE issued_certificates ADD COLUMN parent_issuer TEXT;
ALTER TABLE issued_certificates ADD COLUMN parent_authority_id BIGINT REFERENCES authorities (id);
CREATE INDEX issued_certificates_parent ON issued_certificates (parent_serial_hex, parent_authority_id);
