//! The measured tools and their command lines.
//!
//! - ferry: this program again with `--child` (the task function, in process, as the Lambda
//!   function runs it), at a given concurrency;
//! - `aws s3 sync --delete` with its defaults (10 requests in flight);
//! - `rclone sync` at its best setting found on these servers (`--transfers 32 --checkers 32
//!   --checksum`: `--checksum` decides by size and MD5 from the listings, where its default of
//!   size and modification time reads every target object's metadata with a HEAD request; 64/64
//!   was no faster), and with its defaults (4 transfers, 8 checkers).

use std::path::{Path, PathBuf};

use crate::measure::Job;
use crate::server::Server;
use crate::{REGION, SOURCE};

/// One measured tool (and setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Ferry(u32),
    Aws,
    RcloneBest,
    RcloneDefaults,
}

impl Tool {
    /// The names `--cap` takes.
    pub const NAMES: [&str; 4] = ["ferry", "aws", "rclone-best", "rclone-defaults"];

    /// The name `--cap` uses for this tool.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Ferry(_) => "ferry",
            Tool::Aws => "aws",
            Tool::RcloneBest => "rclone-best",
            Tool::RcloneDefaults => "rclone-defaults",
        }
    }

    pub fn label(self) -> String {
        match self {
            Tool::Ferry(c) => format!("ferry sync_bucket c={c}"),
            Tool::Aws => "aws s3 sync --delete (defaults: 10)".into(),
            Tool::RcloneBest => "rclone sync --transfers 32 --checkers 32 --checksum".into(),
            Tool::RcloneDefaults => "rclone sync (defaults: 4/8)".into(),
        }
    }

    /// The target bucket of this tool's `trial`-th run.
    pub fn bucket(self, trial: usize) -> String {
        match self {
            Tool::Ferry(c) => format!("dst-ferry-c{c}-{trial}"),
            other => format!("dst-{}-{trial}", other.name()),
        }
    }
}

/// What the command lines need: the programs, the server, the scratch directory.
pub struct Toolbox<'a> {
    pub self_exe: PathBuf,
    pub aws_cli: PathBuf,
    pub rclone: PathBuf,
    /// The STS endpoint of ferry's protected-account check.
    pub sts: String,
    pub server: &'a Server,
    pub scratch: &'a Path,
}

impl Toolbox<'_> {
    /// The command line that syncs the source into `target` with `tool`.
    pub fn job(&self, tool: Tool, target: &str) -> Job {
        match tool {
            Tool::Ferry(concurrency) => self.ferry(concurrency, target),
            Tool::Aws => self.aws(target),
            Tool::RcloneBest => self.rclone(
                target,
                &["--transfers", "32", "--checkers", "32", "--checksum"],
            ),
            Tool::RcloneDefaults => self.rclone(target, &[]),
        }
    }

    fn ferry(&self, concurrency: u32, target: &str) -> Job {
        let endpoint = &self.server.endpoint;
        Job {
            program: self.self_exe.clone(),
            args: vec![
                "--child".into(),
                SOURCE.into(),
                target.into(),
                concurrency.to_string(),
            ],
            envs: self.aws_env(&[
                ("AWS_ENDPOINT_URL_S3", endpoint),
                ("AWS_ENDPOINT_URL_STS", &self.sts),
            ]),
        }
    }

    fn aws(&self, target: &str) -> Job {
        Job {
            program: self.aws_cli.clone(),
            args: strings(&[
                "s3",
                "sync",
                &format!("s3://{SOURCE}"),
                &format!("s3://{target}"),
                "--delete",
                "--only-show-errors",
                "--no-progress",
                "--endpoint-url",
                &self.server.endpoint,
            ]),
            envs: self.aws_env(&[]),
        }
    }

    fn rclone(&self, target: &str, settings: &[&str]) -> Job {
        let (key_id, secret) = self.server.kind.credentials();
        let config = self.scratch.join("rclone.conf").display().to_string();
        let mut args = strings(&[
            "sync",
            &format!(":s3:{SOURCE}"),
            &format!(":s3:{target}"),
            "--s3-provider",
            "Other",
            "--s3-endpoint",
            &self.server.endpoint,
            "--s3-access-key-id",
            key_id,
            "--s3-secret-access-key",
            secret,
            "--s3-region",
            REGION,
            "--config",
            &config,
            "-q",
        ]);
        args.extend(strings(settings));
        Job {
            program: self.rclone.clone(),
            args,
            envs: Vec::new(),
        }
    }

    /// The AWS SDK's and CLI's environment: the server's credentials, no configuration files.
    fn aws_env(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let (key_id, secret) = self.server.kind.credentials();
        let no_config = self.scratch.join("no-aws-config").display().to_string();
        let no_credentials = self
            .scratch
            .join("no-aws-credentials")
            .display()
            .to_string();
        [
            ("AWS_ACCESS_KEY_ID", key_id),
            ("AWS_SECRET_ACCESS_KEY", secret),
            ("AWS_REGION", REGION),
            ("AWS_DEFAULT_REGION", REGION),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", &no_config),
            ("AWS_SHARED_CREDENTIALS_FILE", &no_credentials),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}
