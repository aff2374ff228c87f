//! The error type of the optimizer crate.

use std::path::PathBuf;

use tapegrad_tape::TapeError;

/// Everything that can go wrong when building an optimizer or schedule, taking a
/// step, clipping gradients, or saving and restoring optimizer state.
///
/// Each variant names the thing at fault (the optimizer, the option and its
/// value, the file and what is wrong with it), so a message can be acted on
/// without a debugger.
///
/// ```
/// use tapegrad_optim::{Adam, AdamConfig, OptimError};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::<f64>::zeros(&[2]));
/// let cfg = AdamConfig { lr: -1.0, ..Default::default() };
/// let err = Adam::new(vec![w], cfg).unwrap_err();
/// assert!(matches!(err, OptimError::InvalidHyperParameter { name: "lr", .. }));
/// assert_eq!(err.to_string(), "Adam: invalid lr = -1: must be >= 0");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OptimError {
    /// An option of an optimizer or a schedule outside its valid range.
    #[error("{optimizer}: invalid {name} = {value}: {reason}")]
    InvalidHyperParameter {
        /// The optimizer or schedule being built (`"Adam"`, `"StepLR"`, …).
        optimizer: &'static str,
        /// The option's name as in the config struct (`"betas.0"` for ρ₁).
        name: &'static str,
        /// The value given, formatted.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// An argument of a free function (gradient clipping) outside its valid range.
    #[error("{function}: invalid argument {name} = {value}: {reason}")]
    InvalidArgument {
        /// The function called.
        function: &'static str,
        /// The argument's name.
        name: &'static str,
        /// The value given, formatted.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// An optimizer built over no parameters at all.
    #[error("{optimizer}: got an empty parameter list")]
    NoParameters {
        /// The optimizer being built.
        optimizer: &'static str,
    },
    /// A var that is not a parameter (a constant or an op result) given to an optimizer.
    #[error(
        "{optimizer}: `{name}` is not a parameter (only leaves made with Var::parameter can be optimized)"
    )]
    NotAParameter {
        /// The optimizer being built.
        optimizer: &'static str,
        /// The var's name.
        name: String,
    },
    /// The same parameter given twice (in one group or in two).
    #[error("{optimizer}: parameter `{name}` appears more than once in the parameter groups")]
    DuplicateParameter {
        /// The optimizer being built.
        optimizer: &'static str,
        /// The parameter's name.
        name: String,
    },
    /// A gradient whose shape differs from its parameter's.
    #[error(
        "{optimizer}: gradient of `{name}` has shape {grad:?}, the parameter has shape {param:?}"
    )]
    GradientShape {
        /// The optimizer stepping.
        optimizer: &'static str,
        /// The parameter's name.
        name: String,
        /// The parameter's shape.
        param: Vec<usize>,
        /// The gradient's shape.
        grad: Vec<usize>,
    },
    /// A parameter-group index past the last group.
    #[error("{optimizer}: no parameter group {index} (there are {count})")]
    NoSuchGroup {
        /// The optimizer asked.
        optimizer: &'static str,
        /// The index given.
        index: usize,
        /// How many groups there are.
        count: usize,
    },
    /// A gradient norm that is NaN or infinite while `error_if_nonfinite` is set.
    #[error(
        "clip_grad_norm: the total norm of order {norm_type} of the gradients is {total}; pass error_if_nonfinite = false to clip anyway"
    )]
    NonFiniteNorm {
        /// The order of the norm.
        norm_type: f64,
        /// The norm computed.
        total: f64,
    },
    /// A schedule stepped past its last step (OneCycle's `total_steps`).
    #[error("{schedule}: stepped {step} times, the schedule has {total} steps")]
    ScheduleFinished {
        /// The schedule.
        schedule: &'static str,
        /// The step asked for.
        step: usize,
        /// The schedule's length.
        total: usize,
    },
    /// A state dict that does not fit the optimizer it is loaded into.
    #[error("{optimizer}: cannot load state: {reason}")]
    StateMismatch {
        /// The optimizer loading the state.
        optimizer: &'static str,
        /// What does not fit.
        reason: String,
    },
    /// A saved counter that no run can produce: a step count t of 0 for a
    /// parameter with state (t is at least 1 after its first step), above
    /// [`crate::MAX_STEP`], nonzero for SGD (which does not count), or skipped-step
    /// counts of [`crate::ApplyIfFinite`] that contradict each other.
    #[error("{optimizer}: impossible {counter} = {value} in the state: {reason}")]
    ImpossibleCounter {
        /// The optimizer loading the state.
        optimizer: &'static str,
        /// Which counter (`"step of group 0, parameter 1"`, `"apply_if_finite.notfinite_count"`).
        counter: String,
        /// The saved value, formatted.
        value: String,
        /// Why no run can reach it.
        reason: String,
    },
    /// A counter that would pass the largest value it can hold exactly; the
    /// step is refused before anything changes.
    #[error("{optimizer}: {counter} has reached {limit}, the largest count kept exactly")]
    CounterLimit {
        /// The optimizer stepping.
        optimizer: &'static str,
        /// Which counter (``"the step count of `fc.weight`"``, `"apply_if_finite.total_notfinite"`).
        counter: String,
        /// The bound, [`crate::MAX_STEP`].
        limit: u64,
    },
    /// More consecutive steps with a NaN or infinite gradient than
    /// [`crate::ApplyIfFinite`] was told to skip; nothing changed.
    #[error(
        "{optimizer}: a gradient is NaN or infinite in {consecutive} consecutive steps, and at most {limit} such steps are skipped; this step was refused"
    )]
    TooManyNonFiniteSteps {
        /// The wrapped optimizer.
        optimizer: &'static str,
        /// Consecutive steps with a non-finite gradient, this one included.
        consecutive: u64,
        /// The `max_consecutive_errors` given.
        limit: u64,
    },
    /// An optimizer name that is not one of [`crate::OptimizerKind::ALL`].
    #[error("unknown optimizer `{given}`; valid names: {valid}")]
    UnknownOptimizer {
        /// The name given.
        given: String,
        /// The valid names, comma-separated.
        valid: String,
    },
    /// A schedule name that [`crate::ScheduleKind`] does not know.
    #[error("unknown schedule `{given}`; valid names: {valid}")]
    UnknownSchedule {
        /// The name given.
        given: String,
        /// The valid names, comma-separated.
        valid: String,
    },
    /// An option set by name ([`crate::Options::set`]) that the configuration
    /// does not have, or a value its type cannot hold.
    #[error("{optimizer}: no option {given}; its options are {valid}")]
    UnknownOption {
        /// The optimizer whose configuration was set.
        optimizer: &'static str,
        /// The name and value given.
        given: String,
        /// The valid names, comma-separated.
        valid: String,
    },
    /// A setting of [`crate::OptimizerSettings`] that the chosen optimizer does not have.
    #[error("{optimizer}: {option} is not supported: {reason}")]
    UnsupportedOption {
        /// The optimizer's [`crate::OptimizerKind::name`].
        optimizer: &'static str,
        /// The setting and its value (`"bias_correction = false"`).
        option: &'static str,
        /// Which optimizers have it.
        reason: String,
    },
    /// A parameter of a shape the optimizer cannot update (Muon takes matrices).
    #[error("{optimizer}: cannot take a parameter of shape {shape:?}: {reason}")]
    UnsupportedShape {
        /// The optimizer's name.
        optimizer: &'static str,
        /// The parameter's shape.
        shape: Vec<usize>,
        /// What it takes instead.
        reason: String,
    },
    /// A state file that is not a complete, intact optimizer state file.
    #[error("{}: corrupt optimizer state file: {reason}", path.display())]
    CorruptFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it (bad magic, truncated, checksum mismatch, …).
        reason: String,
    },
    /// An I/O failure while saving or loading a state file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An error from the tape crate.
    #[error(transparent)]
    Tape(#[from] TapeError),
}

/// Result with [`OptimError`].
pub type Result<T, E = OptimError> = std::result::Result<T, E>;

/// Lets `?` turn a [`OptimError`] into a [`TapeError`] inside a closure the tape
/// calls (a `gradcheck` function, say): a tape error comes back unchanged,
/// any other is carried by [`TapeError::External`] with its source chain.
impl From<OptimError> for TapeError {
    fn from(error: OptimError) -> Self {
        match error {
            OptimError::Tape(inner) => inner,
            other => TapeError::External(tapegrad_tape::ExternalError::new(other)),
        }
    }
}
