//! Pause marks: the tags `toggle-streams off` puts on every event source mapping before it pauses
//! any (`ferry:paused-by` = the run, `ferry:paused-at` = when), and `on` removes once the mapping
//! is enabled again.
//!
//! A mapping that is not consuming and still carries the mark of another run was left paused by a
//! run that never resumed it (the run died, or its resume failed). Preflight looks for such marks
//! among the consumers it is about to pause ([`leftover_pauses`]): a real run refuses to start
//! while there are any, naming them and the run that paused them, unless the input says
//! `"streams": {"resume_leftover": true}`; then they join the run's own pause list, are marked
//! again by it and resumed at its end, on success or failure. A dry run only reports them.
//!
//! The mark lives on the mapping itself: it goes away with a mapping that is deleted or replaced,
//! it needs no bucket, and people see on the mapping which run paused it.

use aws_sdk_lambda::Client;

use crate::aws::Session;
use crate::contract::{Consumer, LeftoverPause, MappingState, RefreshRequest};
use crate::error::TaskError;

use super::super::lookup::{get_mapping, mapping_arn, mapping_state};
use super::heading_to;

/// Tag naming the run (execution name) that paused the mapping.
pub const PAUSED_BY_TAG: &str = "ferry:paused-by";
/// Tag holding when that run paused it (RFC 3339).
pub const PAUSED_AT_TAG: &str = "ferry:paused-at";

/// Marks the mapping `arn` as paused by `run_id` at `paused_at`.
pub(super) async fn put(
    client: &Client,
    arn: &str,
    run_id: &str,
    paused_at: &str,
) -> Result<(), TaskError> {
    client
        .tag_resource()
        .resource(arn)
        .tags(PAUSED_BY_TAG, run_id)
        .tags(PAUSED_AT_TAG, paused_at)
        .send()
        .await
        .map_err(|e| TaskError::aws("TagResource", arn, e.into_service_error()))?;
    Ok(())
}

/// Removes the pause mark from the mapping `arn` (nothing to do when it has none).
pub(super) async fn clear(client: &Client, arn: &str) -> Result<(), TaskError> {
    client
        .untag_resource()
        .resource(arn)
        .tag_keys(PAUSED_BY_TAG)
        .tag_keys(PAUSED_AT_TAG)
        .send()
        .await
        .map_err(|e| TaskError::aws("UntagResource", arn, e.into_service_error()))?;
    Ok(())
}

/// The run and time of the mapping's pause mark, if it has one.
async fn read(client: &Client, arn: &str) -> Result<Option<(String, String)>, TaskError> {
    let out = client
        .list_tags()
        .resource(arn)
        .send()
        .await
        .map_err(|e| TaskError::aws("ListTags", arn, e.into_service_error()))?;
    let mut tags = out.tags.unwrap_or_default();
    Ok(tags.remove(PAUSED_BY_TAG).map(|run| {
        let at = tags.remove(PAUSED_AT_TAG).unwrap_or_else(|| "?".into());
        (run, at)
    }))
}

/// What preflight found about consumers earlier runs left paused, and what this run does about
/// them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Leftover {
    /// The consumers left paused, with the run that paused them.
    pub paused: Vec<LeftoverPause>,
    /// The mappings this run adds to its pause list, and so resumes at its end.
    pub resume: Vec<String>,
    /// One warning per consumer left paused, saying what happens to it.
    pub warnings: Vec<String>,
}

/// Looks for pause marks of other runs on the consumers this run would find not consuming, and
/// judges them: a real run without `streams.resume_leftover` is refused, naming every one.
pub async fn leftover_pauses(
    session: &Session,
    request: &RefreshRequest,
    run_id: &str,
    consumers: &[Consumer],
) -> Result<Leftover, TaskError> {
    let client = session.lambda(&request.target).await?;
    let paused = find(&client, run_id, consumers).await?;
    judge(paused, request)
}

/// The consumers not consuming whose pause mark names a run other than `run_id`.
async fn find(
    client: &Client,
    run_id: &str,
    consumers: &[Consumer],
) -> Result<Vec<LeftoverPause>, TaskError> {
    let mut paused = Vec::new();
    for consumer in consumers
        .iter()
        .filter(|c| heading_to(&c.state) != Some(MappingState::Enabled))
    {
        let Some(mapping) = get_mapping(client, &consumer.mapping_id).await? else {
            continue;
        };
        if heading_to(mapping_state(&mapping)) == Some(MappingState::Enabled) {
            continue;
        }
        let Some((paused_by, paused_at)) = read(client, mapping_arn(&mapping)?).await? else {
            continue;
        };
        if paused_by != run_id {
            paused.push(LeftoverPause {
                mapping_id: consumer.mapping_id.clone(),
                function_arn: consumer.function_arn.clone(),
                table: consumer.table.clone(),
                state: mapping_state(&mapping).to_string(),
                paused_by,
                paused_at,
            });
        }
    }
    Ok(paused)
}

