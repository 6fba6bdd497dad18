//! Code shared by the certgate-server benchmarks: the environment they read, where their cache
//! and JSON go, the fixture cache, /proc readings and the figures' formatting (all of them);
//! and for the two that run nginx beside certgate (certauth, front_door): their PKI and CRLs,
//! certgate and nginx as child processes started side by side, CPU accounting and the TLS load
//! generator. Each benchmark includes it with `#[path = "../common/mod.rs"] mod common;`;
//! certgate's validation benchmark includes `environment.rs`, `format.rs` and `fixture.rs`.
#![allow(dead_code)] // each benchmark uses a part

pub(crate) mod certgate_process;
pub(crate) mod cpu;
mod environment;
pub(crate) mod fixture;
pub(crate) mod format;
pub(crate) mod load;
pub(crate) mod mtls_fixture;
pub(crate) mod nginx;
pub(crate) mod proc;
pub(crate) mod settings;
pub(crate) mod side_by_side;
pub(crate) mod trust;

pub(crate) use environment::{cache_root, quick, write_json};
