//! masking vectors (being written).
