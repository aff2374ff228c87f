//! The checkpoint's errors: each names the file and what was wrong.

use std::path::PathBuf;

use tapegrad_nn::NnError;
use tapegrad_optim::OptimError;

/// Result with [`CheckpointError`].
pub type Result<T> = std::result::Result<T, CheckpointError>;

/// What can stop a checkpoint from being written or restored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// A file or directory that could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system reported.
        source: std::io::Error,
    },
    /// A checkpoint that is incomplete, damaged or not a checkpoint.
    #[error("{}: bad checkpoint: {reason}", path.display())]
    Corrupt {
        /// The checkpoint directory or file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A name given for a metadata key, a generator or an extra file that
    /// the format cannot hold.
    #[error("invalid {what} name {name:?}: {reason}")]
    InvalidName {
        /// `"metadata key"`, `"generator"` or `"file"`.
        what: &'static str,
        /// The name given.
        name: String,
        /// What a name may be.
        reason: String,
    },
    /// A metadata value that spans lines.
    #[error("the value of metadata key `{key}` holds a line break")]
    InvalidValue {
        /// The key.
        key: String,
    },
    /// Something asked of a checkpoint that it does not hold.
    #[error("{}: the checkpoint holds no {what}", path.display())]
    NotSaved {
        /// The checkpoint directory.
        path: PathBuf,
        /// What was asked for (`generator "shuffle"`, `scheduler state`, …).
        what: String,
    },
    /// The weights file or the model's generators.
    #[error(transparent)]
    Nn(#[from] NnError),
    /// The optimizer's state file or the scheduler's state.
    #[error(transparent)]
    Optim(#[from] OptimError),
}

impl CheckpointError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::Corrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// `s` in quotes, cut to 64 characters: error messages never copy a whole input.
///
/// ```
/// use tapegrad_checkpoint::quote;
/// assert_eq!(quote("ab"), "\"ab\"");
/// assert_eq!(quote(&"x".repeat(100)).chars().count(), 64 + 3);
/// ```
pub fn quote(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}…", &s[..cut]),
        None => format!("{s:?}"),
    }
}
