//! Helpers shared by the benchmark programs in `src/bin/`.

pub mod procfs;
