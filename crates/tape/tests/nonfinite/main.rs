//! NaN and ±∞ through every op family, against PyTorch's forward values and
//! gradients in `fixtures/nonfinite_reference.json`: one module per family,
//! each dispatching the fixture's op names to the tape's ops.

mod activation;
mod elementwise;
mod fixture;
mod pool;
mod products;
mod reduce;
mod shape;
mod softmax;
