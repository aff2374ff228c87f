//! # tapegrad
//!
//! Reverse-mode automatic differentiation and the optimizers of deep learning, in
//! Rust. This crate re-exports the workspace's crates:
//!
//! - [`tape`]: tensors, the define-by-run graph, first- and second-order
//!   gradients, and `gradcheck`.
//!
//! ```
//! use tapegrad::tape::{Tensor, Var};
//! let w = Var::parameter(Tensor::from_vec(vec![1.0f64, -2.0], &[2]).unwrap());
//! let loss = w.mul(&w).unwrap().sum(); // ‖w‖²
//! loss.backward().unwrap();
//! assert_eq!(w.grad().unwrap().data(), &[2.0, -4.0]);
//! ```

pub use tapegrad_data as data;
pub use tapegrad_nn as nn;
pub use tapegrad_optim as optim;
pub use tapegrad_tape as tape;

#[cfg(feature = "train")]
pub mod experiments;
#[cfg(feature = "train")]
pub mod train;
