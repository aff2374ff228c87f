//! One error type for programs that use several tapegrad crates.

use crate::checkpoint::CheckpointError;
use crate::data::DataError;
use crate::nn::NnError;
use crate::optim::OptimError;
use crate::tape::{ExternalError, TapeError};

/// Any error of the tapegrad crates, so that one function can `?` a data read, a
/// forward pass, `backward` and an optimizer step.
///
/// Each variant keeps the crate's own error (match on it for the details) and
/// its source chain. A crate error that travelled through a tape closure
/// (`gradcheck`, say) as [`TapeError::External`] comes back as its own variant.
///
/// ```
/// use tapegrad::{Error, nn, tape::{Tensor, Var}};
/// fn loss(logits: &Var<f64>) -> Result<f64, Error> {
///     let loss = nn::cross_entropy(logits, &[0, 3])?; // NnError
///     loss.backward()?;                              // TapeError
///     Ok(loss.item()?)
/// }
/// let err = loss(&Var::parameter(Tensor::zeros(&[2, 3]))).unwrap_err();
/// assert!(matches!(err, Error::Nn(nn::NnError::TargetOutOfRange { target: 3, .. })));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tensor op, a backward pass or a gradient check.
    #[error(transparent)]
    Tape(TapeError),
    /// A layer, a loss, or saving and loading weights.
    #[error(transparent)]
    Nn(#[from] NnError),
    /// An optimizer, a schedule, or saving and loading optimizer state.
    #[error(transparent)]
    Optim(#[from] OptimError),
    /// Reading or preparing a data set.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Writing or restoring a checkpoint (a weights or optimizer file error
    /// inside it comes back as [`Error::Nn`] or [`Error::Optim`]).
    #[error(transparent)]
    Checkpoint(CheckpointError),
    /// Input or output outside the crates' own readers and writers.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<CheckpointError> for Error {
    fn from(error: CheckpointError) -> Self {
        match error {
            CheckpointError::Nn(e) => Error::Nn(e),
            CheckpointError::Optim(e) => Error::Optim(e),
            other => Error::Checkpoint(other),
        }
    }
}

impl From<TapeError> for Error {
    fn from(error: TapeError) -> Self {
        let TapeError::External(external) = error else {
            return Error::Tape(error);
        };
        let inner = match external.into_inner() {
            Ok(inner) => inner,
            Err(shared) => return Error::Tape(TapeError::External(shared)),
        };
        let inner = match inner.downcast::<Error>() {
            Ok(error) => return *error,
            Err(inner) => inner,
        };
        let inner = match inner.downcast::<NnError>() {
            Ok(error) => return Error::Nn(*error),
            Err(inner) => inner,
        };
        let inner = match inner.downcast::<OptimError>() {
            Ok(error) => return Error::Optim(*error),
            Err(inner) => inner,
        };
        let inner = match inner.downcast::<DataError>() {
            Ok(error) => return Error::Data(*error),
            Err(inner) => inner,
        };
        match inner.downcast::<std::io::Error>() {
            Ok(error) => Error::Io(*error),
            Err(inner) => Error::Tape(TapeError::External(ExternalError::from_box(inner))),
        }
    }
}

/// Lets `?` turn an [`Error`] into a [`TapeError`] inside a closure the tape
/// calls, such as the function given to [`crate::tape::gradcheck`]:
///
/// ```
/// use tapegrad::nn::{Linear, Module};
/// use tapegrad::tape::{GradcheckOptions, Tensor, Var, gradcheck};
/// use rand::{SeedableRng, rngs::StdRng};
/// let layer = Linear::<f64>::new(3, 2, &mut StdRng::seed_from_u64(0));
/// let x = Tensor::from_vec(vec![0.5, -1.0, 2.0], &[1, 3]).unwrap();
/// // `forward` returns an NnError; `?` converts it for gradcheck.
/// gradcheck(|v| Ok(layer.forward(&v[0])?.tanh().sum()), &[x], GradcheckOptions::default())
///     .unwrap();
/// ```
impl From<Error> for TapeError {
    fn from(error: Error) -> Self {
        match error {
            Error::Tape(inner) => inner,
            other => TapeError::External(ExternalError::new(other)),
        }
    }
}
