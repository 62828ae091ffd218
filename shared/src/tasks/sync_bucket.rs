//! `sync-bucket` (being written).
