//! The command line of `examples/train.rs`: flags, their checks, and `main`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use super::checkpoint::find_checkpoint;
use super::config::{
    DataSource, ModelKind, OptimizerKind, RunSpec, ScheduleKind, TrainConfig, default_lr,
};
use super::error::{Result, TrainError};
use super::run::train;

/// The flags, as clap reads them. Options that define the run are `Option`s:
/// unset, they take the defaults, or a resumed checkpoint's values.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "train",
    version,
    about = "Train a classifier with tapegrad: by default a small CNN on the embedded 8×8 digits."
)]
pub struct Args {
    /// A folder of MNIST-format IDX files (raw or .gz), or a LIBSVM file [default: the embedded digits]
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// The network [default: cnn]
    #[arg(long, value_enum)]
    pub model: Option<ModelKind>,
    /// The optimizer [default: adam]
    #[arg(long, value_parser = optimizer_kind())]
    pub optimizer: Option<OptimizerKind>,
    /// Learning rate, > 0 [default: 0.1 sgd, 0.01 momentum and adagrad, 0.001 otherwise]
    #[arg(long, value_parser = positive_f64, allow_negative_numbers = true)]
    pub lr: Option<f64>,
    /// Weight decay 1/C, ≥ 0 [default: 0.01 for adamw, 0 otherwise]
    #[arg(long, value_parser = non_negative_f64, allow_negative_numbers = true)]
    pub weight_decay: Option<f64>,
    /// Adam/AdamW without the bias correction of the moments
    #[arg(long)]
    pub no_bias_correction: bool,
    /// The learning-rate schedule over the run's T steps [default: constant]
    #[arg(long, value_parser = schedule_kind())]
    pub schedule: Option<ScheduleKind>,
    /// Clip the gradients' joint 2-norm to MAX before every step [default: no clipping]
    #[arg(long, value_name = "MAX", value_parser = positive_f64, allow_negative_numbers = true)]
    pub clip_grad_norm: Option<f64>,
    /// Lookahead around the optimizer: every K steps the slow weights move
    /// ALPHA of the way to the fast ones, which restart there (e.g. 5,0.5)
    #[arg(long, value_name = "K,ALPHA", value_parser = lookahead, allow_negative_numbers = true)]
    pub lookahead: Option<(usize, f64)>,
    /// Number of epochs [default: 15]
    #[arg(long, value_parser = positive_usize, allow_negative_numbers = true)]
    pub epochs: Option<usize>,
    /// Minibatch size [default: 32]
    #[arg(long, value_parser = positive_usize, allow_negative_numbers = true)]
    pub batch_size: Option<usize>,
    /// Seed of the split, the initialization and the shuffles [default: 0]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Threads of the rayon pool [default: one per core]
    #[arg(long, value_parser = positive_usize, allow_negative_numbers = true)]
    pub threads: Option<usize>,
    /// Treat subnormal floats as zero on every thread (as PyTorch's
    /// set_flush_denormal): Adam's moments of weights that never get a gradient
    /// otherwise decay into subnormals, whose arithmetic is slow
    #[arg(long)]
    pub flush_denormal: bool,
    /// Output directory: metrics.csv, metrics.png, checkpoint-epoch-N/
    #[arg(long, value_name = "DIR", default_value = "runs/train")]
    pub out: PathBuf,
    /// Continue from a checkpoint directory (or an output directory's latest)
    #[arg(long, value_name = "PATH")]
    pub resume: Option<PathBuf>,
    /// Print nothing but errors
    #[arg(long)]
    pub quiet: bool,
}

fn number<T: std::str::FromStr>(s: &str) -> std::result::Result<T, String> {
    s.trim().parse().map_err(|_| "not a number".to_owned())
}

fn positive_f64(s: &str) -> std::result::Result<f64, String> {
    let x: f64 = number(s)?;
    if x.is_finite() && x > 0.0 {
        Ok(x)
    } else {
        Err("must be a positive number".into())
    }
}

fn non_negative_f64(s: &str) -> std::result::Result<f64, String> {
    let x: f64 = number(s)?;
    if x.is_finite() && x >= 0.0 {
        Ok(x)
    } else {
        Err("must be a number ≥ 0".into())
    }
}

fn positive_usize(s: &str) -> std::result::Result<usize, String> {
    match number::<usize>(s) {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("must be a whole number ≥ 1".into()),
    }
}

/// `K,ALPHA` with K ≥ 1 and ALPHA in [0, 1].
fn lookahead(s: &str) -> std::result::Result<(usize, f64), String> {
    let bad = || "want K,ALPHA: K ≥ 1 steps, ALPHA in [0, 1] (e.g. 5,0.5)".to_owned();
    let (k, alpha) = s.split_once(',').ok_or_else(bad)?;
    let k = positive_usize(k).map_err(|_| bad())?;
    let alpha: f64 = number(alpha).map_err(|_| bad())?;
    if !(0.0..=1.0).contains(&alpha) {
        return Err(bad());
    }
    Ok((k, alpha))
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Train.
    Run {
        /// The job.
        config: TrainConfig,
        /// The size of rayon's global pool, if set.
        threads: Option<usize>,
        /// Whether subnormal floats are flushed to zero (`--flush-denormal`).
        flush_denormal: bool,
    },
    /// `--help` or `--version`: print this text and exit successfully.
    Print(String),
}

