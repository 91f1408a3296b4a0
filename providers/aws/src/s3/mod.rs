//! S3: `aws_s3_bucket`, a bucket with its versioning, default encryption, public access
//! block, object ownership, expiration rules and tags.

mod bucket;

use crate::resource::{AwsResource, Typed};

pub(crate) fn resources() -> Vec<Box<dyn AwsResource>> {
    vec![Box::new(Typed(bucket::Bucket))]
}
