//! phase connect
