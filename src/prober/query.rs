//! phase query
