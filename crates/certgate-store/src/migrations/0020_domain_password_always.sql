-- Applications that ask every sign-in for the user's domain password after the certificate,
-- whatever the request says (relying parties and OpenID Connect clients).
ALTER TABLE relying_parties ADD COLUMN require_domain_password {{BOOL}} NOT NULL DEFAULT FALSE;
ALTER TABLE oidc_clients ADD COLUMN require_domain_password {{BOOL}} NOT NULL DEFAULT FALSE;
-- Whether the directory accepted the user's domain password in the sign-in a code or grant
-- comes from (`pwd` in amr). Sign-ins from before this version asked for none.
ALTER TABLE oidc_authorization_codes ADD COLUMN domain_password {{BOOL}} NOT NULL DEFAULT FALSE;
ALTER TABLE oidc_grants ADD COLUMN domain_password {{BOOL}} NOT NULL DEFAULT FALSE;
