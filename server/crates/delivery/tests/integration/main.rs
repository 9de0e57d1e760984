//! The delivery engine's integration tests against real databases and loopback receivers, in
//! one test binary.

/// `on_both!(name, ...)` turns each `async fn name(backend: Backend) -> anyhow::Result<()>` into
/// two tests, `name::sqlite` and `name::postgres`, each on the multi-threaded runtime.
macro_rules! on_both {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() -> anyhow::Result<()> {
                super::$name(herald_storage::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() -> anyhow::Result<()> {
                super::$name(herald_storage::Backend::Postgres).await
            }
        }
    )+};
}

mod breaker;
mod engine;
mod isolation;
mod rig;
