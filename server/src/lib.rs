//! The herald server as a library, so that `main.rs` stays a thin command line and the integration
//! tests run the very same application in process.

// The portal's page views (leptos) nest deeper than the default limit when checked for Send.
#![recursion_limit = "256"]

pub mod advisory_list;
pub mod authoring;
pub mod cli;
pub mod config;
pub mod config_accounts;
pub mod demo;
pub mod demo_lifecycle;
pub mod demo_workspace;
pub mod error;
pub mod mail;
pub mod portal;
pub mod portal_account;
pub mod portal_authoring;
pub mod portal_catalog;
pub mod portal_destinations;
pub mod portal_subscriptions;
pub mod portal_templates;
pub mod portal_workspace;
pub mod publish;
pub mod published;
pub mod secrets;
pub mod serve;
pub mod service;
pub mod state;
pub mod telemetry;
pub mod web;
