//! The one error type of the tape crate.

use std::sync::Arc;

use crate::shape::Shape;

/// Everything that can go wrong in a tensor op, a backward pass or a gradient check.
///
/// Variants name the op and the shapes involved, so a message can be acted on
/// without a debugger.
///
/// ```
/// use tapegrad_tape::{Tensor, TapeError};
/// let a = Tensor::<f64>::zeros(&[2, 3]);
/// let b = Tensor::<f64>::zeros(&[4, 3]);
/// let err = a.add(&b).unwrap_err();
/// assert!(matches!(err, TapeError::ShapeMismatch { op: "add", .. }));
/// assert_eq!(err.to_string(), "add: shapes [2, 3] and [4, 3] are not compatible");
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TapeError {
    /// Two operands whose shapes do not fit together (broadcasting, matmul, concat…).
    #[error("{op}: shapes {lhs:?} and {rhs:?} are not compatible")]
    ShapeMismatch {
        /// The op that was called.
        op: &'static str,
        /// Shape of the first operand.
        lhs: Shape,
        /// Shape of the second operand.
        rhs: Shape,
    },
    /// A shape that the op cannot take (wrong rank, wrong element count, zero stride…).
    #[error("{op}: invalid shape {shape:?}: {reason}")]
    InvalidShape {
        /// The op that was called.
        op: &'static str,
        /// The offending shape.
        shape: Shape,
        /// What is wrong with it.
        reason: String,
    },
    /// A data buffer whose length does not match the shape it was given.
    #[error("{op}: shape {shape:?} needs {expected} elements, got {got}")]
    DataLength {
        /// The op that was called.
        op: &'static str,
        /// The requested shape.
        shape: Shape,
        /// Product of the shape.
        expected: usize,
        /// Length of the data.
        got: usize,
    },
    /// An axis outside `-ndim..ndim`.
    #[error("{op}: axis {axis} is out of range for a tensor of rank {ndim}")]
    AxisOutOfRange {
        /// The op that was called.
        op: &'static str,
        /// The axis given.
        axis: isize,
        /// The tensor's rank.
        ndim: usize,
    },
    /// An index outside the extent of an axis.
    #[error("{op}: index {index} is out of range for an axis of size {size}")]
    IndexOutOfRange {
        /// The op that was called.
        op: &'static str,
        /// The index given.
        index: usize,
        /// The axis' extent.
        size: usize,
    },
    /// An argument with a value the op does not accept.
    #[error("{op}: invalid argument {name} = {value}: {reason}")]
    InvalidArgument {
        /// The op that was called.
        op: &'static str,
        /// The argument's name.
        name: &'static str,
        /// The value given, formatted.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// `backward()` on a result with more than one element.
    #[error("backward: the output must have one element to seed the gradient, got shape {shape:?}")]
    NonScalarOutput {
        /// Shape of the output.
        shape: Shape,
    },
    /// A second backward through a graph whose buffers were freed by the first.
    #[error(
        "backward: the graph through `{op}` was already freed by an earlier backward; pass retain_graph to keep it"
    )]
    GraphFreed {
        /// The op whose backward rule is gone.
        op: &'static str,
    },
    /// A tensor saved for backward was modified in place after it was used.
    #[error(
        "backward: `{name}` (input {input} of `{op}`) was modified in place after the forward pass (version {saved} when used, now {current})"
    )]
    ModifiedInPlace {
        /// The parameter's name, or `#id` when it has none.
        name: String,
        /// The op that used it.
        op: &'static str,
        /// Position of the tensor among the op's inputs.
        input: usize,
        /// Version when the op recorded it.
        saved: u64,
        /// Version now.
        current: u64,
    },
    /// `grad` asked for an input that the outputs do not depend on.
    #[error(
        "grad: input {index} was not used to compute the outputs (pass allow_unused to get None)"
    )]
    UnusedInput {
        /// Position of the input in the list given to `grad`.
        index: usize,
    },
    /// A tensor that does not require a gradient where one is needed.
    #[error("{op}: {what} does not require a gradient")]
    NoGradient {
        /// The call that needed a gradient.
        op: &'static str,
        /// What was given.
        what: String,
    },
    /// Anomaly mode ([`crate::detect_anomaly`]) found a NaN or an infinity: in
    /// an op's result, or in the gradient its backward rule computed.
    #[error(
        "anomaly: `{op}` gave a non-finite {stage} ({found} at element {index}; inputs of shapes {input_shapes:?})"
    )]
    Anomaly {
        /// The op whose forward or backward produced the value.
        op: &'static str,
        /// Which of the two.
        stage: AnomalyStage,
        /// The shapes of the op's inputs, in order.
        input_shapes: Vec<Shape>,
        /// The first non-finite element found.
        found: NonFinite,
        /// Its position (row-major) in the result or gradient.
        index: usize,
    },
    /// An analytic gradient that disagrees with finite differences.
    #[error(
        "{check}: Jacobian mismatch for output {output}, input {input}, element {element}: analytic {analytic:e}, numeric {numeric:e}"
    )]
    GradientMismatch {
        /// `"gradcheck"` or `"gradgradcheck"`.
        check: &'static str,
        /// Index of the output (flattened).
        output: usize,
        /// Index of the input in the list given.
        input: usize,
        /// Element of that input (flattened).
        element: usize,
        /// The reverse-mode value.
        analytic: f64,
        /// The finite-difference value.
        numeric: f64,
    },
    /// An error of another crate raised inside a closure the tape calls (a
    /// `gradcheck` function that runs a layer, say), carried with its source chain.
    /// Every tapegrad crate's error converts into this variant with `?`.
    #[error(transparent)]
    External(ExternalError),
}

