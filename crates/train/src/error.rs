//! The training program's errors: each is one line naming what was wrong.

use std::path::PathBuf;

use tapegrad_checkpoint::CheckpointError;
use tapegrad_data::DataError;
use tapegrad_nn::NnError;
use tapegrad_optim::OptimError;
use tapegrad_tape::TapeError;

/// Result with [`TrainError`].
pub type Result<T> = std::result::Result<T, TrainError>;

/// What can stop a training run. [`TrainError::Usage`] is a bad command line
/// (exit status 2); every other variant is a failure while running (status 1).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// A bad flag or flag value, already phrased as one line.
    #[error("{0}")]
    Usage(String),
    /// A flag value that conflicts with the data or the checkpoint.
    #[error("invalid {name} = {value}: {reason}")]
    InvalidArgument {
        /// The flag, e.g. `--model`.
        name: &'static str,
        /// The value given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// Reading or decoding the data set.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A layer, a loss or the weights file.
    #[error(transparent)]
    Nn(#[from] NnError),
    /// The optimizer or its state file.
    #[error(transparent)]
    Optim(#[from] OptimError),
    /// A tensor operation.
    #[error(transparent)]
    Tape(#[from] TapeError),
    /// A file or directory that could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A checkpoint that is incomplete, damaged or from another run.
    #[error("{}: bad checkpoint: {reason}", path.display())]
    Checkpoint {
        /// The checkpoint directory or file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A checkpoint refused for another reason (a name it cannot hold).
    #[error(transparent)]
    SavedState(CheckpointError),
    /// Drawing or writing a plot.
    #[error(transparent)]
    Plot(#[from] tapegrad_plot::PlotError),
}

impl TrainError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }

    /// The message on one line (nested errors may span several).
    pub fn one_line(&self) -> String {
        self.to_string()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

pub(crate) use tapegrad_checkpoint::quote;

impl From<CheckpointError> for TrainError {
    /// A damaged checkpoint is [`TrainError::Checkpoint`]; the weights' and the
    /// optimizer's errors keep their own variants.
    fn from(e: CheckpointError) -> Self {
        match e {
            CheckpointError::Io { path, source } => Self::Io { path, source },
            CheckpointError::Corrupt { path, reason } => Self::Checkpoint { path, reason },
            CheckpointError::NotSaved { path, what } => Self::Checkpoint {
                path,
                reason: format!("it holds no {what}"),
            },
            CheckpointError::Nn(e) => Self::Nn(e),
            CheckpointError::Optim(e) => Self::Optim(e),
            other => Self::SavedState(other),
        }
    }
}
