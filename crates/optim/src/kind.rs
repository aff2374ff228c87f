//! Which optimizer to run, chosen at run time (a command-line flag, a config
//! file, a list of methods to compare).

use std::fmt;
use std::str::FromStr;

use crate::error::OptimError;

/// The momentum α of [`OptimizerKind::Momentum`] (heavy ball, as the lecture).
pub const MOMENTUM: f64 = 0.9;

/// An optimizer choice. This enum is the one list of the optimizers a program
/// can pick by name: [`OptimizerKind::ALL`] is what a command line offers and
/// what an experiment can iterate over, and
/// [`crate::OptimizerSettings::build`] turns a kind into an optimizer. A new
/// optimizer becomes selectable everywhere by adding its variant here, to
/// `ALL`, and to the matches below and in the builder (the compiler points
/// at each).
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
/// assert_eq!(names, ["sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw"]);
/// let err = "adam_w".parse::<OptimizerKind>().unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "unknown optimizer `adam_w`; valid names: sgd, momentum, adagrad, rmsprop, adam, adamw"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptimizerKind {
    /// Plain stochastic gradient θ ← θ − η g ([`crate::Sgd`], momentum 0).
    Sgd,
    /// SGD with momentum α = [`MOMENTUM`] ([`crate::Sgd`]).
    Momentum,
    /// AdaGrad ([`crate::Adagrad`]).
    Adagrad,
    /// RMSprop, ρ = 0.99 ([`crate::RmsProp`]).
    RmsProp,
    /// Adam, (ρ₁, ρ₂) = (0.9, 0.999), weight decay coupled as θ/C in g ([`crate::Adam`]).
    Adam,
    /// AdamW: Adam with the decay θ ← θ − ε θ/C outside the adaptive step ([`crate::AdamW`]).
    AdamW,
}

impl OptimizerKind {
    /// Every kind, in the order a command line lists them.
    pub const ALL: [OptimizerKind; 6] = [
        Self::Sgd,
        Self::Momentum,
        Self::Adagrad,
        Self::RmsProp,
        Self::Adam,
        Self::AdamW,
    ];

    /// The command-line name: lower case, no spaces.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sgd => "sgd",
            Self::Momentum => "momentum",
            Self::Adagrad => "adagrad",
            Self::RmsProp => "rmsprop",
            Self::Adam => "adam",
            Self::AdamW => "adamw",
        }
    }

    /// The name in plots, tables and reports.
    pub fn label(self) -> &'static str {
        match self {
            Self::Sgd => "SGD",
            Self::Momentum => "SGD+momentum",
            Self::Adagrad => "AdaGrad",
            Self::RmsProp => "RMSprop",
            Self::Adam => "Adam",
            Self::AdamW => "AdamW",
        }
    }

    /// One line for a command line's help.
    ///
    /// ```
    /// assert_eq!(tapegrad_optim::OptimizerKind::Sgd.help(), "plain stochastic gradient: θ ← θ − η g");
    /// ```
    pub fn help(self) -> &'static str {
        match self {
            Self::Sgd => "plain stochastic gradient: θ ← θ − η g",
            Self::Momentum => "SGD with heavy-ball momentum α = 0.9",
            Self::Adagrad => "AdaGrad",
            Self::RmsProp => "RMSprop (ρ = 0.99)",
            Self::Adam => "Adam (ρ₁, ρ₂) = (0.9, 0.999), weight decay coupled",
            Self::AdamW => "Adam with decoupled weight decay",
        }
    }

    /// Whether the kind divides its moments by (1 − ρᵗ), so that
    /// [`crate::OptimizerSettings::bias_correction`] can be turned off.
    pub fn has_bias_correction(self) -> bool {
        matches!(self, Self::Adam | Self::AdamW)
    }

    /// PyTorch's default learning rate for the optimizer.
    ///
    /// ```
    /// use tapegrad_optim::OptimizerKind;
    /// assert_eq!((OptimizerKind::Sgd.default_lr(), OptimizerKind::Adagrad.default_lr()), (1e-3, 1e-2));
    /// ```
    pub fn default_lr(self) -> f64 {
        match self {
            Self::Sgd | Self::Momentum | Self::Adam | Self::AdamW => 1e-3,
            Self::Adagrad | Self::RmsProp => 1e-2,
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
            Self::AdamW => 1e-2,
            _ => 0.0,
        }
    }

    /// The valid names, comma-separated (for error messages and help texts).
    pub fn valid_names() -> String {
        Self::ALL.map(Self::name).join(", ")
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
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| OptimError::UnknownOptimizer {
                given: s.to_string(),
                valid: Self::valid_names(),
            })
    }
}
