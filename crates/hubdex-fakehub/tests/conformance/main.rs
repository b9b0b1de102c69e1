//! Conformance tests: a spawned fake Hub against the behaviour hub-api.md describes, over
//! real HTTP with reqwest. One test binary, so the crate links once.

// Test code: a panic is how a helper reports a failed expectation.
#![allow(clippy::unwrap_used)]

mod behaviour;
mod binary;
mod catalog;
mod common;
mod dynamics;
mod files;
mod info;
mod listing;
mod pagination;
mod synthetic;
