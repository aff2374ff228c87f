//! Tensor-level shape kernels (permute, concat, narrow, gather).
