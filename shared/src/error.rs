//! `TaskError`: the one error type every step returns, and its stable `error_type` names.
//!
//! The state machines' `Retry` and `Catch` blocks match on [`TaskError::error_type`], so those names
//! are part of ferry's public contract: add new ones, never rename them. Messages tell the operator
//! what to fix and never carry a secret value.

use std::error::Error as StdError;
use std::fmt;

use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// A boxed error kept as the `source` of a [`TaskError`].
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// One problem found in an input, with the path of the field it concerns (`tables[1].segments`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// Path of the offending field, `$` for the whole document.
    pub field: String,
    /// What is wrong with it and what would be accepted.
    pub problem: String,
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

/// A resource that was looked for and not found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingResource {
    /// Kind of resource: "DynamoDB table", "S3 bucket", "Glue job", ….
    pub what: &'static str,
    /// Its name as given in the input.
    pub name: String,
    /// Where it was looked for: "environment 'test' (account 2222…, us-east-1)".
    pub place: String,
}

impl fmt::Display for MissingResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} '{}' in {}", self.what, self.name, self.place)
    }
}

/// How a call to AWS or to a third-party API failed, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The service asked us to slow down.
    Throttled,
    /// A transient failure: timeout, connection error, 5xx.
    Retryable,
    /// The credentials were refused or lack a permission.
    Unauthorized,
    /// The named resource does not exist.
    NotFound,
    /// The resource is in a state that forbids the call right now.
    Conflict,
    /// Anything else: the request itself is wrong.
    Rejected,
}

impl Failure {
    /// The `error_type` of an AWS call that failed this way.
    fn error_type(self) -> &'static str {
        match self {
            Failure::Throttled => "Throttled",
            Failure::Retryable => "Retryable",
            Failure::Unauthorized => "Unauthorized",
            Failure::NotFound => "NotFound",
            Failure::Conflict => "Conflict",
            Failure::Rejected => "AwsRejected",
        }
    }
}

/// The longest wait a service may ask for (`Retry-After`) that the state machines' `Throttled`
/// retrier covers (its delays reach 60 s); a longer one is `ThrottledMinutes`, whose retrier waits
/// minutes in the state machine (never in a Lambda).
pub const THROTTLED_SECONDS: u64 = 60;

