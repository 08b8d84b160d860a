//! phase resolve
