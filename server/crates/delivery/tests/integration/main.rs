//! The delivery engine's integration tests against real databases and loopback receivers, in
//! one test binary.

mod breaker;
mod engine;
