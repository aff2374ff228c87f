//! The experiments' errors: each is one line naming what went wrong.

use std::path::{Path, PathBuf};

use tapegrad_data::DataError;
use tapegrad_nn::NnError;
use tapegrad_optim::OptimError;
use tapegrad_tape::TapeError;

/// Result with [`ExperimentError`].
pub type Result<T> = std::result::Result<T, ExperimentError>;

/// What can stop an experiment.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExperimentError {
    /// A setting that cannot work, e.g. no seeds or an empty grid.
    #[error("invalid {name} = {value}: {reason}")]
    InvalidArgument {
        /// The setting.
        name: &'static str,
        /// The value given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// Reading or decoding a data set.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A layer or a loss.
    #[error(transparent)]
    Nn(#[from] NnError),
    /// An optimizer or a schedule.
    #[error(transparent)]
    Optim(#[from] OptimError),
    /// A tensor operation.
    #[error(transparent)]
    Tape(#[from] TapeError),
    /// The training program's model, data or evaluation code (boxed: it is large).
    #[error(transparent)]
    Train(Box<tapegrad_train::TrainError>),
    /// A file or directory that could not be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Drawing or writing a plot.
    #[error(transparent)]
    Plot(#[from] tapegrad_plot::PlotError),
}

impl ExperimentError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl From<tapegrad_train::TrainError> for ExperimentError {
    fn from(e: tapegrad_train::TrainError) -> Self {
        Self::Train(Box::new(e))
    }
}
