//! Benchmark `copy_table` (being written).

fn main() {}
