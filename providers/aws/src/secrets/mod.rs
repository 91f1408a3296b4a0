//! Secrets Manager: `aws_secretsmanager_secret`, a secret with its current value, given
//! by the stack or generated once by cairn (passwords, Airflow's Fernet key).

mod generate;
mod secret;

use crate::resource::{AwsResource, Typed};

pub(crate) fn resources() -> Vec<Box<dyn AwsResource>> {
    vec![Box::new(Typed(secret::Secret))]
}
