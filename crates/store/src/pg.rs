//! PostgreSQL engine (to be written).
