//! Dropout, the one layer whose forward depends on the train/eval mode.

use std::sync::atomic::{AtomicBool, Ordering};

use rand::Rng;
use tapegrad_tape::{Float, Tensor, Var};

use crate::error::{NnError, Result};
use crate::generator::Generator;
use crate::module::Module;

/// In training, zeroes each element with probability p and scales the others by
/// 1/(1 − p), so the expected output equals the input; in evaluation, the
/// identity (as `torch.nn.Dropout`):
///
/// ```text
/// y = x ⊙ m / (1 − p),   m_i ~ Bernoulli(1 − p)   (training; y = 0 when p = 1)
/// y = x                                           (evaluation)
/// ```
///
/// The masks come from the layer's own [`Generator`], seeded at construction
/// (or by [`Dropout::reseed`]), so a run is reproduced by its seed whatever else
/// draws random numbers; the generator's state is listed by
/// [`Module::generator_states`] under the name `generator`, so a checkpoint
/// saves it and a resumed run draws the masks it would have drawn. The
/// gradient is g ⊙ m / (1 − p), with the same mask.
///
/// ```
/// use tapegrad_nn::{Dropout, Module};
/// use tapegrad_tape::{Tensor, Var};
/// let drop = Dropout::new(0.5, 42).unwrap();
/// let x = Var::constant(Tensor::<f64>::ones(&[1000]));
/// let y = drop.forward(&x).unwrap().value();
/// assert!(y.data().iter().all(|&v| v == 0.0 || v == 2.0));
/// drop.eval();
/// assert_eq!(drop.forward(&x).unwrap().value(), x.value());
/// ```
#[derive(Debug)]
pub struct Dropout {
    p: f64,
    training: AtomicBool,
    generator: Generator,
}

impl Dropout {
    /// A dropout layer with drop probability `p` ∈ [0, 1], in training mode,
    /// drawing its masks from a generator seeded with `seed`.
    pub fn new(p: f64, seed: u64) -> Result<Self> {
        if !(0.0..=1.0).contains(&p) {
            return Err(NnError::InvalidArgument {
                op: "Dropout",
                name: "p",
                value: p.to_string(),
                reason: "a probability must lie in [0, 1]".into(),
            });
        }
        Ok(Self {
            p,
            training: AtomicBool::new(true),
            generator: Generator::new(seed),
        })
    }

    /// The drop probability.
    pub fn p(&self) -> f64 {
        self.p
    }

    /// Starts the masks over from `seed`, as a layer made with that seed.
    pub fn reseed(&self, seed: u64) {
        self.generator.reseed(seed);
    }

    /// The generator the masks are drawn from.
    pub fn generator(&self) -> &Generator {
        &self.generator
    }

    /// Switches to training mode (as [`Module::train`], without naming the
    /// element type).
    pub fn train(&self) {
        self.training.store(true, Ordering::Relaxed);
    }

    /// Switches to evaluation mode (as [`Module::eval`], without naming the
    /// element type).
    pub fn eval(&self) {
        self.training.store(false, Ordering::Relaxed);
    }

    /// Whether the layer is in training mode (it drops) or evaluation mode.
    pub fn is_training(&self) -> bool {
        self.training.load(Ordering::Relaxed)
    }

    /// A mask of 0 and 1/(1 − p) of the given shape.
    pub(crate) fn mask<T: Float>(&self, shape: &[usize]) -> Tensor<T> {
        let keep_scale = if self.p < 1.0 {
            T::from_f64(1.0 / (1.0 - self.p))
        } else {
            T::ZERO
        };
        let mut mask = Tensor::zeros(shape);
        self.generator.with(|rng| {
            for m in mask.data_mut() {
                if rng.random::<f64>() >= self.p {
                    *m = keep_scale;
                }
            }
        });
        mask
    }
}

impl<T: Float> Module<T> for Dropout {
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        if !self.is_training() || self.p == 0.0 {
            return Ok(x.clone());
        }
        Ok(x.mul(&Var::constant(self.mask(x.shape())))?)
    }

    fn set_own_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }

    fn visit_own_generators(&self, visit: &mut dyn FnMut(&str, &Generator)) {
        visit("generator", &self.generator);
    }
}

/// Channel dropout, as `torch.nn.Dropout2d`: in training, zeroes each whole
/// channel of `[N, C, H, W]` (or `[N, C, L]`) with probability p and scales
/// the others by 1/(1 − p); in evaluation, the identity:
///
/// ```text
/// y[n, c, …] = x[n, c, …] · m[n, c] / (1 − p),   m[n, c] ~ Bernoulli(1 − p)
/// ```
///
/// The masks come from the layer's own [`Generator`], as [`Dropout`]'s.
///
/// ```
/// use tapegrad_nn::{Dropout2d, Module};
/// use tapegrad_tape::{Tensor, Var};
/// let drop = Dropout2d::new(0.5, 7).unwrap();
/// let y = drop.forward(&Var::constant(Tensor::<f64>::ones(&[4, 8, 3, 3]))).unwrap().value();
/// for plane in y.data().chunks(9) {
///     assert!(plane.iter().all(|&v| v == plane[0])); // a channel is kept or dropped whole
/// }
/// ```
#[derive(Debug)]
pub struct Dropout2d(Dropout);

impl Dropout2d {
    /// A channel-dropout layer with drop probability `p` ∈ [0, 1], in training
    /// mode, drawing its masks from a generator seeded with `seed`.
    pub fn new(p: f64, seed: u64) -> Result<Self> {
        Dropout::new(p, seed)
            .map_err(|e| match e {
                NnError::InvalidArgument {
                    name,
                    value,
                    reason,
                    ..
                } => NnError::InvalidArgument {
                    op: "Dropout2d",
                    name,
                    value,
                    reason,
                },
                other => other,
            })
            .map(Self)
    }

    /// The drop probability.
    pub fn p(&self) -> f64 {
        self.0.p
    }

    /// Starts the masks over from `seed`.
    pub fn reseed(&self, seed: u64) {
        self.0.reseed(seed);
    }

    /// Whether the layer is in training mode.
    pub fn is_training(&self) -> bool {
        self.0.is_training()
    }
}

impl<T: Float> Module<T> for Dropout2d {
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        let shape = x.shape();
        if !(3..=4).contains(&shape.len()) {
            return Err(NnError::InvalidArgument {
                op: "Dropout2d",
                name: "input",
                value: format!("shape {shape:?}"),
                reason: "must be [N, C, H, W] or [N, C, L]".into(),
            });
        }
        if !self.is_training() || self.0.p == 0.0 {
            return Ok(x.clone());
        }
        let mut mask_shape = vec![1; shape.len()];
        mask_shape[..2].copy_from_slice(&shape[..2]);
        Ok(x.mul(&Var::constant(self.0.mask(&mask_shape)))?)
    }

    fn set_own_training(&self, training: bool) {
        self.0.training.store(training, Ordering::Relaxed);
    }

    fn visit_own_generators(&self, visit: &mut dyn FnMut(&str, &Generator)) {
        visit("generator", &self.0.generator);
    }
}