/// The error every ferry step returns.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The input is malformed; every problem is listed with its field path.
    #[error("invalid input ({} problem{}): {}", .0.len(), if .0.len() == 1 { "" } else { "s" }, join_problems(.0))]
    InvalidInput(Vec<FieldProblem>),

    /// The environment resolves to an account that ferry must never change.
    #[error(
        "environment '{environment}' resolves to account {account_id}, which is protected: ferry never changes it (FERRY_PROTECTED_ACCOUNT_IDS)"
    )]
    ProtectedTarget {
        /// Name of the environment from the input.
        environment: String,
        /// The account the credentials act in.
        account_id: String,
    },

    /// Resources named in the input do not exist where they were expected (all of them listed).
    #[error("not found: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    NotFound(Vec<MissingResource>),

    /// The resources exist but do not fit together (for example a consumer that reads no target table).
    #[error("{0}")]
    Mismatch(String),

    /// A long-running job ended badly; the message is the job's own.
    #[error("{kind} job '{id}' ended {state}: {message}")]
    JobFailed {
        /// Job kind ("glue", …).
        kind: &'static str,
        /// Job identifier.
        id: String,
        /// The job's final state as the service reports it.
        state: String,
        /// The job's own error message.
        message: String,
    },

    /// An AWS call failed.
    #[error("{operation} on {resource} failed: {detail}")]
    Aws {
        /// The API operation, such as `DescribeTable`.
        operation: &'static str,
        /// The resource it addressed.
        resource: String,
        /// Classification used for retries.
        failure: Failure,
        /// The service's error code and message, without secrets.
        detail: String,
        /// The original SDK error.
        #[source]
        source: BoxError,
    },

    /// A guard refused the plan before anything changed (protected entity, too many deletions, an
    /// empty source with pruning on).
    #[error("refused, nothing was changed: {0}")]
    Refused(String),

    /// Applying a plan stopped at one change; the message names what was applied and what was not.
    /// Its `error_type` is the failed call's, so a transient failure is retried (the re-run plans
    /// again and converges).
    #[error(
        "applying {failed} failed: {source}{}; applied ({}): {}; not applied ({}): {}",
        also_failed(.others), .applied.len(), list_or_none(.applied), .not_applied.len(),
        list_or_none(.not_applied)
    )]
    ApplyFailed {
        /// The change that failed (`kind/id`).
        failed: String,
        /// Other changes of the same step that failed too, each with why (`kind/id: error`).
        others: Vec<String>,
        /// Changes applied by this call, in the order they finished.
        applied: Vec<String>,
        /// Changes not applied (the failed one first).
        not_applied: Vec<String>,
        /// Why the change failed.
        #[source]
        source: Box<TaskError>,
    },

    /// The run this invocation writes for failed and raised its stop signal: the invocation stopped
    /// between pages (or before its first) and must not be retried.
    #[error("stopped: run {run_id} failed and stopped its writers ({reason})")]
    Stopped {
        /// The ferry run.
        run_id: String,
        /// Why the run stopped: its error type and cause.
        reason: String,
    },

    /// Several independent calls failed: every one is named, the first decides the error type.
    #[error("{first}{}", also_failed(.others))]
    Several {
        /// The first failure.
        first: Box<TaskError>,
        /// Every other failure, each with what it was about.
        others: Vec<String>,
    },

    /// After a promotion, the target lacks what the plan promised (every gap listed).
    #[error("verification failed: {}", .0.join("; "))]
    VerificationFailed(Vec<String>),

    /// A call to a third-party API (Spark, …) failed.
    #[error("{service} {operation} on {resource} failed: {detail}")]
    Api {
        /// The platform called: "Spark", ….
        service: &'static str,
        /// What was asked, such as `start export`.
        operation: &'static str,
        /// The tenant, job or object it addressed.
        resource: String,
        /// Classification used for retries.
        failure: Failure,
        /// HTTP status and the service's own message, without secrets.
        detail: String,
        /// How long the service asked to wait before the next call (a 429's `Retry-After`), when
        /// it said so; the state machine waits this long before retrying the step.
        retry_after_seconds: Option<u64>,
    },
}

fn list_or_none(items: &[String]) -> String {
    const SHOWN: usize = 20;
    if items.is_empty() {
        return "none".to_string();
    }
    let mut text = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        text.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    text
}

/// The other failures, the first [`OTHERS_SHOWN`] of them spelled out.
fn also_failed(others: &[String]) -> String {
    if others.is_empty() {
        return String::new();
    }
    let shown = others[..others.len().min(OTHERS_SHOWN)].join("; ");
    let rest = others.len().saturating_sub(OTHERS_SHOWN);
    let rest = if rest > 0 {
        format!("; and {rest} more")
    } else {
        String::new()
    };
    format!("; {} more failed too: {shown}{rest}", others.len())
}

/// Other failures spelled out in one error (a state's error cause stays within its 32 KiB).
const OTHERS_SHOWN: usize = 20;
/// The longest error message a step returns: Step Functions keeps at most 32,768 characters of a
/// cause, and the refresh's state budget counts 32 KiB for one.
pub const MAX_MESSAGE_CHARS: usize = 30_000;

