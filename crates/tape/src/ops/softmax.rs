//! softmax and log_softmax along an axis.
