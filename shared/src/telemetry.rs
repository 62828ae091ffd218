//! Logging for the functions: JSON lines to stdout (CloudWatch), level from `RUST_LOG`.
//!
//! Nothing logged by ferry carries a secret value: payloads hold ARNs of secrets, never their values.

/// Installs the global subscriber; call once at the start of `main`.
pub fn init() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .without_time()
        .init();
}
