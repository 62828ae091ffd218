//! Benchmark `sync_bucket` (being written).

fn main() {}
