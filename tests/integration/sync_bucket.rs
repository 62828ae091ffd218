//! sync-bucket (being written).
