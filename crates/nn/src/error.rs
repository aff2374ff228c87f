//! The one error type of the nn crate.

use std::fmt;
use std::path::PathBuf;

use tapegrad_tape::TapeError;

/// Everything that can go wrong in a layer, a loss, or saving and loading weights.
///
/// Variants name the function, the value and the file involved, so a message can
/// be acted on as it stands.
///
/// ```
/// use tapegrad_nn::{cross_entropy, NnError};
/// use tapegrad_tape::{Tensor, Var};
/// let logits = Var::constant(Tensor::<f64>::zeros(&[2, 3]));
/// let err = cross_entropy(&logits, &[0, 3]).unwrap_err();
/// assert!(matches!(err, NnError::TargetOutOfRange { position: 1, target: 3, classes: 3, .. }));
/// assert_eq!(
///     err.to_string(),
///     "cross_entropy: target 3 at position 1 is out of range for 3 classes (0..3)"
/// );
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NnError {
    /// An error of a tensor op (shapes that do not fit, a freed graph, …).
    #[error(transparent)]
    Tape(#[from] TapeError),
    /// An argument with a value the function does not accept.
    #[error("{op}: invalid argument {name} = {value}: {reason}")]
    InvalidArgument {
        /// The function or layer that was called.
        op: &'static str,
        /// The argument's name.
        name: &'static str,
        /// The value given, formatted.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// A class index outside `0..classes` (and not the ignored index).
    #[error(
        "{op}: target {target} at position {position} is out of range for {classes} classes (0..{classes})"
    )]
    TargetOutOfRange {
        /// The loss that was called.
        op: &'static str,
        /// Position of the target in the batch.
        position: usize,
        /// The class index given.
        target: usize,
        /// Number of classes K.
        classes: usize,
    },
    /// Reading, writing or renaming a file failed.
    #[error("{op}: {}: {source}", path.display())]
    Io {
        /// The function that was called.
        op: &'static str,
        /// The file involved.
        path: PathBuf,
        /// What the operating system reported.
        source: std::io::Error,
    },
    /// A weights file that ends before the data its header announces.
    #[error("{}: truncated safetensors file: {reason}", path.display())]
    TruncatedFile {
        /// The file read.
        path: PathBuf,
        /// Where it falls short.
        reason: String,
    },
    /// A weights file that is not valid safetensors (bad header, bad offsets, …).
    #[error("{}: corrupt safetensors file: {reason}", path.display())]
    CorruptFile {
        /// The file read.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A valid weights file whose tensors do not match the module's parameters.
    /// Every problem is listed, and no parameter was changed.
    #[error("{}: the file does not match the module's parameters and buffers:{}", path.display(), ListProblems(problems))]
    StateMismatch {
        /// The file read.
        path: PathBuf,
        /// Every mismatch found, in the order of the module's parameters, then
        /// the unexpected names in the file.
        problems: Vec<LoadProblem>,
    },
    /// Saved generator states whose names are not the module's generators'.
    #[error(
        "the saved generator states do not match the module's: missing {missing:?}, unexpected {unexpected:?}"
    )]
    GeneratorMismatch {
        /// Generators of the module with no saved state.
        missing: Vec<String>,
        /// Saved states the module has no generator for.
        unexpected: Vec<String>,
    },
    /// The safetensors writer refused the tensors (a header too large, …).
    #[error("{}: cannot write safetensors: {reason}", path.display())]
    Serialize {
        /// The file to be written.
        path: PathBuf,
        /// What the writer reported.
        reason: String,
    },
}

/// One way a weights file can disagree with a module.
///
/// ```
/// use tapegrad_nn::LoadProblem;
/// let p = LoadProblem::WrongShape { name: "0.weight".into(), expected: vec![8, 1, 3, 3], found: vec![8, 3, 3] };
/// assert_eq!(p.to_string(), "`0.weight` has shape [8, 3, 3] in the file, the module needs [8, 1, 3, 3]");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadProblem {
    /// A parameter or buffer of the module that the file lacks.
    Missing {
        /// The parameter's dotted name.
        name: String,
    },
    /// A tensor in the file that the module has no parameter for.
    Unexpected {
        /// The tensor's name in the file.
        name: String,
    },
    /// A tensor whose shape differs from the parameter's.
    WrongShape {
        /// The parameter's dotted name.
        name: String,
        /// The parameter's shape.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// A tensor whose element type differs from the module's.
    WrongDtype {
        /// The parameter's dotted name.
        name: String,
        /// The module's element type (`"F32"` or `"F64"`).
        expected: String,
        /// The type in the file.
        found: String,
    },
}

impl fmt::Display for LoadProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { name } => write!(f, "`{name}` is missing from the file"),
            Self::Unexpected { name } => {
                write!(f, "`{name}` is in the file but not in the module")
            }
            Self::WrongShape {
                name,
                expected,
                found,
            } => write!(
                f,
                "`{name}` has shape {found:?} in the file, the module needs {expected:?}"
            ),
            Self::WrongDtype {
                name,
                expected,
                found,
            } => write!(
                f,
                "`{name}` has dtype {found} in the file, the module needs {expected}"
            ),
        }
    }
}

/// Formats a list of problems one per line, for [`NnError::StateMismatch`].
struct ListProblems<'a>(&'a [LoadProblem]);

impl fmt::Display for ListProblems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for problem in self.0 {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

/// Result with [`NnError`].
pub type Result<T, E = NnError> = std::result::Result<T, E>;

/// Lets `?` turn a [`NnError`] into a [`TapeError`] inside a closure the tape
/// calls (a `gradcheck` function, say): a tape error comes back unchanged,
/// any other is carried by [`TapeError::External`] with its source chain.
impl From<NnError> for TapeError {
    fn from(error: NnError) -> Self {
        match error {
            NnError::Tape(inner) => inner,
            other => TapeError::External(tapegrad_tape::ExternalError::new(other)),
        }
    }
}
