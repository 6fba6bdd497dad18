-- A cached CRL's DER in chunks (crl_cache_der), no longer in one crl_cache.der value: a CRL can
-- be 150 MB, and writing or reading one value that size makes the database driver copy it
-- whole several times over (the Any driver's argument and row conversions, SQLite's bound
-- value and record), so that caching a CRL took several times its size in memory. Chunks of
-- a few hundred kilobytes are written and read one after the other, in one statement's
-- snapshot.
--
-- crl_cache_der: the chunks of a version of a CA's CRL; seq orders them from 0 and the DER is
-- their concatenation. A new CRL's chunks are written under a version of their own (the first
-- 8 bytes of the DER's SHA-256) in short transactions before one short transaction makes it
-- the cached CRL, so that caching a large CRL never holds the write lock (and every sign-in
-- recording itself) for long; the replaced version's chunks are deleted after it.
-- crl_cache.der_version: the version of the cached CRL's chunks (0 for those moved here).
-- crl_cache.der_bytes: the DER's length, for listings and to size the buffer it is read into.
-- crl_cache.der_sha256: SHA-256 of the DER, so that a download with the cached number is told
-- apart from the cached CRL without reading it back; NULL for CRLs cached before this
-- migration (read back once when it matters).
CREATE TABLE crl_cache_der (
    ca_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    version BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    bytes {{BYTES}} NOT NULL,
    PRIMARY KEY (ca_id, kind, version, seq)
);
INSERT INTO crl_cache_der (ca_id, kind, version, seq, bytes)
    SELECT ca_id, kind, 0, 0, der FROM crl_cache;
ALTER TABLE crl_cache ADD COLUMN der_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE crl_cache ADD COLUMN der_bytes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE crl_cache ADD COLUMN der_sha256 {{BYTES}};
UPDATE crl_cache SET der_bytes = LENGTH(der);
ALTER TABLE crl_cache DROP COLUMN der;
