//! `ferry history [machine]`: recent runs of one machine or both, newest first, with their
//! outcome, start, duration and counts (from each succeeded run's output; its report names the
//! manifest).

use aws_sdk_sfn::types::ExecutionListItem;
use serde_json::{Value, json};

use crate::app::Ctx;
use crate::clock::{duration, iso, seconds_between};
use crate::error::{CliError, Result};
use crate::machines::Machine;
use crate::output::{EXIT_OK, Report};
use crate::status::machine_of;
use crate::summary;

/// One row of the history.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The execution name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// `refresh` or `promote`.
    pub machine: String,
    /// Its status.
    pub status: String,
    /// Start, RFC 3339.
    pub started: String,
    /// Seconds since the epoch, for sorting.
    pub started_secs: f64,
    /// How long it ran (or runs).
    pub took: String,
    /// Counts, short.
    pub counts: String,
    /// The manifest, when reported.
    pub manifest: Option<String>,
}

/// `ferry history`.
pub async fn history(ctx: &Ctx, machine: Option<Machine>, limit: i32) -> Result<Report> {
    let targets = match machine {
        Some(m) => vec![(Some(m), ctx.machines.arn(m).await)],
        None => ctx.machines.every().await,
    };
    let mut items: Vec<(Option<Machine>, ExecutionListItem)> = Vec::new();
    let mut problems = Vec::new();
    for (machine, arn) in targets {
        let listed = match arn {
            Ok(arn) => list(ctx, &arn, limit).await,
            Err(e) => Err(e),
        };
        match listed {
            Ok(listed) => items.extend(listed.into_iter().map(|i| (machine, i))),
            Err(e) => problems.push(e.message),
        }
    }
    if items.is_empty() && !problems.is_empty() {
        return Err(CliError::new("no_state_machine", problems.join("; ")));
    }
    for problem in &problems {
        ctx.out.say(format!("(skipped: {problem})"));
    }
    items.sort_by(|a, b| {
        b.1.start_date()
            .as_secs_f64()
            .total_cmp(&a.1.start_date().as_secs_f64())
    });
    items.truncate(limit.max(0) as usize);
    let mut rows = Vec::new();
    for (machine, item) in &items {
        rows.push(row(ctx, *machine, item).await?);
    }
    ctx.out.say_all(&table(&rows));
    let mut report = Report::new("history", EXIT_OK, "listed");
    report.machine = machine.map(Machine::name);
    report.runs = Some(rows.iter().map(row_json).collect());
    Ok(report)
}

async fn list(ctx: &Ctx, arn: &str, limit: i32) -> Result<Vec<ExecutionListItem>> {
    let listed = ctx
        .aws
        .sfn
        .list_executions()
        .state_machine_arn(arn)
        .max_results(limit.clamp(1, 1000))
        .send()
        .await
        .map_err(|e| CliError::aws(&format!("ListExecutions of {arn}"), e))?;
    Ok(listed.executions().to_vec())
}

async fn row(ctx: &Ctx, machine: Option<Machine>, item: &ExecutionListItem) -> Result<Row> {
    let described = ctx
        .aws
        .sfn
        .describe_execution()
        .execution_arn(item.execution_arn())
        .send()
        .await
        .map_err(|e| CliError::aws(&format!("DescribeExecution {}", item.execution_arn()), e))?;
    let summary = summary::of_output(described.output().unwrap_or(""));
    let stop = item
        .stop_date()
        .copied()
        .unwrap_or_else(|| std::time::SystemTime::now().into());
    let counts = match (item.status().as_str(), described.error()) {
        ("SUCCEEDED", _) => summary.short.clone(),
        (_, Some(error)) => error.to_string(),
        _ => String::new(),
    };
    Ok(Row {
        name: item.name().to_string(),
        arn: item.execution_arn().to_string(),
        machine: machine
            .unwrap_or_else(|| machine_of(&described))
            .name()
            .to_string(),
        status: item.status().as_str().to_string(),
        started: iso(item.start_date()),
        started_secs: item.start_date().as_secs_f64(),
        took: duration(seconds_between(item.start_date(), &stop)),
        counts,
        manifest: summary
            .locations
            .iter()
            .find(|(k, _)| *k == "manifest")
            .map(|(_, v)| v.clone()),
    })
}

/// The rows as an aligned table, newest first.
pub fn table(rows: &[Row]) -> Vec<String> {
    if rows.is_empty() {
        return vec!["no runs".to_string()];
    }
    let header = ["RUN", "MACHINE", "STATUS", "STARTED", "TOOK", "COUNTS"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                r.machine.clone(),
                r.status.clone(),
                r.started.clone(),
                r.took.clone(),
                r.counts.clone(),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..5)
        .map(|i| {
            cells
                .iter()
                .map(|c| c[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cols: [&str; 6]| {
        let mut text = String::new();
        for (i, col) in cols.iter().enumerate().take(5) {
            text.push_str(&format!("{col:<w$}  ", w = widths[i]));
        }
        text.push_str(cols[5]);
        text.trim_end().to_string()
    };
    let mut lines = vec![line(header)];
    lines.extend(
        cells
            .iter()
            .map(|c| line([&c[0], &c[1], &c[2], &c[3], &c[4], &c[5]])),
    );
    lines
}

fn row_json(row: &Row) -> Value {
    json!({
        "run": row.name, "run_arn": row.arn, "machine": row.machine, "status": row.status,
        "started_at": row.started, "took": row.took, "counts": row.counts, "manifest": row.manifest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, status: &str, counts: &str) -> Row {
        Row {
            name: name.to_string(),
            arn: format!("arn:aws:states:us-east-1:1:execution:promote:{name}"),
            machine: "promote".to_string(),
            status: status.to_string(),
            started: "2026-05-01T12:00:00Z".to_string(),
            started_secs: 0.0,
            took: "3m 05s".to_string(),
            counts: counts.to_string(),
            manifest: None,
        }
    }

    #[test]
    fn rows_line_up_under_their_headers() {
        let lines = table(&[
            row("promote-20260501T120000", "SUCCEEDED", "+1 ~2 -0"),
            row("p2", "FAILED", "Rejected"),
        ]);
        assert_eq!(
            lines,
            [
                "RUN                      MACHINE  STATUS     STARTED               TOOK    COUNTS",
                "promote-20260501T120000  promote  SUCCEEDED  2026-05-01T12:00:00Z  3m 05s  +1 ~2 -0",
                "p2                       promote  FAILED     2026-05-01T12:00:00Z  3m 05s  Rejected",
            ]
        );
        assert_eq!(table(&[]), ["no runs"]);
    }
}
