//! The storage crate's integration tests, one module per area, in one test binary (one link of
//! diesel and both backends' drivers instead of eight). Every test body runs on SQLite and on
//! PostgreSQL, each on a fresh database (`both_backends!`).

mod advisory_list;
mod breaker;
mod catalog;
mod customers;
mod drafts;
mod fan_out_policy;
mod secrets;
mod sessions;
mod storage;
mod workspace;
