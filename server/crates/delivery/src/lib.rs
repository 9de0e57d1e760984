//! Herald's delivery engine: turns outbox events into one delivery per matching destination,
//! claims due deliveries, runs the destination's channel, records every attempt and owns every
//! retry decision. Channels (Wasm plugins, or native ones in tests and benchmarks) implement
//! [`Channel`] (from herald-channel, re-exported here); they never decide whether or when to retry.

pub mod engine;
pub mod templates;

pub use engine::{BreakerSettings, Engine, EngineError, EngineSettings, RunReport};
// The channel contract lives below storage (herald-channel) so that the plugin host need not link
// the engine; re-exported here for the engine's callers.
pub use herald_channel::*;
