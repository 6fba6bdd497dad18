-- The deployment's salt for the key TOTP secrets are sealed with (certgate_core::totp::
-- TotpSealing): every node derives the key from the passphrase and this salt once at start,
-- instead of once per secret and per one-time code. NULL until the first start that needs
-- it stores a random one.
ALTER TABLE certgate_state ADD COLUMN totp_sealing_salt {{BYTES}};
