//! Logging for the functions: JSON lines to stdout (CloudWatch), level from `RUST_LOG`.
//!
//! Nothing logged by ferry carries a secret value: payloads hold ARNs of secrets, never their values.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber; call once at the start of `main`.
pub fn init() {
    tracing_subscriber::fmt()
        .json()
        .with_max_level(LevelFilter::TRACE)
        .with_current_span(false)
        .without_time()
        .finish()
        .with(filter(crate::config::log_filter().as_deref()))
        .init();
}

/// The filter a `RUST_LOG` value names (`debug`, `info,shared=trace`: a default level and levels
/// per target), or `info` when it is unset or cannot be read.
pub fn filter(spec: Option<&str>) -> Targets {
    spec.and_then(|spec| spec.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

#[cfg(test)]
mod tests {
    use super::filter;
    use tracing::Level;

    #[test]
    fn unset_means_info() {
        let f = filter(None);
        assert!(f.would_enable("shared::tasks", &Level::INFO));
        assert!(!f.would_enable("shared::tasks", &Level::DEBUG));
    }

    #[test]
    fn targets_get_their_own_level() {
        let f = filter(Some("warn,shared=trace"));
        assert!(f.would_enable("shared::tasks::copy_table", &Level::TRACE));
        assert!(f.would_enable("aws_smithy_runtime", &Level::WARN));
        assert!(!f.would_enable("aws_smithy_runtime", &Level::INFO));
    }

    #[test]
    fn an_unreadable_value_falls_back_to_info() {
        let f = filter(Some("shared=loud"));
        assert!(f.would_enable("shared", &Level::INFO));
        assert!(!f.would_enable("shared", &Level::DEBUG));
    }
}
