-- Sign-ins in progress between the web and the certificate sign-in listeners.
CREATE TABLE login_flows (
    id_hash {{BYTES}} PRIMARY KEY,
    browser_hash {{BYTES}} NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    request TEXT NOT NULL,
    step TEXT NOT NULL,
    user_id TEXT,
    upn TEXT,
    display_name TEXT,
    certificate_serial TEXT,
    certificate_issuer TEXT,
    strength TEXT,
    auth_time BIGINT,
    second_factor TEXT,
    correlation_id TEXT
);
CREATE INDEX login_flows_expires ON login_flows (expires_at);
