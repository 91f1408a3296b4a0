//! One moto server per test, from the `cairn-moto` harness shared with
//! `providers/aws/tests`: its own process on a free loopback port, ended when the [`Moto`]
//! guard drops (also when the test panics), so tests never share AWS state and may run in
//! parallel.

pub use cairn_moto::Moto;