fn join_problems(problems: &[FieldProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl TaskError {
    /// Edits the resource and detail of a failed AWS call; any other error passes unchanged.
    pub fn reword(self, edit: impl FnOnce(&mut String, &mut String)) -> TaskError {
        match self {
            TaskError::Aws {
                operation,
                mut resource,
                failure,
                mut detail,
                source,
            } => {
                edit(&mut resource, &mut detail);
                TaskError::Aws {
                    operation,
                    resource,
                    failure,
                    detail,
                    source,
                }
            }
            other => other,
        }
    }

    /// The stable name the state machines' `Retry`/`Catch` match on.
    pub fn error_type(&self) -> &'static str {
        match self {
            TaskError::InvalidInput(_) => "InvalidInput",
            TaskError::ProtectedTarget { .. } => "ProtectedTarget",
            TaskError::NotFound(_) => "NotFound",
            TaskError::Mismatch(_) => "InvalidInput",
            TaskError::JobFailed { .. } => "JobFailed",
            TaskError::VerificationFailed(_) => "VerificationFailed",
            TaskError::Refused(_) => "Refused",
            TaskError::Stopped { .. } => "Stopped",
            TaskError::ApplyFailed { source, .. } => source.error_type(),
            TaskError::Several { first, .. } => first.error_type(),
            TaskError::Aws { failure, .. } => failure.error_type(),
            TaskError::Api {
                failure,
                retry_after_seconds,
                ..
            } => match failure {
                Failure::Rejected => "ApiRejected",
                Failure::Throttled
                    if retry_after_seconds.is_some_and(|s| s > THROTTLED_SECONDS) =>
                {
                    "ThrottledMinutes"
                }
                other => other.error_type(),
            },
        }
    }

    /// Every `error_type` a step can return; the infrastructure checks match against this list.
    pub const ERROR_TYPES: &'static [&'static str] = &[
        "InvalidInput",
        "ProtectedTarget",
        "NotFound",
        "JobFailed",
        "Throttled",
        "Retryable",
        "Unauthorized",
        "Conflict",
        "AwsRejected",
        "ApiRejected",
        "VerificationFailed",
        "Refused",
        "ThrottledMinutes",
        "Stopped",
    ];

    /// A single-problem [`TaskError::InvalidInput`].
    pub fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        TaskError::InvalidInput(vec![FieldProblem {
            field: field.into(),
            problem: problem.into(),
        }])
    }

    /// Wraps a failed AWS SDK call, classifying it for retries.
    pub fn aws<E>(operation: &'static str, resource: impl Into<String>, err: E) -> Self
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        let failure = classify(err.code(), &err);
        let detail = match (err.code(), err.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_string(),
            _ => DisplayErrorContext(&err).to_string(),
        };
        TaskError::Aws {
            operation,
            resource: resource.into(),
            failure,
            detail,
            source: Box::new(err),
        }
    }

    /// The wait a throttling service asked for, in seconds, when it named one.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        match self {
            TaskError::Api {
                retry_after_seconds,
                ..
            } => *retry_after_seconds,
            TaskError::ApplyFailed { source, .. } => source.retry_after_seconds(),
            TaskError::Several { first, .. } => first.retry_after_seconds(),
            _ => None,
        }
    }

    /// One error for independent calls that failed (none: `Ok`), naming each with `what` failed.
    pub fn several(failures: Vec<(String, TaskError)>) -> Result<(), TaskError> {
        let mut failures = failures.into_iter();
        let Some((_, first)) = failures.next() else {
            return Ok(());
        };
        let others: Vec<String> = failures.map(|(what, e)| format!("{what}: {e}")).collect();
        if others.is_empty() {
            return Err(first);
        }
        Err(TaskError::Several {
            first: Box::new(first),
            others,
        })
    }

    /// Whether this error means the addressed resource does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            TaskError::NotFound(_)
                | TaskError::Aws {
                    failure: Failure::NotFound,
                    ..
                }
                | TaskError::Api {
                    failure: Failure::NotFound,
                    ..
                }
        )
    }
}

/// Classifies an AWS error by its code, falling back to the transport-level shape of the error.
fn classify(code: Option<&str>, err: &(dyn StdError + 'static)) -> Failure {
    match code {
        Some(code) => classify_code(code),
        None => {
            let text = DisplayErrorContext(err).to_string();
            if text.contains("status: 4") || text.contains("StatusCode(4") {
                Failure::Rejected
            } else {
                Failure::Retryable
            }
        }
    }
}

/// Maps an AWS error code to its retry class.
pub fn classify_code(code: &str) -> Failure {
    match code {
        "ThrottlingException"
        | "Throttling"
        | "ThrottledException"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "ProvisionedThroughputExceededException"
        | "SlowDown"
        | "LimitExceededException"
        | "ConcurrentRunsExceededException" => Failure::Throttled,
        "InternalServerError"
        | "InternalServiceException"
        | "InternalFailure"
        | "InternalError"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "ServiceException"
        | "RequestTimeout"
        | "RequestTimeoutException"
        | "OperationTimeoutException" => Failure::Retryable,
        "AccessDenied"
        | "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "SignatureDoesNotMatch"
        | "InvalidAccessKeyId"
        | "AuthorizationError" => Failure::Unauthorized,
        "ResourceNotFoundException"
        | "EntityNotFoundException"
        | "NoSuchBucket"
        | "NotFound"
        | "NoSuchKey"
        | "TableNotFoundException" => Failure::NotFound,
        "ResourceInUseException"
        | "ResourceConflictException"
        | "ConditionalCheckFailedException"
        | "ConcurrentModificationException"
        | "TransactionConflictException" => Failure::Conflict,
        _ => Failure::Rejected,
    }
}

/// `message` cut to [`MAX_MESSAGE_CHARS`] characters, saying how long it was.
fn capped(message: String) -> String {
    let count = message.chars().count();
    if count <= MAX_MESSAGE_CHARS {
        return message;
    }
    let cut: String = message.chars().take(MAX_MESSAGE_CHARS - 40).collect();
    format!("{cut}… (cut: {count} characters)")
}

impl From<TaskError> for lambda_runtime::Diagnostic {
    fn from(err: TaskError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: err.error_type().to_string(),
            error_message: capped(err.to_string()),
        }
    }
}

