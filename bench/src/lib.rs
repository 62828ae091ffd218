//! Helpers shared by the benchmark programs in `src/bin/`.

pub mod numbers;
pub mod procfs;
