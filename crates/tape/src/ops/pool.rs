//! Pooling (max_pool2d, avg_pool2d) on the tape.
