//! Masking of emails in DynamoDB items (being written).
