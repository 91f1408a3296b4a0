//! [`AwsClients`]: the SDK clients for one configured provider.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_smithy_async::rt::sleep::{AsyncSleep, Sleep};
use aws_smithy_async::time::TimeSource;
use cairn_provider_core::{ConfigureRequest, ProviderError};
use serde::Deserialize;

use crate::config::decode_config;

/// Test-only: `CAIRN_TEST_AWS_SPEEDUP=N` runs the SDK's clock N times faster than the wall
/// clock, as [`crate::wait::clock`] does for cairn's own waits in unit tests: retry backoff
/// and the adaptive rate limiter keep their behaviour, in a fraction of the time. The
/// fault tests (`tests/faults.rs`) run `cairn` with it; it has no other use.
const SPEEDUP_VAR: &str = "CAIRN_TEST_AWS_SPEEDUP";

/// The SDK's default connect timeout (aws-config's behaviour version 2024+).
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

/// The SDK clock of [`SPEEDUP_VAR`]: time and sleeps `speedup` times faster.
#[derive(Clone, Debug)]
struct FastClock {
    speedup: u32,
    started: Instant,
    started_at: SystemTime,
}

impl TimeSource for FastClock {
    fn now(&self) -> SystemTime {
        self.started_at + self.started.elapsed() * self.speedup
    }
}

impl AsyncSleep for FastClock {
    fn sleep(&self, duration: Duration) -> Sleep {
        Sleep::new(tokio::time::sleep(duration / self.speedup))
    }
}

fn fast_clock() -> Option<FastClock> {
    let speedup: u32 = std::env::var(SPEEDUP_VAR).ok()?.parse().ok()?;
    (speedup > 1).then(|| FastClock {
        speedup,
        started: Instant::now(),
        started_at: SystemTime::now(),
    })
}

/// The provider block, as the stack sets it.
#[derive(Debug, Deserialize)]
struct ProviderConfig {
    region: Option<String>,
    profile: Option<String>,
    #[serde(default)]
    default_tags: BTreeMap<String, String>,
}

/// SDK clients sharing one loaded configuration. `AWS_ENDPOINT_URL` (and the
/// per-service `AWS_ENDPOINT_URL_<SERVICE>`) are honoured by aws-config itself, which is
/// how tests point cairn at an emulator: nothing here knows about one.
#[derive(Clone, Debug)]
pub(crate) struct AwsClients {
    pub ec2: aws_sdk_ec2::Client,
    pub iam: aws_sdk_iam::Client,
    pub eks: aws_sdk_eks::Client,
    pub rds: aws_sdk_rds::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub kms: aws_sdk_kms::Client,
    pub s3: aws_sdk_s3::Client,
    pub sts: aws_sdk_sts::Client,
    /// Load balancers Kubernetes made, which hold subnets at teardown.
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub elb: aws_sdk_elasticloadbalancing::Client,
    /// The region resolved for this configuration.
    pub region: String,
    /// `default_tags` from the provider block.
    pub default_tags: BTreeMap<String, String>,
}

impl AwsClients {
    pub async fn load(request: &ConfigureRequest) -> Result<Self, ProviderError> {
        let config: ProviderConfig = decode_config(&request.config)?;
        // Adaptive retry: throttling and 5xx are retried with client-side rate limiting,
        // which matters when many resources are applied in parallel.
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::adaptive().with_max_attempts(10));
        if let Some(clock) = fast_clock() {
            // The connect timeout runs on the same clock: keep it at its wall-clock length.
            loader = loader
                .timeout_config(
                    TimeoutConfig::builder()
                        .connect_timeout(CONNECT_TIMEOUT * clock.speedup)
                        .build(),
                )
                .time_source(clock.clone())
                .sleep_impl(clock);
        }
        if let Some(region) = config.region {
            loader = loader.region(Region::new(region));
        }
        // Empty means unset, so a stack can pass a variable that defaults to "".
        if let Some(profile) = config.profile.filter(|p| !p.trim().is_empty()) {
            loader = loader.profile_name(profile);
        }
        let sdk = loader.load().await;
        let region = sdk.region().map(ToString::to_string).ok_or_else(|| {
            ProviderError::Config(
                "no AWS region: set `region` in [providers.aws] or AWS_REGION".to_owned(),
            )
        })?;
        Ok(AwsClients {
            ec2: aws_sdk_ec2::Client::new(&sdk),
            iam: aws_sdk_iam::Client::new(&sdk),
            eks: aws_sdk_eks::Client::new(&sdk),
            rds: aws_sdk_rds::Client::new(&sdk),
            secrets: aws_sdk_secretsmanager::Client::new(&sdk),
            kms: aws_sdk_kms::Client::new(&sdk),
            // A custom endpoint (an emulator, a VPC endpoint) cannot take bucket names
            // as host names: address buckets by path there.
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&sdk)
                    .force_path_style(sdk.endpoint_url().is_some())
                    .build(),
            ),
            sts: aws_sdk_sts::Client::new(&sdk),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(&sdk),
            elb: aws_sdk_elasticloadbalancing::Client::new(&sdk),
            region,
            default_tags: config.default_tags,
        })
    }
}