/// A dry run reports what it found; a real run resumes it when asked to, else is refused.
fn judge(paused: Vec<LeftoverPause>, request: &RefreshRequest) -> Result<Leftover, TaskError> {
    let resume = request.streams.resume_leftover;
    if paused.is_empty() || resume || request.dry_run {
        let then = if resume {
            "this run resumes it with its own consumers"
        } else {
            "a real run refuses to start until it is resumed (or the input says \"streams\": {\"resume_leftover\": true})"
        };
        return Ok(Leftover {
            resume: paused
                .iter()
                .filter(|_| resume)
                .map(|p| p.mapping_id.clone())
                .collect(),
            warnings: paused
                .iter()
                .map(|p| format!("{}: {then}", describe(p)))
                .collect(),
            paused,
        });
    }
    let listed: Vec<String> = paused.iter().map(describe).collect();
    Err(TaskError::Refused(format!(
        "{} stream consumer(s) of environment '{}' were left paused by an earlier run that never resumed them: {}. \
         Resume them by hand (aws lambda update-event-source-mapping --uuid <mapping> --enabled) once that run \
         has ended, or start this run with \"streams\": {{\"resume_leftover\": true}} to pause them with its own \
         consumers and resume them all at its end",
        paused.len(),
        request.target.name,
        listed.join("; ")
    )))
}

/// `mapping 'uuid' (function arn:…, table t, Disabled) paused by run 'r' at 2026-…`.
fn describe(p: &LeftoverPause) -> String {
    format!(
        "mapping '{}' (function {}, table {}, {}) paused by run '{}' at {}",
        p.mapping_id, p.function_arn, p.table, p.state, p.paused_by, p.paused_at
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(dry_run: bool, resume_leftover: bool) -> RefreshRequest {
        let raw = serde_json::json!({
            "dry_run": dry_run,
            "source": {"name": "prod", "region": "us-east-1"},
            "target": {"name": "test", "region": "us-east-1"},
            "deploy_table": {"table": "efcms-deploy-test", "settings": {"migrate": false}},
            "streams": {"tables": ["efcms-test-alpha"], "resume_leftover": resume_leftover},
        });
        RefreshRequest::parse(&raw).unwrap()
    }

    fn left(id: &str) -> LeftoverPause {
        LeftoverPause {
            mapping_id: id.into(),
            function_arn: "arn:aws:lambda:us-east-1:222222222222:function:indexer".into(),
            table: "efcms-test-alpha".into(),
            state: "Disabled".into(),
            paused_by: "refresh-2026-11-01".into(),
            paused_at: "2026-11-01T03:00:00Z".into(),
        }
    }

    #[test]
    fn a_real_run_refuses_leftover_pauses_naming_each_and_its_run() {
        let err = judge(vec![left("m-1"), left("m-2")], &request(false, false)).unwrap_err();
        assert_eq!(err.error_type(), "Refused");
        let text = err.to_string();
        for part in [
            "'m-1'",
            "'m-2'",
            "run 'refresh-2026-11-01'",
            "resume_leftover",
            "'test'",
        ] {
            assert!(text.contains(part), "{part} missing from: {text}");
        }
    }

    #[test]
    fn resume_leftover_adds_them_to_the_pause_list_and_a_dry_run_only_warns() {
        let resumed = judge(vec![left("m-1")], &request(false, true)).unwrap();
        assert_eq!(resumed.resume, ["m-1"]);
        assert!(resumed.warnings[0].contains("this run resumes it"));

        let dry = judge(vec![left("m-1")], &request(true, false)).unwrap();
        assert!(
            dry.resume.is_empty(),
            "a dry run adds nothing to the pause list"
        );
        assert_eq!(dry.paused.len(), 1);
        assert!(
            dry.warnings[0].contains("a real run refuses"),
            "{:?}",
            dry.warnings
        );

        assert_eq!(
            judge(Vec::new(), &request(false, false)).unwrap(),
            Leftover::default()
        );
    }
}
