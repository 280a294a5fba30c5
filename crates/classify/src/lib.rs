//! maps source codes (CAMEO, ...) onto the farguard taxonomy