/// Parses the command line (`args[0]` is the program name) into a job, with
/// every flag checked. Errors are one line: [`TrainError::Usage`] for a bad flag
/// or value, [`TrainError::InvalidArgument`] for a missing `--data` path, other
/// variants for an unreadable `--resume` checkpoint.
///
/// ```
/// use tapegrad_train::{Command, ModelKind, parse_args};
/// let Command::Run { config, .. } = parse_args(["train", "--model", "mlp", "--epochs", "3"]).unwrap() else {
///     panic!()
/// };
/// assert_eq!((config.spec.model, config.epochs), (ModelKind::Mlp, 3));
/// let err = parse_args(["train", "--lr", "-1"]).unwrap_err();
/// assert_eq!(err.to_string(), "invalid value '-1' for '--lr <LR>': must be a positive number");
/// ```
pub fn parse_args<I, S>(args: I) -> Result<Command>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString> + Clone,
{
    let args = match Args::try_parse_from(args) {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => return Ok(Command::Print(e.render().to_string())),
        Err(e) => return Err(TrainError::Usage(one_line_clap(&e))),
    };
    let (threads, flush_denormal) = (args.threads, args.flush_denormal);
    Ok(Command::Run {
        config: args.into_config()?,
        threads,
        flush_denormal,
    })
}

/// clap's message without the "error:" prefix, usage and help hint, on one line.
fn one_line_clap(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let parts: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    parts.join(" ").trim_start_matches("error: ").to_owned()
}

impl Args {
    /// The job these flags describe: unset options take the defaults, or with
    /// `--resume` the checkpoint's values (then [`train`] refuses any set option
    /// that differs from the checkpoint).
    pub fn into_config(self) -> Result<TrainConfig> {
        if let Some(path) = &self.data
            && !path.exists()
        {
            return Err(TrainError::InvalidArgument {
                name: "--data",
                value: path.display().to_string(),
                reason: "no such file or directory".into(),
            });
        }
        let base = match &self.resume {
            Some(path) => find_checkpoint(path)?.spec,
            None => RunSpec::default(),
        };
        let optimizer = self.optimizer.unwrap_or(base.optimizer);
        let changed = self.optimizer.is_some_and(|o| o != base.optimizer);
        let fresh = self.resume.is_none() || changed;
        let spec = RunSpec {
            data: self.data.map_or(base.data, DataSource::Path),
            model: self.model.unwrap_or(base.model),
            optimizer,
            lr: self.lr.unwrap_or(if fresh {
                default_lr(optimizer)
            } else {
                base.lr
            }),
            weight_decay: self.weight_decay.unwrap_or(if fresh {
                optimizer.default_weight_decay()
            } else {
                base.weight_decay
            }),
            bias_correction: !self.no_bias_correction && (fresh || base.bias_correction),
            schedule: self.schedule.unwrap_or(base.schedule),
            clip_grad_norm: self.clip_grad_norm.or(base.clip_grad_norm),
            lookahead: self.lookahead.or(base.lookahead),
            batch_size: self.batch_size.unwrap_or(base.batch_size),
            seed: self.seed.unwrap_or(base.seed),
        };
        Ok(TrainConfig {
            spec,
            epochs: self.epochs.unwrap_or(TrainConfig::default().epochs),
            out: self.out,
            resume: self.resume,
            stop_after: None,
            quiet: self.quiet,
        })
    }
}

/// The whole program: parse `args`, size the thread pool, train. Prints errors
/// as one line on stderr; exit status 0 on success, 2 for a bad command line,
/// 1 for a failure while running.
pub fn main_with_args<I, S>(args: I) -> ExitCode
where
    I: IntoIterator<Item = S>,
    S: Into<OsString> + Clone,
{
    match parse_args(args).and_then(execute) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.one_line());
            let usage = matches!(e, TrainError::Usage(_) | TrainError::InvalidArgument { .. });
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

fn execute(command: Command) -> Result<()> {
    let (config, threads, flush_denormal) = match command {
        Command::Print(text) => {
            print!("{text}");
            return Ok(());
        }
        Command::Run {
            config,
            threads,
            flush_denormal,
        } => (config, threads, flush_denormal),
    };
    if let Some(n) = threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .map_err(|e| TrainError::Usage(format!("--threads {n}: {e}")))?;
    }
    if flush_denormal && !tapegrad_tape::set_flush_denormal(true) {
        eprintln!("warning: --flush-denormal: no flush-to-zero mode on this processor; ignored");
    }
    // On a thread of the pool: the step's parallel loops start on a worker
    // instead of being handed over from this thread, and only the pool's
    // threads hold the GEMM's packing buffers (`--threads n` is n threads in all).
    let outcome = rayon::scope(|_| train(&config))?;
    if let (false, Some(last)) = (config.quiet, outcome.history.last()) {
        let best = outcome
            .history
            .iter()
            .max_by(|a, b| a.test_accuracy.total_cmp(&b.test_accuracy))
            .unwrap_or(last);
        println!(
            "test accuracy {:.2}% after epoch {} (best {:.2}% at epoch {}); wrote {}/metrics.csv, metrics.png, {}",
            100.0 * last.test_accuracy,
            last.epoch,
            100.0 * best.test_accuracy,
            best.epoch,
            config.out.display(),
            outcome
                .checkpoint
                .map_or("no new checkpoint".into(), |p| p.display().to_string()),
        );
    }
    Ok(())
}

/// `--optimizer`'s values: every [`OptimizerKind`] by its name, with its help line.
fn optimizer_kind() -> impl clap::builder::TypedValueParser<Value = OptimizerKind> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    let values = OptimizerKind::ALL.map(|k| PossibleValue::new(k.name()).help(k.help()));
    PossibleValuesParser::new(values).try_map(|name| name.parse::<OptimizerKind>())
}

/// `--schedule`'s values: every [`ScheduleKind`] by its name, with its help line.
fn schedule_kind() -> impl clap::builder::TypedValueParser<Value = ScheduleKind> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    let values = ScheduleKind::ALL.map(|k| PossibleValue::new(k.name()).help(k.help()));
    PossibleValuesParser::new(values).try_map(|name| name.parse::<ScheduleKind>())
}
