//! Tensor-level convolution kernels (im2col and its adjoint).
