//! `copy-table` (being written).
