//! # tapegrad-tape
//!
//! Tensors and a define-by-run computation graph with reverse-mode gradients,
//! first and second order, checked against finite differences.
//!
//! ```
//! use tapegrad_tape::{Tensor, Var};
//! // f(w) = Σ tanh(w ⊙ x)
//! let x = Var::constant(Tensor::from_vec(vec![0.5f64, -1.0], &[2]).unwrap());
//! let w = Var::parameter(Tensor::from_vec(vec![2.0, 3.0], &[2]).unwrap());
//! let f = w.mul(&x).unwrap().tanh().sum();
//! f.backward().unwrap();
//! let g = w.grad().unwrap();
//! // ∂f/∂w = x (1 − tanh²(w x))
//! assert!((g.data()[0] - 0.5 * (1.0 - 1.0f64.tanh().powi(2))).abs() < 1e-15);
//! ```

pub mod anomaly;
mod denormal;
pub mod engine;
pub mod error;
pub mod float;
pub mod functional;
pub mod gradcheck;
pub mod ops;
pub mod shape;
pub mod tensor;
pub mod var;
mod vecmath;

pub use anomaly::{detect_anomaly, is_anomaly_enabled, set_detect_anomaly};
pub use denormal::set_flush_denormal;
pub use engine::{GradOptions, grad};
pub use error::{AnomalyStage, ExternalError, NonFinite, Result, TapeError};
pub use float::Float;
pub use gradcheck::{GradcheckOptions, gradcheck, gradgradcheck};
pub use ops::{
    AttentionMask, AttentionOptions, Backward, Conv1dOptions, Conv2dOptions,
    ConvTranspose2dOptions, Ctx, GeluApproximate, Grads, RunningStats,
};
pub use shape::Shape;
pub use tensor::Tensor;
pub use tensor::buffers::release_buffers;
pub use var::{Var, WeakVar, is_grad_enabled, no_grad, with_grad_mode};
