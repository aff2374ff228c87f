//! Which optimizer to run, chosen at run time (a command-line flag, a config
//! file, a list of methods to compare).

use std::fmt;
use std::str::FromStr;

use tapegrad_tape::Float;

use crate::adadelta::AdadeltaConfig;
use crate::adafactor::AdafactorConfig;
use crate::adagrad::AdagradConfig;
use crate::adam::AdamConfig;
use crate::adamax::AdamaxConfig;
use crate::asgd::AsgdConfig;
use crate::declare::Options;
use crate::error::{OptimError, Result};
use crate::group::ParamGroup;
use crate::lamb::LambConfig;
use crate::lbfgs::{Lbfgs, LbfgsConfig};
use crate::lion::LionConfig;
use crate::muon::{AdjustLr, MuonConfig};
use crate::nadam::NAdamConfig;
use crate::optimizer::Optimizer;
use crate::partitioned::Partitioned;
use crate::radam::RAdamConfig;
use crate::rmsprop::RmsPropConfig;
use crate::rprop::RpropConfig;
use crate::rule::{Optim, Rule};
use crate::schedule_free::{ScheduleFreeAdamWConfig, ScheduleFreeSgdConfig};
use crate::settings::OptimizerSettings;
use crate::sgd::SgdConfig;

/// The momentum α of [`OptimizerKind::Momentum`] (heavy ball, as the lecture).
pub const MOMENTUM: f64 = 0.9;

