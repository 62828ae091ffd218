//! The command's one error type: a message for people and a short reason for scripts (the
//! `reason` of `--output json`). Every error exits 1.

use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// What went wrong, for people (`message`) and for scripts (`reason`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// A short, stable name: `invalid_input`, `aws`, `not_found`, `not_waiting`, ….
    pub reason: &'static str,
    /// What happened and, where it helps, what to do.
    pub message: String,
}

/// The command's result type.
pub type Result<T> = std::result::Result<T, CliError>;

impl CliError {
    /// An error with its reason.
    pub fn new(reason: &'static str, message: impl Into<String>) -> Self {
        CliError {
            reason,
            message: message.into(),
        }
    }

    /// A failed AWS call: what was being done, and the service's error code and message (else
    /// the HTTP status, else the SDK's error chain: a connection refused, a timeout).
    pub fn aws<E>(doing: &str, error: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let detail = match (error.code(), error.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(text), None) | (None, Some(text)) => text.to_string(),
            (None, None) => match error.raw_response() {
                Some(raw) => format!("HTTP {}", raw.status().as_u16()),
                None => chain(&error),
            },
        };
        CliError::new("aws", format!("{doing}: {detail}"))
    }
}

/// An error and its sources, one after the other (`dispatch failure: io error: …: Connection
/// refused`), each said once.
fn chain(error: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn an_error_chain_reads_as_one_line_without_repeats() {
        let refused = Layer("Connection refused", None);
        let connect = Layer(
            "tcp connect error: Connection refused",
            Some(Box::new(refused)),
        );
        let dispatch = Layer("dispatch failure", Some(Box::new(connect)));
        assert_eq!(
            chain(&dispatch),
            "dispatch failure: tcp connect error: Connection refused"
        );
    }
}
