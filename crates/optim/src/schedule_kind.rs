//! A schedule chosen by name for a run of a known length: the one list the
//! training program's `--schedule` and the experiments pick from.

use std::fmt;
use std::str::FromStr;

use crate::compose::warmup_cosine;
use crate::cyclic::{CyclicLr, CyclicMode};
use crate::error::{OptimError, Result};
use crate::lr_decay::{
    ConstantLr, CosineAnnealingWarmRestarts, ExponentialLr, LambdaLr, MultiStepLr,
    MultiplicativeLr, PolynomialLr,
};
use crate::onecycle::OneCycleLr;
use crate::plateau::ReduceLrOnPlateau;
use crate::schedule::{CosineAnnealingLr, LinearLr, LrScheduler, StepLr};

macro_rules! kinds {
    ($($(#[$meta:meta])* $variant:ident = $name:literal, $help:literal;)*) => {
        /// A learning-rate schedule by name, with settings derived from the
        /// run's length T (optimizer steps) and lr.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
        pub enum ScheduleKind {
            $($(#[$meta])* $variant,)*
        }

        impl ScheduleKind {
            /// Every kind, in the order of the help text.
            pub const ALL: [ScheduleKind; [$($name),*].len()] = [$(ScheduleKind::$variant),*];

            /// The command-line name.
            pub fn name(self) -> &'static str {
                match self {
                    $(ScheduleKind::$variant => $name,)*
                }
            }

            /// One line for a help text: what the schedule does over a run of T steps.
            pub fn help(self) -> &'static str {
                match self {
                    $(ScheduleKind::$variant => $help,)*
                }
            }
        }
    };
}

kinds! {
    /// The lr stays (no schedule).
    #[default]
    Constant = "constant", "the lr stays";
    /// StepLR: ×0.1 at T/3 and 2T/3.
    Step = "step", "StepLR: ×0.1 every T/3 steps";
    /// MultiStepLR: ×0.1 at T/2 and 3T/4.
    MultiStep = "multistep", "MultiStepLR: ×0.1 at T/2 and 3T/4";
    /// ExponentialLR: down 100× over the run.
    Exponential = "exponential", "ExponentialLR: γ = 0.01^(1/T), down 100× over the run";
    /// ConstantLR with PyTorch's factor ⅓ over the first T/20 steps.
    ConstantFactor = "constant-factor", "ConstantLR: ×1/3 for the first T/20 steps, then the lr";
    /// MultiplicativeLR: the lr multiplied by the same γ at every step.
    Multiplicative = "multiplicative", "MultiplicativeLR: ×γ at every step, γ = 0.01^(1/T) (the recurrence)";
    /// LinearLR: from the lr down to 0 at T.
    Linear = "linear", "LinearLR: from the lr down to 0 at T";
    /// PolynomialLR of power 2 to 0 at T.
    Polynomial = "polynomial", "PolynomialLR: (1 − t/T)², to 0 at T";
    /// CosineAnnealingLR to 0 at T.
    Cosine = "cosine", "CosineAnnealingLR: cosine to 0 at T";
    /// Linear warm-up over T/20 from lr/100, then cosine to 0.
    WarmupCosine = "warmup-cosine", "linear warm-up from lr/100 over T/20 steps, then cosine to 0";
    /// CosineAnnealingWarmRestarts: three cycles of T/7, 2T/7, 4T/7.
    WarmRestarts = "warm-restarts", "CosineAnnealingWarmRestarts: cycles of T/7, 2T/7, 4T/7";
    /// OneCycleLR up to the lr (no momentum cycling).
    OneCycle = "onecycle", "OneCycleLR: from lr/25 up to the lr at 0.3 T, then down to lr/25e4";
    /// CyclicLR between lr/10 and the lr, triangular2, four cycles.
    Cyclic = "cyclic", "CyclicLR: lr/10 to lr and back, four cycles, each half as high";
    /// ReduceLROnPlateau on a metric (the training program: each epoch's training loss).
    Plateau = "plateau", "ReduceLROnPlateau: ×0.1 after 2 epochs without a better training loss";
}

impl ScheduleKind {
    /// The schedule over `total` optimizer steps from `lr`, or `None` for
    /// [`ScheduleKind::Plateau`], which follows a metric ([`ScheduleKind::plateau`]).
    /// Cyclic and one-cycle schedules leave the momentum alone.
    ///
    /// ```
    /// use tapegrad_optim::{LrScheduler, ScheduleKind};
    /// let cosine = ScheduleKind::Cosine.schedule(0.1, 100).unwrap().unwrap();
    /// assert!((cosine.lr_at(0.1, 50) - 0.05).abs() < 1e-15);
    /// assert!(ScheduleKind::Plateau.schedule(0.1, 100).unwrap().is_none());
    /// let err = ScheduleKind::WarmupCosine.schedule(0.1, 1).err().unwrap();
    /// assert!(err.to_string().contains("needs a run of at least 2 steps"));
    /// ```
    pub fn schedule(self, lr: f64, total: usize) -> Result<Option<Box<dyn LrScheduler>>> {
        let part = |n: usize, d: usize| (total * n / d).max(1);
        let boxed: Box<dyn LrScheduler> = match self {
            ScheduleKind::Constant => Box::new(LambdaLr::new(|_| 1.0)),
            ScheduleKind::Step => Box::new(StepLr::new(part(1, 3), 0.1)?),
            ScheduleKind::MultiStep => {
                Box::new(MultiStepLr::new(vec![part(1, 2), part(3, 4)], 0.1)?)
            }
            ScheduleKind::Exponential => {
                Box::new(ExponentialLr::new(0.01f64.powf(1.0 / total.max(1) as f64))?)
            }
            ScheduleKind::ConstantFactor => Box::new(ConstantLr::new(1.0 / 3.0, part(1, 20))?),
            ScheduleKind::Multiplicative => {
                let gamma = 0.01f64.powf(1.0 / total.max(1) as f64);
                Box::new(MultiplicativeLr::new(move |_| gamma))
            }
            ScheduleKind::Linear => Box::new(LinearLr::new(1.0, 0.0, total.max(1))?),
            ScheduleKind::Polynomial => Box::new(PolynomialLr::new(total.max(1), 2.0)?),
            ScheduleKind::Cosine => Box::new(CosineAnnealingLr::new(total.max(1), 0.0)?),
            ScheduleKind::WarmupCosine => {
                if total < 2 {
                    return Err(self.too_short(total, 2));
                }
                let warmup = part(1, 20).min(total - 1);
                Box::new(warmup_cosine(0.01, warmup, total, 0.0)?)
            }
            ScheduleKind::WarmRestarts => {
                Box::new(CosineAnnealingWarmRestarts::new(part(1, 7), 2, 0.0)?)
            }
            ScheduleKind::OneCycle => Box::new(
                OneCycleLr {
                    cycle_momentum: None,
                    ..OneCycleLr::new(lr, total.max(1))?
                }
                .validated()?,
            ),
            ScheduleKind::Cyclic => Box::new(
                CyclicLr {
                    mode: CyclicMode::Triangular2,
                    cycle_momentum: None,
                    ..CyclicLr::new(lr / 10.0, lr, part(1, 8))?
                }
                .validated()?,
            ),
            ScheduleKind::Plateau => return Ok(None),
        };
        Ok(Some(boxed))
    }

    /// [`ReduceLrOnPlateau`] with factor 0.1 and patience 2 for
    /// [`ScheduleKind::Plateau`] (to validate against the optimizer), else `None`.
    pub fn plateau(self) -> Option<ReduceLrOnPlateau> {
        (self == ScheduleKind::Plateau).then(|| ReduceLrOnPlateau {
            patience: 2,
            ..ReduceLrOnPlateau::default()
        })
    }

    /// The valid names, comma-separated.
    pub fn valid_names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }

    fn too_short(self, total: usize, least: usize) -> OptimError {
        let reason = format!("needs a run of at least {least} steps");
        crate::validate::refuse(self.name(), "total steps", total as f64, &reason)
    }
}

impl fmt::Display for ScheduleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ScheduleKind {
    type Err = OptimError;

    /// The kind named `s` (ignoring ASCII case), or
    /// [`OptimError::UnknownSchedule`] listing the valid names.
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| OptimError::UnknownSchedule {
                given: s.to_string(),
                valid: Self::valid_names(),
            })
    }
}
