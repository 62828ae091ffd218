//! Benchmark `masking` (being written).

fn main() {}
