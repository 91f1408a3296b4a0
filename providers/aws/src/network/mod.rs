//! Resource types of this AWS service (filled in by its own module files).

use crate::resource::AwsResource;

pub(crate) fn resources() -> Vec<Box<dyn AwsResource>> {
    Vec::new()
}