#[cfg(test)]
mod throttling_tests {
    use super::*;

    fn throttled(retry_after_seconds: Option<u64>) -> TaskError {
        TaskError::Api {
            service: "Sesam",
            operation: "read config",
            resource: "node".into(),
            failure: Failure::Throttled,
            detail: "HTTP 429".into(),
            retry_after_seconds,
        }
    }

    #[test]
    fn a_long_retry_after_is_waited_for_in_minutes() {
        assert_eq!(throttled(None).error_type(), "Throttled");
        assert_eq!(throttled(Some(60)).error_type(), "Throttled");
        assert_eq!(throttled(Some(600)).error_type(), "ThrottledMinutes");
        assert!(TaskError::ERROR_TYPES.contains(&"ThrottledMinutes"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_input_lists_every_problem_with_its_field() {
        let err = TaskError::InvalidInput(vec![
            FieldProblem {
                field: "source.region".into(),
                problem: "is required".into(),
            },
            FieldProblem {
                field: "tables[0].segments".into(),
                problem: "must be between 1 and 1000000".into(),
            },
        ]);
        let message = err.to_string();
        assert!(message.starts_with("invalid input (2 problems)"));
        assert!(message.contains("source.region: is required"));
        assert!(message.contains("tables[0].segments: must be between 1 and 1000000"));
        assert_eq!(err.error_type(), "InvalidInput");
    }

    #[test]
    fn throttling_and_server_errors_are_retryable_classes() {
        assert_eq!(
            classify_code("ProvisionedThroughputExceededException"),
            Failure::Throttled
        );
        assert_eq!(classify_code("InternalServerError"), Failure::Retryable);
        assert_eq!(
            classify_code("AccessDeniedException"),
            Failure::Unauthorized
        );
        assert_eq!(
            classify_code("ResourceNotFoundException"),
            Failure::NotFound
        );
        assert_eq!(classify_code("ValidationException"), Failure::Rejected);
    }

    #[test]
    fn every_error_type_is_listed() {
        let samples = [
            TaskError::invalid("x", "y"),
            TaskError::ProtectedTarget {
                environment: "prod".into(),
                account_id: "1".into(),
            },
            TaskError::NotFound(vec![MissingResource {
                what: "DynamoDB table",
                name: "t".into(),
                place: "p".into(),
            }]),
            TaskError::Mismatch("m".into()),
            TaskError::JobFailed {
                kind: "glue",
                id: "j".into(),
                state: "FAILED".into(),
                message: "boom".into(),
            },
        ];
        for err in samples {
            assert!(TaskError::ERROR_TYPES.contains(&err.error_type()));
        }
        let many = (0..500)
            .map(|i| {
                (
                    format!("instance {i}"),
                    TaskError::Mismatch("x".repeat(300)),
                )
            })
            .collect();
        let several = TaskError::several(many).unwrap_err().to_string();
        assert!(several.contains("499 more failed too") && several.ends_with("and 479 more"));
        assert!(several.len() < 10_000, "{} bytes", several.len());
        let long: lambda_runtime::Diagnostic = TaskError::Mismatch("é".repeat(40_000)).into();
        assert!(long.error_message.chars().count() <= MAX_MESSAGE_CHARS);
        assert!(long.error_message.ends_with("characters)"));
        let diagnostic: lambda_runtime::Diagnostic = TaskError::invalid("a", "b").into();
        assert_eq!(diagnostic.error_type, "InvalidInput");
        assert_eq!(diagnostic.error_message, "invalid input (1 problem): a: b");
    }
}
