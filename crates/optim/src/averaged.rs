//! Averages of the weights over training, as PyTorch's `AveragedModel`:
//! stochastic weight averaging (Izmailov et al., 2018) and an exponential
//! moving average, to evaluate with instead of the last iterate.

use tapegrad_tape::{Float, Var};

use crate::error::{OptimError, Result};
use crate::validate;

/// How [`AveragedParams::update`] folds in the current weights.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Averaging {
    /// The mean of every update's weights (PyTorch's default `avg_fn`):
    /// θ̄ ← θ̄ + (θ − θ̄)/(n + 1).
    Swa,
    /// θ̄ ← lerp(θ̄, θ, 1 − decay) (PyTorch's `get_ema_multi_avg_fn(decay)`),
    /// decay in [0, 1].
    Ema {
        /// The weight of the old average.
        decay: f64,
    },
}

/// What [`AveragedParams`] has averaged: saved with a run and restored with
/// [`AveragedParams::restore`].
#[derive(Clone, Debug, PartialEq)]
pub struct AveragedState<T> {
    /// The updates folded in so far (PyTorch's `n_averaged`).
    pub n_averaged: u64,
    /// The average of each parameter (empty before the first update).
    pub averages: Vec<Vec<T>>,
}

/// Running averages of parameters (PyTorch's `AveragedModel` without a copy of
/// the module): call [`AveragedParams::update`] after optimizer steps, and
/// [`AveragedParams::swap`] to put the averages into the parameters for
/// evaluation and, called again, to put the trained weights back. The first
/// update copies the weights, as in PyTorch.
///
/// ```
/// use tapegrad_optim::{AveragedParams, Averaging};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2]).unwrap());
/// let mut swa = AveragedParams::new(vec![w.clone()], Averaging::Swa).unwrap();
/// swa.update();
/// w.update(|d| d.copy_from_slice(&[3.0, 6.0]));
/// swa.update();
/// assert_eq!(swa.state().averages[0], [2.0, 4.0]);
/// swa.swap().unwrap(); // evaluate with the average
/// assert_eq!(w.value().data(), [2.0, 4.0]);
/// swa.swap().unwrap(); // and continue training from the last weights
/// assert_eq!(w.value().data(), [3.0, 6.0]);
/// ```
pub struct AveragedParams<T: Float> {
    params: Vec<Var<T>>,
    averaging: Averaging,
    state: AveragedState<T>,
}

const NAME: &str = "AveragedModel";

impl<T: Float> AveragedParams<T> {
    /// Averages of `params`; refuses an EMA decay outside [0, 1].
    pub fn new(params: Vec<Var<T>>, averaging: Averaging) -> Result<Self> {
        if let Averaging::Ema { decay } = averaging {
            validate::unit_closed(NAME, "decay", decay)?;
        }
        let state = AveragedState {
            n_averaged: 0,
            averages: Vec::new(),
        };
        Ok(Self {
            params,
            averaging,
            state,
        })
    }

    /// Folds the parameters' current values into the averages.
    pub fn update(&mut self) {
        let n = self.state.n_averaged;
        if n == 0 {
            self.state.averages = self
                .params
                .iter()
                .map(|p| p.value().data().to_vec())
                .collect();
        } else {
            for (p, avg) in self.params.iter().zip(&mut self.state.averages) {
                let value = p.value();
                let pairs = avg.iter_mut().zip(value.data());
                match self.averaging {
                    Averaging::Swa => {
                        let count = T::from_f64((n + 1) as f64);
                        pairs.for_each(|(a, &x)| *a = *a + (x - *a) / count);
                    }
                    Averaging::Ema { decay } => {
                        let weight = T::from_f64(1.0 - decay);
                        pairs.for_each(|(a, &x)| *a = crate::adam::lerp(*a, x, weight));
                    }
                }
            }
        }
        self.state.n_averaged = n + 1;
    }

    /// Exchanges every parameter's value with its average (bumping its version,
    /// as any change of a weight); refused before the first update.
    pub fn swap(&mut self) -> Result<()> {
        if self.state.n_averaged == 0 {
            return Err(validate::refuse(
                NAME,
                "n_averaged",
                0.0,
                "nothing is averaged yet: call update first",
            ));
        }
        for (p, avg) in self.params.iter().zip(&mut self.state.averages) {
            p.update(|d| d.swap_with_slice(avg));
        }
        Ok(())
    }

    /// What has been averaged.
    pub fn state(&self) -> &AveragedState<T> {
        &self.state
    }

    /// Continues from a saved [`AveragedParams::state`]: refused (and nothing
    /// changed) when its averages do not fit the parameters.
    pub fn restore(&mut self, state: AveragedState<T>) -> Result<()> {
        let sizes: Vec<usize> = self.params.iter().map(|p| p.numel()).collect();
        let saved: Vec<usize> = state.averages.iter().map(Vec::len).collect();
        let fits = match state.n_averaged {
            0 => saved.is_empty(),
            _ => saved == sizes,
        };
        if !fits {
            return Err(OptimError::StateMismatch {
                optimizer: NAME,
                reason: format!(
                    "{} updates with averages of sizes {saved:?}, the parameters have sizes {sizes:?}",
                    state.n_averaged
                ),
            });
        }
        self.state = state;
        Ok(())
    }
}

/// Anneals each group's lr to `swa_lr` over `anneal_epochs` scheduler steps
/// and holds it there (PyTorch's `SWALR`, stepped once per epoch of the SWA
/// phase): with α = anneal(min(1, t / max(1, E))) (cos: (1 − cos πx)/2; linear: x),
///
/// lr = swa_lr · α + base · (1 − α),
///
/// and lr = swa_lr from the start when E = 0, as in PyTorch.
///
/// ```
/// use tapegrad_optim::{Anneal, LrScheduler, SwaLr};
/// let s = SwaLr::new(0.05, 2, Anneal::Linear).unwrap();
/// let lrs: Vec<f64> = (0..4).map(|t| s.lr_at(0.25, t)).collect();
/// assert_eq!(lrs, [0.25, 0.15, 0.05, 0.05]);
/// ```
#[derive(Clone, Debug)]
pub struct SwaLr {
    swa_lr: f64,
    anneal_epochs: usize,
    anneal: crate::onecycle::Anneal,
}

impl SwaLr {
    /// PyTorch's defaults are 10 epochs and the cosine; refuses a negative or
    /// non-finite `swa_lr`.
    pub fn new(swa_lr: f64, anneal_epochs: usize, anneal: crate::onecycle::Anneal) -> Result<Self> {
        validate::non_negative("SWALR", "swa_lr", swa_lr)?;
        Ok(Self {
            swa_lr,
            anneal_epochs,
            anneal,
        })
    }
}

impl crate::schedule::LrScheduler for SwaLr {
    fn name(&self) -> &'static str {
        "SWALR"
    }
    fn lr_at(&self, base: f64, t: usize) -> f64 {
        if self.anneal_epochs == 0 {
            return self.swa_lr;
        }
        let x = (t as f64 / self.anneal_epochs as f64).min(1.0);
        let alpha = match self.anneal {
            crate::onecycle::Anneal::Cos => (1.0 - (std::f64::consts::PI * x).cos()) / 2.0,
            crate::onecycle::Anneal::Linear => x,
        };
        self.swa_lr * alpha + base * (1.0 - alpha)
    }
}
