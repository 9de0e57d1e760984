//! The server's integration tests, one module per area, in one test binary. Each test binary links
//! the whole server (actix-web, Leptos, diesel, wasmtime): as fifteen binaries they compiled and
//! linked the same code fifteen times (a rebuild of every test binary after a storage change
//! took 107 s, as one 64 s) and ran one after another.

// First, and with its macros (app!, page!, post_form!, on_both_backends!) in scope for the rest.
#[macro_use]
mod common;

mod access_matrix;
mod access_routes;
mod accounts;
mod authoring;
mod catalog_upload;
mod crash;
mod csrf;
mod delivery;
mod destinations;
mod entitlement;
mod lifecycle;
mod plugin_swap;
mod portal_authoring;
mod portal_destinations;
mod portal_subscriptions;
mod provider;
mod releases;
mod system_mail;
mod templates;
mod tenant;
mod unsubscribe;
mod web;
mod workspace;
