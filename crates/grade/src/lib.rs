//! the risk guideline and grading of areas by category
