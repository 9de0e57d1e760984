//! The CSAF crate's integration tests, one module per area, in one test binary.

mod authoring;
mod corpus;
mod demo;
mod file_name;
mod hostile;
