//! copy-table (being written).
