//! Tensor-level reductions along axes (max, min, logsumexp).
