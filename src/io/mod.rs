//! ROOT file input and output (being written).
