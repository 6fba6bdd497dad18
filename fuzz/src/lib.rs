//! Code shared by the fuzz targets and the seed generator (`seeds/`): the input format of the
//! `path` target and the harness key that lets fuzzed certificates and CRLs carry valid
//! signatures.
//!
//! Why a harness key: a mutated TBSCertificate no longer matches its signature, so without
//! re-signing nearly every input of the `path` target stops at the first signature check and
//! the fuzzer never reaches name constraints, policy processing or CRL handling. Blobs flagged
//! in the header are treated as the to-be-signed part and signed here with a fixed Ed25519 key;
//! the seed generator rewrites real chains so that every public key in them is that key.

pub mod der;
pub mod harness_key;
pub mod path_case;
pub mod path_input;
pub mod pem;
