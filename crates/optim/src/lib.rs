//! # tapegrad-optim
//!
//! The optimizers of deep learning for tapegrad parameters — SGD with momentum,
//! AdaGrad, RMSprop, Adam and AdamW — with learning-rate schedules, gradient
//! clipping and exact save/restore. Each computes the same numbers as its
//! PyTorch namesake (tested against PyTorch trajectories to 1e-12 in f64), with
//! the same defaults; the docs give every update in the lecture's symbols:
//!
//! | option | lecture symbol |
//! |---|---|
//! | `lr` | ε (η for plain SGD) |
//! | `betas` | (ρ₁, ρ₂) |
//! | `alpha` (RMSprop) | ρ |
//! | `momentum` | α |
//! | `eps` | δ |
//! | `weight_decay` | 1/C |
//! | state `exp_avg`, `exp_avg_sq`, `sum`, `square_avg` | s, r, r, r |
//!
//! ```
//! use tapegrad_optim::{Adam, AdamConfig, Optimizer};
//! use tapegrad_tape::{Tensor, Var};
//! // least squares: minimize ‖w ⊙ x − y‖² over w
//! let x = Var::constant(Tensor::from_vec(vec![1.0f64, 2.0, -1.0], &[3]).unwrap());
//! let y = Var::constant(Tensor::from_vec(vec![2.0, 1.0, 3.0], &[3]).unwrap());
//! let w = Var::parameter(Tensor::zeros(&[3]));
//! let mut opt = Adam::new(vec![w.clone()], AdamConfig { lr: 0.05, ..Default::default() }).unwrap();
//! for _ in 0..2000 {
//!     opt.zero_grad();
//!     let r = w.mul(&x).unwrap().sub(&y).unwrap();
//!     r.mul(&r).unwrap().sum().backward().unwrap();
//!     opt.step().unwrap();
//! }
//! let w = w.value();
//! assert!((w.data()[0] - 2.0).abs() < 1e-6 && (w.data()[2] + 3.0).abs() < 1e-6);
//! ```
//!
//! A program that lets its user pick the optimizer (a command-line flag, a list
//! of methods to compare) goes through [`OptimizerKind`] (every choice, by name)
//! and [`OptimizerSettings`] (lr, weight decay, bias correction; one builder
//! with typed errors). [`ApplyIfFinite`] wraps any optimizer to skip and count
//! steps whose gradients hold a NaN or ±∞.
//!
//! ```
//! use tapegrad_optim::{ApplyIfFinite, Optimizer, OptimizerKind, OptimizerSettings};
//! use tapegrad_tape::{Tensor, Var};
//! let kind: OptimizerKind = "adamw".parse().unwrap();
//! let w = Var::parameter(Tensor::<f32>::ones(&[4]));
//! let opt = OptimizerSettings::new(kind).with_lr(3e-4).build(vec![w]).unwrap();
//! let mut opt = ApplyIfFinite::new(opt, Some(10)).unwrap();
//! opt.step().unwrap(); // no gradient yet: nothing to do
//! assert_eq!((opt.name(), opt.counts().total_notfinite), ("AdamW", 0));
//! ```
//!
//! Updates are fused (one pass over θ, g and the state per parameter), split
//! across threads for large parameters, and allocate nothing after the first step.

pub mod adadelta;
pub mod adafactor;
pub mod adagrad;
pub mod adam;
pub mod adamax;
pub mod asgd;
pub mod averaged;
pub mod clip;
pub mod compose;
pub mod conjugate_gradient;
mod core;
pub mod cyclic;
mod declare;
pub mod error;
mod file;
pub mod finite;
pub mod group;
pub mod kind;
pub mod lamb;
pub mod lbfgs;
mod lbfgs_state;
mod line_search;
pub mod lion;
pub mod lookahead;
pub mod lr_decay;
pub mod muon;
pub mod nadam;
pub mod onecycle;
pub mod optimizer;
mod par;
pub mod partitioned;
pub mod plateau;
pub mod radam;
pub mod rmsprop;
pub mod rprop;
pub mod rule;
pub mod schedule;
pub mod schedule_free;
pub mod schedule_kind;
mod scratch;
pub mod settings;
pub mod sgd;
pub mod state;
mod validate;

pub use adadelta::{Adadelta, AdadeltaConfig};
pub use adafactor::{Adafactor, AdafactorConfig};
pub use adagrad::{Adagrad, AdagradConfig};
pub use adam::{Adam, AdamConfig, AdamW};
pub use adamax::{Adamax, AdamaxConfig};
pub use asgd::{Asgd, AsgdConfig};
pub use averaged::{AveragedParams, AveragedState, Averaging, SwaLr};
pub use clip::{clip_grad_norm, clip_grad_value};
pub use compose::{ChainedScheduler, SequentialLr, warmup_cosine};
pub use conjugate_gradient::{CgConfig, CgSolution, conjugate_gradient};
pub use cyclic::{CyclicLr, CyclicMode, ScaleMode};
pub use declare::Options;
pub use error::{OptimError, Result};
pub use finite::{ApplyIfFinite, NonFiniteCounts, StepOutcome};
pub use group::{Group, ParamGroup};
pub use kind::{MOMENTUM, OptimizerKind};
pub use lamb::{Lamb, LambConfig};
pub use lbfgs::{Lbfgs, LbfgsConfig, LbfgsState, LineSearch};
pub use lion::{Lion, LionConfig};
pub use lookahead::Lookahead;
pub use lr_decay::{
    ConstantLr, CosineAnnealingWarmRestarts, ExponentialLr, LambdaLr, MultiStepLr,
    MultiplicativeLr, PolynomialLr,
};
pub use muon::{AdjustLr, Muon, MuonConfig};
pub use nadam::{NAdam, NAdamConfig};
pub use onecycle::{Anneal, OneCycleLr};
pub use optimizer::Optimizer;
pub use partitioned::Partitioned;
pub use plateau::{PlateauMode, PlateauState, ReduceLrOnPlateau, ThresholdMode};
pub use radam::{RAdam, RAdamConfig};
pub use rmsprop::{RmsProp, RmsPropConfig};
pub use rprop::{Rprop, RpropConfig};
pub use rule::{Optim, Rule, StepData};
pub use schedule::{CosineAnnealingLr, LinearLr, LrScheduler, Scheduler, SchedulerState, StepLr};
pub use schedule_free::{
    ScheduleFree, ScheduleFreeAdamW, ScheduleFreeAdamWConfig, ScheduleFreeSgd,
    ScheduleFreeSgdConfig,
};
pub use schedule_kind::ScheduleKind;
pub use settings::OptimizerSettings;
pub use sgd::{Sgd, SgdConfig};
pub use state::{GroupDict, MAX_STEP, ParamState, StateDict};
