//! Following executions live: their histories read every `--poll-interval`, each new event read
//! by the execution's [`Tracker`], and every child execution it starts followed too (a few per
//! poll, so a Map of many children does not exhaust the API's rate). The lines of one poll are
//! printed in the order their events happened.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_sfn::Client;

use crate::error::{CliError, Result};
use crate::follow::{End, Line, Note, Tracker};
use crate::output::Out;

/// Children read per poll at most (Step Functions throttles `GetExecutionHistory` per account).
const CHILDREN_PER_POLL: usize = 8;
/// Events asked for per page (the API's maximum).
const PAGE_SIZE: i32 = 1000;

/// One execution being read, and where its history's last page began.
struct Followed {
    tracker: Tracker,
    page: Option<String>,
    polled: u64,
}

impl Followed {
    fn new(tracker: Tracker) -> Self {
        Followed {
            tracker,
            page: None,
            polled: 0,
        }
    }
}

/// Reads the whole history of `arn` without printing it.
pub async fn read(sfn: &Client, run: &str, arn: &str) -> Result<Tracker> {
    let mut followed = Followed::new(Tracker::root(run, arn));
    fetch(sfn, &mut followed).await?;
    Ok(followed.tracker)
}

/// Follows the run `run` (execution `arn`) and its children until the run ends; prints their
/// lines as they come. Stopping the command stops the following, never the run.
pub async fn follow(sfn: &Client, out: &Out, run: &str, arn: &str, poll: Duration) -> Result<End> {
    let mut root = Followed::new(Tracker::root(run, arn));
    let mut children: Vec<Followed> = Vec::new();
    loop {
        let mut lines = Vec::new();
        let notes = fetch(sfn, &mut root).await.map_err(|e| lost(run, e))?;
        take(run, "", notes, &mut lines, &mut children);
        let end = root.tracker.end().cloned();
        // Once the run has ended, every child still unread is read once more (its last lines).
        let budget = if end.is_some() {
            usize::MAX
        } else {
            CHILDREN_PER_POLL
        };
        poll_children(sfn, run, &mut children, budget, &mut lines).await;
        lines.sort_by(|a, b| a.at.as_secs_f64().total_cmp(&b.at.as_secs_f64()));
        for line in lines {
            out.say(line.text);
        }
        if let Some(end) = end {
            return Ok(end);
        }
        tokio::time::sleep(poll).await;
    }
}

fn lost(run: &str, error: CliError) -> CliError {
    CliError::new(
        error.reason,
        format!(
            "stopped following run {run}, which goes on (see `ferry status {run}`): {}",
            error.message
        ),
    )
}

/// Keeps the lines and adds the children they announce.
fn take(
    run: &str,
    label: &str,
    notes: Vec<Note>,
    lines: &mut Vec<Line>,
    children: &mut Vec<Followed>,
) {
    for note in notes {
        match note {
            Note::Line(line) => lines.push(line),
            Note::Child(arn) => {
                if children.iter().all(|c| c.tracker.arn() != arn) {
                    children.push(Followed::new(Tracker::child(run, &arn, label)));
                }
            }
        }
    }
}

/// Reads up to `budget` unfinished children, those read least recently first (children they
/// announce are read in the same poll while the budget lasts).
async fn poll_children(
    sfn: &Client,
    run: &str,
    children: &mut Vec<Followed>,
    budget: usize,
    lines: &mut Vec<Line>,
) {
    let mut read_now = HashSet::new();
    while read_now.len() < budget {
        let next = (0..children.len())
            .filter(|i| children[*i].tracker.end().is_none() && !read_now.contains(i))
            .min_by_key(|i| children[*i].polled);
        let Some(i) = next else {
            return;
        };
        read_now.insert(i);
        children[i].polled += 1;
        match fetch(sfn, &mut children[i]).await {
            Ok(notes) => {
                let label = children[i].tracker.label().to_string();
                take(run, &label, notes, lines, children);
            }
            Err(e) => lines.push(Line {
                at: std::time::SystemTime::now().into(),
                text: format!(
                    "(could not read child {}: {})",
                    children[i].tracker.arn(),
                    e.message
                ),
            }),
        }
    }
}

/// Reads the events of `followed` not read yet, from the page where the last read ended.
async fn fetch(sfn: &Client, followed: &mut Followed) -> Result<Vec<Note>> {
    let mut notes = Vec::new();
    loop {
        let arn = followed.tracker.arn().to_string();
        let answer = sfn
            .get_execution_history()
            .execution_arn(&arn)
            .max_results(PAGE_SIZE)
            .set_next_token(followed.page.clone())
            .send()
            .await;
        let page = match answer {
            Ok(page) => page,
            Err(e)
                if followed.page.is_some()
                    && e.as_service_error().is_some_and(|s| s.is_invalid_token()) =>
            {
                // A page token expires: read from the start again (events read are skipped).
                followed.page = None;
                continue;
            }
            Err(e) => return Err(CliError::aws(&format!("GetExecutionHistory {arn}"), e)),
        };
        for event in page.events() {
            notes.extend(followed.tracker.push(event));
        }
        match page.next_token() {
            Some(token) => followed.page = Some(token.to_string()),
            None => return Ok(notes),
        }
    }
}
