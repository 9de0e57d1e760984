//! The plugin host's integration tests with real Wasm components (built by scripts/build-wasm),
//! one module per area, in one test binary: each test binary links wasmtime and cranelift, and
//! five of them linked the same code five times.

// The Python receiver stand-ins stay beside their scripts in tests/peers/.
#[path = "../peers/mod.rs"]
mod peers;

mod channel_peers;
mod engine_isolation;
mod fhir;
mod hot_swap;
mod module_cache;
mod outbound;
mod plugins;
mod pools;
mod servicenow;
mod trust;