/// An error from outside the tape crate, held by [`TapeError::External`].
///
/// Cloning shares the error; two values are equal when they share it.
///
/// ```
/// use tapegrad_tape::{ExternalError, TapeError};
/// let io = std::io::Error::other("disk full");
/// let err = TapeError::External(ExternalError::new(io));
/// assert_eq!(err.to_string(), "disk full");
/// let TapeError::External(inner) = err else { unreachable!() };
/// assert!(inner.into_inner().unwrap().downcast::<std::io::Error>().is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct ExternalError(Arc<Box<dyn std::error::Error + Send + Sync + 'static>>);

impl ExternalError {
    /// Wraps `error`.
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Arc::new(Box::new(error)))
    }

    /// Wraps an error that is already boxed.
    pub fn from_box(error: Box<dyn std::error::Error + Send + Sync + 'static>) -> Self {
        Self(Arc::new(error))
    }

    /// The wrapped error.
    pub fn get_ref(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self.0.as_ref().as_ref()
    }

    /// The wrapped error, to downcast to its type; `Err(self)` while a clone of
    /// this value still shares it.
    pub fn into_inner(self) -> std::result::Result<Box<dyn std::error::Error + Send + Sync>, Self> {
        Arc::try_unwrap(self.0).map_err(Self)
    }
}

impl PartialEq for ExternalError {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::fmt::Display for ExternalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self.get_ref(), f)
    }
}

impl std::error::Error for ExternalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.get_ref().source()
    }
}

/// Which value anomaly mode found non-finite (see [`crate::detect_anomaly`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnomalyStage {
    /// The result of the op's forward computation.
    Forward,
    /// The gradient the op's backward rule computed for one of its inputs.
    Gradient {
        /// Position of that input among the op's inputs.
        input: usize,
    },
}

impl std::fmt::Display for AnomalyStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnomalyStage::Forward => write!(f, "forward value"),
            AnomalyStage::Gradient { input } => write!(f, "gradient for input {input}"),
        }
    }
}

/// A value that is not finite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonFinite {
    /// Not a number.
    Nan,
    /// +∞.
    Infinity,
    /// −∞.
    NegInfinity,
}

impl NonFinite {
    /// What `x` is, or `None` when it is finite.
    pub fn of(x: f64) -> Option<Self> {
        if x.is_nan() {
            Some(NonFinite::Nan)
        } else if x == f64::INFINITY {
            Some(NonFinite::Infinity)
        } else if x == f64::NEG_INFINITY {
            Some(NonFinite::NegInfinity)
        } else {
            None
        }
    }
}

impl std::fmt::Display for NonFinite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NonFinite::Nan => "NaN",
            NonFinite::Infinity => "inf",
            NonFinite::NegInfinity => "-inf",
        })
    }
}

/// Result with [`TapeError`].
pub type Result<T, E = TapeError> = std::result::Result<T, E>;
