//! Herald's use cases, each one function that takes the acting [`Principal`] and typed input and
//! returns a domain result or a [`ServiceError`](crate::error::ServiceError). The REST handlers
//! (`web::*`) and the portal's server-function adapters (`portal_*`) parse, call one of these and
//! map the result; every business rule and authorization decision lives here (or, for advisory
//! authoring, in [`crate::authoring`], which takes the same principal), never in an adapter.

pub mod catalog;
pub mod customers;
pub mod deliveries;
pub mod destinations;
pub mod home;
pub mod installed_base;
pub mod installed_base_csv;
pub mod lifecycle;
pub mod principal;
pub mod publish;
pub mod releases;
pub mod remediation;
pub mod reminders;
pub mod sessions;
pub mod sign_in;
pub mod subscriptions;
pub mod templates;
pub mod uptake;
pub mod users;

pub use principal::{Credential, Principal};
