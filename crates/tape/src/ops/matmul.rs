//! Matrix products, 2-D and batched, on the tape.
