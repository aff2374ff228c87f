//! Convolution (conv2d) on the tape.
