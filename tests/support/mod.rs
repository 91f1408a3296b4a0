//! The harness of the end-to-end tests that drive the real `cairn` binary against moto:
//! [`moto`] starts one emulator per test, [`cairn`] runs the binary against it and keeps
//! a transcript, [`aws`] finds through the AWS SDK what carries a stack's `cairn:*` tags.

pub mod aws;
pub mod cairn;
pub mod moto;