/// The enum, its list and its table of names, help lines and configurations.
macro_rules! registry {
    (
        $(#[$meta:meta])*
        pub enum $enum:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $name:literal, $label:literal, $help:literal, $config:expr;
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $enum {
            $($(#[$vmeta])* $variant,)*
        }

        impl $enum {
            /// Every kind, in the order a command line lists them.
            pub const ALL: [$enum; [$(stringify!($variant)),*].len()] = [$(Self::$variant),*];

            /// The command-line name: lower case, no spaces.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            /// The name in plots, tables and reports.
            pub fn label(self) -> &'static str {
                match self {
                    $(Self::$variant => $label,)*
                }
            }

            /// One line for a command line's help.
            ///
            /// ```
            /// assert_eq!(tapegrad_optim::OptimizerKind::Sgd.help(), "plain stochastic gradient: θ ← θ − η g");
            /// ```
            pub fn help(self) -> &'static str {
                match self {
                    $(Self::$variant => $help,)*
                }
            }

            /// PyTorch's default learning rate for the optimizer.
            ///
            /// ```
            /// use tapegrad_optim::OptimizerKind;
            /// assert_eq!((OptimizerKind::Sgd.default_lr(), OptimizerKind::Adagrad.default_lr()), (1e-3, 1e-2));
            /// ```
            pub fn default_lr(self) -> f64 {
                match self {
                    $(Self::$variant => Options::lr(&$config),)*
                }
            }

            /// PyTorch's default weight decay: 0.01 for AdamW, 0 for the others.
            ///
            /// ```
            /// use tapegrad_optim::OptimizerKind;
            /// assert_eq!((OptimizerKind::AdamW.default_weight_decay(), OptimizerKind::Adam.default_weight_decay()), (0.01, 0.0));
            /// ```
            pub fn default_weight_decay(self) -> f64 {
                match self {
                    $(Self::$variant => Options::weight_decay(&$config),)*
                }
            }

            /// Whether the kind has the option `name` (as [`Options::set`] takes it).
            ///
            /// ```
            /// use tapegrad_optim::OptimizerKind;
            /// assert!(OptimizerKind::Adam.has_option("amsgrad"));
            /// assert!(!OptimizerKind::Sgd.has_option("betas.0"));
            /// ```
            pub fn has_option(self, name: &str) -> bool {
                match self {
                    $(Self::$variant => has_option(&$config, name),)*
                }
            }

            /// The kind's optimizer with the settings applied.
            pub(crate) fn build<T: Float>(
                self,
                settings: &OptimizerSettings,
                groups: Vec<ParamGroup<T>>,
            ) -> Result<Box<dyn Optimizer<T>>> {
                match self {
                    $(Self::$variant => Registered::build($config, settings, groups),)*
                }
            }
        }
    };
}

registry! {
    /// An optimizer choice. This list is the one registry of the optimizers a
    /// program can pick by name: [`OptimizerKind::ALL`] is what a command line
    /// offers and what an experiment can iterate over, and
    /// [`crate::OptimizerSettings::build`] turns a kind into an optimizer. A new
    /// optimizer becomes selectable everywhere by one entry in the `registry!`
    /// of this file: its variant, names, help line and configuration.
    ///
    /// [`name`](OptimizerKind::name) is the command-line spelling, which
    /// [`FromStr`] and [`Display`](fmt::Display) use;
    /// [`label`](OptimizerKind::label) is the name for plots and tables.
    ///
    /// ```
    /// use tapegrad_optim::OptimizerKind;
    /// let kind: OptimizerKind = "momentum".parse().unwrap();
    /// assert_eq!((kind, kind.label()), (OptimizerKind::Momentum, "SGD+momentum"));
    /// assert_eq!(kind.to_string(), "momentum");
    /// let names: Vec<&str> = OptimizerKind::ALL.iter().map(|k| k.name()).collect();
    /// assert_eq!(&names[..6], ["sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw"]);
    /// let err = "adam_w".parse::<OptimizerKind>().unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "unknown optimizer `adam_w`; valid names: sgd, momentum, adagrad, rmsprop, adam, adamw, \
    ///      adadelta, adamax, nadam, nadamw, radam, asgd, rprop, lion, lamb, adafactor, muon, \
    ///      lbfgs, sfsgd, sfadamw"
    /// );
    /// ```
    pub enum OptimizerKind {
        /// Plain stochastic gradient θ ← θ − η g ([`crate::Sgd`], momentum 0).
        Sgd = "sgd", "SGD", "plain stochastic gradient: θ ← θ − η g",
            SgdConfig::default();
        /// SGD with momentum α = [`MOMENTUM`] ([`crate::Sgd`]).
        Momentum = "momentum", "SGD+momentum", "SGD with heavy-ball momentum α = 0.9",
            SgdConfig { momentum: MOMENTUM, ..SgdConfig::default() };
        /// AdaGrad ([`crate::Adagrad`]).
        Adagrad = "adagrad", "AdaGrad", "AdaGrad", AdagradConfig::default();
        /// RMSprop, ρ = 0.99 ([`crate::RmsProp`]).
        RmsProp = "rmsprop", "RMSprop", "RMSprop (ρ = 0.99)", RmsPropConfig::default();
        /// Adam, (ρ₁, ρ₂) = (0.9, 0.999), weight decay coupled as θ/C in g ([`crate::Adam`]).
        Adam = "adam", "Adam", "Adam (ρ₁, ρ₂) = (0.9, 0.999), weight decay coupled",
            AdamConfig::default();
        /// AdamW: Adam with the decay θ ← θ − ε θ/C outside the adaptive step ([`crate::AdamW`]).
        AdamW = "adamw", "AdamW", "Adam with decoupled weight decay", AdamConfig::adamw();
        /// Adadelta, ρ = 0.9, ε = 1 ([`crate::Adadelta`]).
        Adadelta = "adadelta", "Adadelta", "Adadelta (ρ = 0.9)", AdadeltaConfig::default();
        /// Adamax: Adam with an infinity-norm second moment ([`crate::Adamax`]).
        Adamax = "adamax", "Adamax", "Adam with the infinity norm (ρ₁, ρ₂) = (0.9, 0.999)",
            AdamaxConfig::default();
        /// NAdam: Adam with Nesterov momentum ([`crate::NAdam`]).
        NAdam = "nadam", "NAdam", "Adam with Nesterov momentum, weight decay coupled",
            NAdamConfig::default();
        /// NAdamW: NAdam with decoupled weight decay ([`crate::NAdam`]).
        NAdamW = "nadamw", "NAdamW", "NAdam with decoupled weight decay",
            NAdamConfig { decoupled_weight_decay: true, ..NAdamConfig::default() };
        /// RAdam: Adam with the rectified adaptive step ([`crate::RAdam`]).
        RAdam = "radam", "RAdam", "rectified Adam: momentum steps until ρ_t > 5",
            RAdamConfig::default();
        /// ASGD: SGD with a decaying step that averages the iterates ([`crate::Asgd`]).
        Asgd = "asgd", "ASGD", "averaged SGD (the average θ̄ is kept as state)",
            AsgdConfig::default();
        /// Rprop: per-element step sizes from the signs of g ([`crate::Rprop`]; full batch).
        Rprop = "rprop", "Rprop", "resilient backpropagation (for full-batch gradients)",
            RpropConfig::default();
        /// Lion: the sign of an interpolated momentum ([`crate::Lion`], optax's `lion`).
        Lion = "lion", "Lion", "sign of interpolated momentum (ρ₁, ρ₂) = (0.9, 0.99)",
            LionConfig::default();
        /// LAMB: Adam with a per-tensor trust ratio ([`crate::Lamb`], optax's `lamb`).
        Lamb = "lamb", "LAMB", "Adam rescaled per tensor by ‖θ‖/‖u‖ (large batches)",
            LambConfig::default();
        /// Adafactor: a factored second moment, steps relative to ‖θ‖ ([`crate::Adafactor`]).
        Adafactor = "adafactor", "Adafactor", "factored second moment, relative step size",
            AdafactorConfig::default();
        /// Muon on the 2-D weights with the lr adjusted to AdamW's update RMS
        /// (`match_rms_adamw`), AdamW with the same lr and weight decay on the
        /// other parameters ([`crate::Muon`] and [`crate::AdamW`] in a
        /// [`crate::Partitioned`]).
        Muon = "muon", "Muon+AdamW", "Muon on the weight matrices, AdamW on the rest",
            MuonConfig { adjust_lr_fn: AdjustLr::MatchRmsAdamW, ..MuonConfig::default() };
        /// L-BFGS ([`crate::Lbfgs`], PyTorch's defaults): several evaluations
        /// of the objective per step, through [`Optimizer::step_with`].
        Lbfgs = "lbfgs", "L-BFGS", "quasi-Newton with a history of 100 pairs; steps through a closure (for full batches)",
            LbfgsConfig::default();
        /// Schedule-free SGD ([`crate::ScheduleFreeSgd`], optax's; evaluated at the average).
        ScheduleFreeSgd = "sfsgd", "schedule-free SGD", "SGD averaged without a schedule (evaluated at the average)",
            ScheduleFreeSgdConfig::default();
        /// Schedule-free AdamW ([`crate::ScheduleFreeAdamW`], optax's; evaluated at the average).
        ScheduleFreeAdamW = "sfadamw", "schedule-free AdamW", "AdamW averaged without a schedule (evaluated at the average)",
            ScheduleFreeAdamWConfig::default();
    }
}

fn has_option<R: Options>(_: &R, name: &str) -> bool {
    R::option_names().contains(&name)
}

/// How the registry builds a kind's optimizer from its configuration.
trait Registered: Options {
    fn build<T: Float>(
        self,
        settings: &OptimizerSettings,
        groups: Vec<ParamGroup<T>>,
    ) -> Result<Box<dyn Optimizer<T>>>;
}

/// The settings applied to a configuration's options.
fn configured<C: Options>(mut cfg: C, settings: &OptimizerSettings) -> Result<C> {
    cfg.set("lr", settings.lr)?;
    cfg.set("weight_decay", settings.weight_decay)?;
    if !settings.bias_correction {
        cfg.set("bias_correction", 0.0)?;
    }
    Ok(cfg)
}

/// A rule runs in [`Optim`]; one with a companion ([`Rule::companion`]) takes
/// the shapes it can and leaves the rest to the companion, in a
/// [`Partitioned`].
impl<R: Rule> Registered for R {
    fn build<T: Float>(
        self,
        settings: &OptimizerSettings,
        groups: Vec<ParamGroup<T>>,
    ) -> Result<Box<dyn Optimizer<T>>> {
        let cfg = configured(self, settings)?;
        let Some(kind) = cfg.companion() else {
            return Ok(Box::new(Optim::with_groups(groups, cfg)?));
        };
        let (own, others) = split_by_shape(&cfg, groups);
        if others.is_empty() || own.is_empty() {
            // All the rule's, or none (then the rule refuses them, saying why).
            let all = if own.is_empty() { others } else { own };
            return Ok(Box::new(Optim::with_groups(all, cfg)?));
        }
        let companion = OptimizerSettings { kind, ..*settings };
        let parts = vec![
            Box::new(Optim::with_groups(own, cfg)?) as Box<dyn Optimizer<T>>,
            companion.build_with_groups(others)?,
        ];
        Ok(Box::new(Partitioned::new(parts)?))
    }
}

/// L-BFGS takes one group (of the settings' lr) and steps through a closure.
impl Registered for LbfgsConfig {
    fn build<T: Float>(
        self,
        settings: &OptimizerSettings,
        groups: Vec<ParamGroup<T>>,
    ) -> Result<Box<dyn Optimizer<T>>> {
        let cfg = configured(self, settings)?;
        let [group] = <[ParamGroup<T>; 1]>::try_from(groups).map_err(|groups| {
            OptimError::UnsupportedOption {
                optimizer: "LBFGS",
                option: "parameter groups",
                reason: format!("L-BFGS has one group, as PyTorch's; got {}", groups.len()),
            }
        })?;
        if group.lr.is_some() || group.weight_decay.is_some() {
            return Err(OptimError::UnsupportedOption {
                optimizer: "LBFGS",
                option: "a group's own lr or weight decay",
                reason: "its one group takes the settings'".into(),
            });
        }
        Ok(Box::new(Lbfgs::new(group.params, cfg)?))
    }
}

/// Each group cut in two, keeping its lr and weight decay: the parameters the
/// rule takes and those it refuses (empty groups dropped).
fn split_by_shape<T: Float, R: Rule>(
    cfg: &R,
    groups: Vec<ParamGroup<T>>,
) -> (Vec<ParamGroup<T>>, Vec<ParamGroup<T>>) {
    let (mut own, mut others) = (Vec::new(), Vec::new());
    for g in groups {
        let (taken, refused): (Vec<_>, Vec<_>) =
            (g.params.iter().cloned()).partition(|p| cfg.check_shape(p.shape()).is_ok());
        for (params, out) in [(taken, &mut own), (refused, &mut others)] {
            if !params.is_empty() {
                out.push(ParamGroup {
                    params,
                    ..g.clone()
                });
            }
        }
    }
    (own, others)
}

impl OptimizerKind {
    /// Whether the kind divides its moments by (1 − ρᵗ), so that
    /// [`crate::OptimizerSettings::bias_correction`] can be turned off.
    pub fn has_bias_correction(self) -> bool {
        self.has_option("bias_correction")
    }

    /// The valid names, comma-separated (for error messages and help texts).
    pub fn valid_names() -> String {
        Self::ALL
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for OptimizerKind {
    /// Writes [`OptimizerKind::name`], which [`FromStr`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OptimizerKind {
    type Err = OptimError;

    /// The kind whose [`OptimizerKind::name`] is `s`, ignoring ASCII case;
    /// otherwise [`OptimError::UnknownOptimizer`], listing the valid names.
    fn from_str(s: &str) -> Result<Self, OptimError> {
        Self::ALL
            .iter()
            .copied()
            .find(|k| k.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| OptimError::UnknownOptimizer {
                given: s.to_string(),
                valid: Self::valid_names(),
            })
    }
}
