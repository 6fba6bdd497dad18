-- When the directory accepted the user's domain password in a sign-in (a bind as the user
-- after the certificate); NULL when the flow asked for none.
ALTER TABLE login_flows ADD COLUMN domain_password_verified_at BIGINT;
