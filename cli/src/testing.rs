//! Histories for tests, built with the SDK's own `HistoryEvent` builders: one event after the
//! other (or branching from an earlier one, as Map iterations and Parallel branches do), at
//! 12:00:00 UTC plus the seconds given.

use aws_sdk_sfn::types::{
    ExecutionFailedEventDetails, ExecutionStartedEventDetails, ExecutionSucceededEventDetails,
    HistoryEvent, HistoryEventType as Ev, LambdaFunctionFailedEventDetails,
    LambdaFunctionScheduledEventDetails, LambdaFunctionSucceededEventDetails,
    StateEnteredEventDetails, StateExitedEventDetails, TaskFailedEventDetails,
    TaskScheduledEventDetails, TaskSubmittedEventDetails, TaskSucceededEventDetails,
};
use aws_smithy_types::DateTime;

/// 2026-05-01T12:00:00Z.
pub const NOON: i64 = 1_777_636_800;

/// A history being written.
pub struct History {
    events: Vec<HistoryEvent>,
    previous: i64,
    seconds: i64,
}

impl History {
    /// A history whose execution started with `input`.
    pub fn new(input: &str) -> Self {
        let mut history = History {
            events: Vec::new(),
            previous: 0,
            seconds: 0,
        };
        let details = ExecutionStartedEventDetails::builder().input(input).build();
        history.push(Ev::ExecutionStarted, |b| {
            b.execution_started_event_details(details)
        });
        history
    }

    /// The events so far.
    pub fn events(&self) -> Vec<HistoryEvent> {
        self.events.clone()
    }

    /// The last event's id.
    pub fn last(&self) -> i64 {
        self.previous
    }

    /// The next event follows `id` instead of the last one.
    pub fn branch(&mut self, id: i64) -> &mut Self {
        self.previous = id;
        self
    }

    /// The next events happen `seconds` after noon.
    pub fn at(&mut self, seconds: i64) -> &mut Self {
        self.seconds = seconds;
        self
    }

    fn push(
        &mut self,
        ty: Ev,
        details: impl FnOnce(
            aws_sdk_sfn::types::builders::HistoryEventBuilder,
        ) -> aws_sdk_sfn::types::builders::HistoryEventBuilder,
    ) -> &mut Self {
        let id = self.events.len() as i64 + 1;
        let builder = HistoryEvent::builder()
            .id(id)
            .previous_event_id(self.previous)
            .timestamp(DateTime::from_secs(NOON + self.seconds))
            .r#type(ty);
        self.events
            .push(details(builder).build().expect("a whole event"));
        self.previous = id;
        self
    }

    /// An event with no details.
    pub fn record(&mut self, ty: Ev) -> &mut Self {
        self.push(ty, |b| b)
    }

    /// A state entered.
    pub fn enter(&mut self, ty: Ev, name: &str, input: &str) -> &mut Self {
        let details = StateEnteredEventDetails::builder()
            .name(name)
            .input(input)
            .build()
            .expect("named");
        self.push(ty, |b| b.state_entered_event_details(details))
    }

    /// A state exited.
    pub fn exit(&mut self, ty: Ev, name: &str) -> &mut Self {
        let details = StateExitedEventDetails::builder()
            .name(name)
            .output("{}")
            .build()
            .expect("named");
        self.push(ty, |b| b.state_exited_event_details(details))
    }

    /// A Lambda function scheduled (a task whose resource is a function ARN).
    pub fn lambda_scheduled(&mut self, input: &str) -> &mut Self {
        let details = LambdaFunctionScheduledEventDetails::builder()
            .resource("arn:aws:lambda:us-east-1:123456789012:function:ferry-step")
            .input(input)
            .build()
            .expect("a resource");
        self.push(Ev::LambdaFunctionScheduled, |b| {
            b.lambda_function_scheduled_event_details(details)
        })
    }

    /// A Lambda function returned `output`.
    pub fn lambda_succeeded(&mut self, output: &str) -> &mut Self {
        let details = LambdaFunctionSucceededEventDetails::builder()
            .output(output)
            .build();
        self.push(Ev::LambdaFunctionSucceeded, |b| {
            b.lambda_function_succeeded_event_details(details)
        })
    }

    /// A Lambda function failed.
    pub fn lambda_failed(&mut self, error: &str, cause: &str) -> &mut Self {
        let details = LambdaFunctionFailedEventDetails::builder()
            .error(error)
            .cause(cause)
            .build();
        self.push(Ev::LambdaFunctionFailed, |b| {
            b.lambda_function_failed_event_details(details)
        })
    }

    /// A service task scheduled with its resolved `parameters`.
    pub fn task_scheduled(
        &mut self,
        resource_type: &str,
        resource: &str,
        parameters: &str,
    ) -> &mut Self {
        let details = TaskScheduledEventDetails::builder()
            .resource_type(resource_type)
            .resource(resource)
            .region("us-east-1")
            .parameters(parameters)
            .build()
            .expect("whole details");
        self.push(Ev::TaskScheduled, |b| {
            b.task_scheduled_event_details(details)
        })
    }

    /// A service task submitted, answering `output`.
    pub fn task_submitted(
        &mut self,
        resource_type: &str,
        resource: &str,
        output: &str,
    ) -> &mut Self {
        let details = TaskSubmittedEventDetails::builder()
            .resource_type(resource_type)
            .resource(resource)
            .output(output)
            .build()
            .expect("whole details");
        self.push(Ev::TaskSubmitted, |b| {
            b.task_submitted_event_details(details)
        })
    }

    /// A service task succeeded with `output`.
    pub fn task_succeeded(&mut self, output: &str) -> &mut Self {
        let details = TaskSucceededEventDetails::builder()
            .resource_type("lambda")
            .resource("invoke.waitForTaskToken")
            .output(output)
            .build()
            .expect("whole details");
        self.push(Ev::TaskSucceeded, |b| {
            b.task_succeeded_event_details(details)
        })
    }

    /// A service task failed.
    pub fn task_failed(&mut self, error: &str, cause: &str) -> &mut Self {
        let details = TaskFailedEventDetails::builder()
            .resource_type("states")
            .resource("startExecution.sync:2")
            .error(error)
            .cause(cause)
            .build()
            .expect("whole details");
        self.push(Ev::TaskFailed, |b| b.task_failed_event_details(details))
    }

    /// The execution succeeded with `output`.
    pub fn succeeded(&mut self, output: &str) -> &mut Self {
        let details = ExecutionSucceededEventDetails::builder()
            .output(output)
            .build();
        self.push(Ev::ExecutionSucceeded, |b| {
            b.execution_succeeded_event_details(details)
        })
    }

    /// The execution failed.
    pub fn failed(&mut self, error: &str, cause: &str) -> &mut Self {
        let details = ExecutionFailedEventDetails::builder()
            .error(error)
            .cause(cause)
            .build();
        self.push(Ev::ExecutionFailed, |b| {
            b.execution_failed_event_details(details)
        })
    }
}
