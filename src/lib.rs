//! # tapegrad
//!
//! Reverse-mode automatic differentiation and the optimizers of deep learning, in
//! Rust. This crate re-exports the workspace's crates:
//!
//! - [`tape`]: tensors, the define-by-run graph, first- and second-order
//!   gradients, and `gradcheck`;
//! - [`nn`]: modules, layers, losses (the cross-entropy ξ), initialization,
//!   safetensors weights;
//! - [`optim`]: the optimizers of torch.optim and beyond (Lion, LAMB,
//!   schedule-free, Lookahead, L-BFGS), every lr schedule, clipping;
//! - [`data`]: IDX and LIBSVM readers, the embedded UCI digits, minibatches;
//! - [`checkpoint`]: one checkpoint of a run (weights, optimizer, scheduler,
//!   step, generators), written atomically and restored bit for bit;
//! - [`Error`]: one error type over all of them, so a program can `?` each
//!   crate's calls.
//!
//! The training program and the lecture's experiments are applications in their
//! own crates (`tapegrad-train`, `tapegrad-experiments`); this crate pulls in no
//! command-line or plotting dependency.
//!
//! Define the model in Rust, call `loss.backward()`, then `opt.step()`:
//!
//! ```
//! use rand::{SeedableRng, rngs::StdRng};
//! use tapegrad::{data, nn, optim, optim::Optimizer, tape::Var};
//! use tapegrad::nn::Module;
//!
//! # fn main() -> Result<(), tapegrad::Error> {
//! let mut rng = StdRng::seed_from_u64(0);
//! let digits = data::digits()?.scale(1.0 / data::DIGITS_MAX_VALUE).flatten();
//! let (train, test) = digits.train_test_split(0, 0.2)?;
//! let model = nn::Sequential::new()
//!     .push(nn::Linear::new(64, 32, &mut rng))
//!     .push(nn::Relu)
//!     .push(nn::Linear::new(32, 10, &mut rng));
//! let cfg = optim::AdamConfig { lr: 1e-2, ..Default::default() };
//! let mut opt = optim::Adam::new(model.parameters(), cfg)?;
//! let loader = data::Loader::new(&train, 32)?.shuffle(true);
//! for _epoch in 0..5 {
//!     for (x, y) in loader.epoch(&mut rng) {
//!         let loss = nn::cross_entropy(&model.forward(&Var::constant(x))?, &y)?;
//!         opt.zero_grad();
//!         loss.backward()?;   // gradients accumulate on the parameters
//!         opt.step()?;        // reads each gradient, updates the parameter in place
//!     }
//! }
//! let logits = tapegrad::tape::no_grad(|| model.forward(&Var::constant(test.features().clone())))?;
//! let predicted = logits.value().argmax(1)?;
//! let correct = predicted.iter().zip(test.labels()).filter(|(p, y)| p == y).count();
//! assert!(correct as f64 / test.len() as f64 > 0.9);
//! # Ok(())
//! # }
//! ```

pub use tapegrad_checkpoint as checkpoint;
pub use tapegrad_data as data;
pub use tapegrad_nn as nn;
pub use tapegrad_optim as optim;
pub use tapegrad_tape as tape;

mod error;

pub use error::{Error, Result};

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
