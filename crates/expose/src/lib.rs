//! registry index and spatial exposure matching
