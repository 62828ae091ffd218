//! The AWS clients the command uses, from the SDK's default configuration chain (credentials,
//! region, and the `AWS_ENDPOINT_URL_<SERVICE>`/`AWS_ENDPOINT_URL` overrides, left as they are).

use aws_config::BehaviorVersion;

/// One client per service.
#[derive(Debug, Clone)]
pub struct Aws {
    /// Step Functions: start, follow, answer.
    pub sfn: aws_sdk_sfn::Client,
    /// CloudFormation: the stack's outputs.
    pub cfn: aws_sdk_cloudformation::Client,
    /// S3: whether a `before/` bundle exists.
    pub s3: aws_sdk_s3::Client,
    /// STS: who approves.
    pub sts: aws_sdk_sts::Client,
}

impl Aws {
    /// Loads the default configuration; `s3_path_style` when S3 is a local endpoint.
    pub async fn load(s3_path_style: bool) -> Self {
        let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
        let s3 = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(s3_path_style)
            .build();
        Aws {
            sfn: aws_sdk_sfn::Client::new(&config),
            cfn: aws_sdk_cloudformation::Client::new(&config),
            s3: aws_sdk_s3::Client::from_conf(s3),
            sts: aws_sdk_sts::Client::new(&config),
        }
    }
}
