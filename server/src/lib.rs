//! The herald server as a library, so that `main.rs` stays a thin command line and the integration
//! tests run the very same application in process.

pub mod advisory_list;
pub mod cli;
pub mod config;
pub mod demo;
pub mod portal;
pub mod portal_destinations;
pub mod portal_subscriptions;
pub mod portal_templates;
pub mod publish;
pub mod secrets;
pub mod serve;
pub mod state;
pub mod telemetry;
pub mod web;
