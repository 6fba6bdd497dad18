-- The sign-in log: every certificate sign-in attempt with its exact reason.
CREATE TABLE signin_log (
    id {{ID}},
    at BIGINT NOT NULL,
    correlation_id TEXT NOT NULL,
    client_address TEXT NOT NULL,
    application TEXT NOT NULL,
    certificate_subject TEXT,
    certificate_issuer TEXT,
    certificate_serial TEXT,
    certificate_thumbprint TEXT,
    user_principal TEXT,
    binding_rule TEXT,
    strength TEXT,
    result TEXT NOT NULL CHECK (result IN ('success', 'failure')),
    reason_code TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX signin_log_at ON signin_log (at);
CREATE INDEX signin_log_user ON signin_log (user_principal);
