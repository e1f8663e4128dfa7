//! Learned corrections with libtorch (being written).
