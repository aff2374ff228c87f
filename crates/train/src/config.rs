//! What a run is: the settings that fix its trajectory, and how long and where it runs.

use std::fmt;
use std::path::PathBuf;

pub use tapegrad_optim::{OptimizerKind, ScheduleKind};

/// The network to train (see [`tapegrad_train::model`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModelKind {
    /// Fully connected: D → 512 → 512 → K with ReLU.
    Mlp,
    /// Convolutional: conv → ReLU → max-pool blocks, then a linear layer.
    Cnn,
    /// A Vision Transformer: patches, a class token, 4 pre-norm GELU blocks.
    Vit,
    /// An LSTM reading the image row by row, a linear layer on its last state.
    Lstm,
}

/// The learning rate used when `--lr` is not given: what trains the default
/// models well with each method, and PyTorch's default for the kinds not tuned
/// here.
///
/// ```
/// use tapegrad_train::{OptimizerKind, default_lr};
/// assert_eq!((default_lr(OptimizerKind::Sgd), default_lr(OptimizerKind::Adam)), (0.1, 1e-3));
/// ```
pub fn default_lr(kind: OptimizerKind) -> f64 {
    match kind {
        OptimizerKind::Sgd => 0.1,
        OptimizerKind::Momentum | OptimizerKind::Adagrad => 0.01,
        OptimizerKind::RmsProp | OptimizerKind::Adam | OptimizerKind::AdamW => 1e-3,
        #[allow(unreachable_patterns)]
        other => other.default_lr(),
    }
}

/// Where the samples come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// The UCI 8×8 digits embedded in the binary, split 80/20 by the seed.
    Digits,
    /// A folder of MNIST-format IDX files (official train/test split) or a
    /// LIBSVM file (split 80/20 by the seed).
    Path(PathBuf),
}

impl fmt::Display for DataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Digits => f.write_str("digits"),
            Self::Path(p) => write!(f, "{}", p.display()),
        }
    }
}

/// The settings that determine the sequence of weights a run produces: two runs
/// with equal specs produce the same weights, bit for bit, epoch after epoch.
/// A checkpoint stores its run's spec and refuses to resume another one.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    /// The data set.
    pub data: DataSource,
    /// The network.
    pub model: ModelKind,
    /// The optimizer.
    pub optimizer: OptimizerKind,
    /// Learning rate (> 0).
    pub lr: f64,
    /// Weight decay 1/C (≥ 0): coupled for SGD, AdaGrad, RMSprop and Adam,
    /// decoupled for AdamW.
    pub weight_decay: f64,
    /// Adam/AdamW: divide the moments by (1 − ρᵗ).
    pub bias_correction: bool,
    /// The learning-rate schedule over the run's steps.
    pub schedule: ScheduleKind,
    /// Clip the gradients' joint 2-norm to this before every step.
    pub clip_grad_norm: Option<f64>,
    /// Lookahead around the optimizer: every k steps the slow weights move
    /// α of the way to the fast ones, which restart from them (k, α).
    pub lookahead: Option<(usize, f64)>,
    /// Minibatch size |S| (≥ 1).
    pub batch_size: usize,
    /// Seeds the split, the initialization and every epoch's shuffle.
    pub seed: u64,
}

impl Default for RunSpec {
    /// The default run: a CNN on the embedded digits with Adam.
    fn default() -> Self {
        Self {
            data: DataSource::Digits,
            model: ModelKind::Cnn,
            optimizer: OptimizerKind::Adam,
            lr: OptimizerKind::Adam.default_lr(),
            weight_decay: 0.0,
            bias_correction: true,
            schedule: ScheduleKind::Constant,
            clip_grad_norm: None,
            lookahead: None,
            batch_size: 32,
            seed: 0,
        }
    }
}

/// A whole training job: the run, how many epochs, and where its files go.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// The run's trajectory-defining settings.
    pub spec: RunSpec,
    /// The number of epochs the finished run has (a resumed run continues up to it).
    pub epochs: usize,
    /// The directory for `metrics.csv`, `metrics.png` and the checkpoints.
    pub out: PathBuf,
    /// A checkpoint to continue from (a checkpoint directory, or an output
    /// directory holding one).
    pub resume: Option<PathBuf>,
    /// Stop (as if interrupted) once this epoch is written.
    pub stop_after: Option<usize>,
    /// No progress bar and no table.
    pub quiet: bool,
}

impl Default for TrainConfig {
    /// The default job: 15 epochs of [`RunSpec::default`] into `runs/train`.
    fn default() -> Self {
        Self {
            spec: RunSpec::default(),
            epochs: 15,
            out: PathBuf::from("runs/train"),
            resume: None,
            stop_after: None,
            quiet: false,
        }
    }
}
