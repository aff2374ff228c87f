//! Checkpoints: everything needed to continue a run exactly where it stopped.
//!
//! After epoch N the run writes the directory `checkpoint-epoch-N` in its output
//! directory, a [`tapegrad_checkpoint`] checkpoint holding
//!
//! - `model.safetensors`: the weights (tapegrad-nn's safetensors file);
//! - `optimizer.state`: the optimizer's state (tapegrad-optim's state file:
//!   step counts and moment buffers, bit for bit);
//! - `metrics.csv`: the metrics of epochs 1..=N, for the log and the plot;
//! - `checkpoint.txt`: the step and the epoch N, the scheduler's state, the
//!   run's [`RunSpec`] as `meta.*` lines, the size and CRC-32 of each file
//!   above, and last the CRC-32 of its own text.
//!
//! The shuffling needs no saved generator: the generator of epoch e is seeded
//! with [`epoch_seed`]`(seed, e)`, so (seed, N) is its whole state. The
//! library writes the directory under a temporary name and renames it into
//! place, so a crash or a power loss leaves the previous checkpoint or the new
//! one; the previous one is then deleted. Resuming checks every checksum before
//! it changes anything, so a damaged file is refused rather than trained on.

use std::fs;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use tapegrad_checkpoint::{Checkpoint as Saved, SavedCheckpoint};
use tapegrad_nn::Module;
use tapegrad_optim::Optimizer;

use super::config::{DataSource, ModelKind, OptimizerKind, RunSpec, ScheduleKind};
use super::error::{Result, TrainError};
use super::metrics::{EpochMetrics, parse_csv, to_csv};
use super::schedule::ScheduleRecord;

/// The run's log inside a checkpoint.
const METRICS: &str = "metrics.csv";
/// The prefix of checkpoint directory names.
const PREFIX: &str = "checkpoint-epoch-";

/// The seed of the generator that shuffles epoch `epoch` (from 1) of a run
/// seeded with `seed`: the SplitMix64 finalizer of `seed + epoch·φ`, so
/// neighbouring seeds and epochs give unrelated streams.
///
/// ```
/// use tapegrad_train::epoch_seed;
/// assert_ne!(epoch_seed(0, 1), epoch_seed(0, 2));
/// assert_ne!(epoch_seed(0, 2), epoch_seed(1, 1));
/// assert_eq!(epoch_seed(7, 3), epoch_seed(7, 3));
/// ```
pub fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    let mut z = seed.wrapping_add((epoch as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A checkpoint read back: where it is, its epoch and its run.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The checkpoint directory.
    pub dir: PathBuf,
    /// The last finished epoch.
    pub epoch: usize,
    /// The run it belongs to.
    pub spec: RunSpec,
    /// Its schedule's length and state.
    pub schedule: ScheduleRecord,
    /// The library's checkpoint.
    saved: SavedCheckpoint,
}

/// The directory of the checkpoint after `epoch` inside `out`.
pub fn checkpoint_dir(out: &Path, epoch: usize) -> PathBuf {
    out.join(format!("{PREFIX}{epoch}"))
}

/// Writes the checkpoint after `epoch` (and `step` optimizer steps) into `out`
/// atomically and removes older ones; returns its directory.
pub fn save_checkpoint(
    out: &Path,
    (epoch, step): (usize, usize),
    spec: &RunSpec,
    model: &dyn Module<f32>,
    optimizer: &dyn Optimizer<f32>,
    schedule: &ScheduleRecord,
    history: &[EpochMetrics],
) -> Result<PathBuf> {
    let dir = checkpoint_dir(out, epoch);
    let mut ck = describe(Saved::new(step, epoch), spec)
        .meta("schedule_steps", schedule.total_steps.to_string())
        .file(METRICS, to_csv(history));
    if let Some(state) = &schedule.scheduler {
        ck = ck.scheduler_state(state.clone());
    }
    if let Some(plateau) = &schedule.plateau {
        ck = ck.plateau_state(plateau.clone());
    }
    ck.save(&dir, model, optimizer)?;
    remove_others(out, &dir)?;
    tapegrad_checkpoint::durable::sync_dir(out).map_err(TrainError::io(out))?;
    Ok(dir)
}

/// Deletes every checkpoint directory in `out` other than `keep`.
fn remove_others(out: &Path, keep: &Path) -> Result<()> {
    for (_, path) in list(out)? {
        if path != keep {
            fs::remove_dir_all(&path).map_err(TrainError::io(&path))?;
        }
    }
    Ok(())
}

/// The checkpoint directories in `out` with their epochs.
fn list(out: &Path) -> Result<Vec<(usize, PathBuf)>> {
    let entries = fs::read_dir(out).map_err(TrainError::io(out))?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(TrainError::io(out))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(epoch) = name.strip_prefix(PREFIX).and_then(|e| e.parse().ok()) {
            found.push((epoch, entry.path()));
        }
    }
    Ok(found)
}

/// Finds and reads the checkpoint at `path`: a checkpoint directory, or an
/// output directory (its latest checkpoint).
pub fn find_checkpoint(path: &Path) -> Result<Checkpoint> {
    let dir = if path.join("checkpoint.txt").is_file() {
        path.to_path_buf()
    } else if path.is_dir() {
        let latest = list(path)?.into_iter().max_by_key(|(epoch, _)| *epoch);
        latest.map(|(_, dir)| dir).ok_or_else(|| {
            bad(
                path,
                "no checkpoint.txt and no checkpoint-epoch-N directory",
            )
        })?
    } else {
        return Err(TrainError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such checkpoint"),
        });
    };
    let saved = SavedCheckpoint::open(&dir)?;
    let meta = dir.join(tapegrad_checkpoint::META_FILE);
    let spec = parse(&saved).map_err(|reason| bad(&meta, &reason))?;
    let schedule = ScheduleRecord {
        total_steps: saved
            .meta("schedule_steps")
            .ok_or_else(|| bad(&meta, "no `meta.schedule_steps` line"))?
            .parse()
            .map_err(|_| bad(&meta, "bad meta.schedule_steps"))?,
        scheduler: saved.scheduler_state().cloned(),
        plateau: saved.plateau().cloned(),
    };
    Ok(Checkpoint {
        dir,
        epoch: saved.epoch(),
        spec,
        schedule,
        saved,
    })
}

impl Checkpoint {
    /// Loads the weights into `model`, the state into `optimizer`, and returns
    /// the metrics of epochs 1..=epoch. Every file's size and checksum is
    /// checked first, and a refused checkpoint leaves the model and the
    /// optimizer as they were.
    pub fn restore(
        &self,
        model: &dyn Module<f32>,
        optimizer: &mut dyn Optimizer<f32>,
    ) -> Result<Vec<EpochMetrics>> {
        let path = self.dir.join(METRICS);
        let text = self.saved.read_file(METRICS)?;
        let text = String::from_utf8(text).map_err(|_| bad(&path, "not UTF-8 text"))?;
        let history = parse_csv(&text).map_err(|reason| bad(&path, &reason))?;
        let epochs: Vec<usize> = history.iter().map(|m| m.epoch).collect();
        let consecutive = epochs.iter().enumerate().all(|(i, &e)| e == i + 1);
        if epochs.len() != self.epoch || !consecutive {
            return Err(bad(
                &path,
                &format!("holds epochs {epochs:?}, expected 1..={}", self.epoch),
            ));
        }
        self.saved.restore(model, optimizer)?;
        Ok(history)
    }
}

fn bad(path: &Path, reason: &str) -> TrainError {
    TrainError::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The command-line spelling of an enum value (`cnn`, `adamw`).
pub(crate) fn value_name<E: ValueEnum>(e: &E) -> String {
    e.to_possible_value()
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default()
}

/// The run's spec as metadata. Floats use the shortest round-trip form.
fn describe(ck: Saved, s: &RunSpec) -> Saved {
    let data = match &s.data {
        DataSource::Digits => "embedded:digits".to_owned(),
        DataSource::Path(p) => format!("path:{}", p.display()),
    };
    ck.meta("data", data)
        .meta("model", value_name(&s.model))
        .meta("optimizer", s.optimizer.name())
        .meta("lr", format!("{:?}", s.lr))
        .meta("weight_decay", format!("{:?}", s.weight_decay))
        .meta("bias_correction", s.bias_correction.to_string())
        .meta("schedule", s.schedule.name())
        .meta("clip_grad_norm", clip_text(s.clip_grad_norm))
        .meta("lookahead", lookahead_text(s.lookahead))
        .meta("batch_size", s.batch_size.to_string())
        .meta("seed", s.seed.to_string())
}

/// The run's spec from the metadata of [`describe`].
fn parse(saved: &SavedCheckpoint) -> std::result::Result<RunSpec, String> {
    let get = |key: &str| {
        saved
            .meta(key)
            .ok_or_else(|| format!("no `meta.{key}` line"))
    };
    let num = |key: &str| -> std::result::Result<f64, String> {
        get(key)?.parse().map_err(|_| format!("bad {key}"))
    };
    let int = |key: &str| -> std::result::Result<u64, String> {
        get(key)?.parse().map_err(|_| format!("bad {key}"))
    };
    let data = match get("data")? {
        "embedded:digits" => DataSource::Digits,
        other => DataSource::Path(other.strip_prefix("path:").ok_or("bad data")?.into()),
    };
    Ok(RunSpec {
        data,
        model: ModelKind::from_str(get("model")?, false)?,
        optimizer: get("optimizer")?
            .parse::<OptimizerKind>()
            .map_err(|e| e.to_string())?,
        lr: num("lr")?,
        weight_decay: num("weight_decay")?,
        bias_correction: get("bias_correction")?
            .parse()
            .map_err(|_| "bad bias_correction")?,
        schedule: get("schedule")?
            .parse::<ScheduleKind>()
            .map_err(|e| e.to_string())?,
        // Checkpoints from before clipping existed did not clip.
        clip_grad_norm: match saved.meta("clip_grad_norm") {
            None | Some("none") => None,
            Some(text) => Some(text.parse().map_err(|_| "bad clip_grad_norm")?),
        },
        lookahead: parse_lookahead(get("lookahead")?).ok_or("bad lookahead")?,
        batch_size: int("batch_size")? as usize,
        seed: int("seed")?,
    })
}

/// `none`, or the norm.
fn clip_text(clip: Option<f64>) -> String {
    clip.map_or("none".into(), |c| format!("{c:?}"))
}

/// `none`, or `K ALPHA`.
fn lookahead_text(lookahead: Option<(usize, f64)>) -> String {
    lookahead.map_or("none".into(), |(k, alpha)| format!("{k} {alpha:?}"))
}

/// The value of [`lookahead_text`].
fn parse_lookahead(text: &str) -> Option<Option<(usize, f64)>> {
    if text == "none" {
        return Some(None);
    }
    let (k, alpha) = text.split_once(' ')?;
    Some(Some((k.parse().ok()?, alpha.parse().ok()?)))
}

/// Explains how `given` differs from the checkpoint's `saved` spec, naming the
/// flags, or `None` when they are the same run.
pub fn spec_mismatch(given: &RunSpec, saved: &RunSpec) -> Option<String> {
    let mut diffs = Vec::new();
    let mut check = |flag: &str, a: String, b: String| {
        if a != b {
            diffs.push(format!("{flag} {a} (checkpoint: {b})"));
        }
    };
    check("--data", given.data.to_string(), saved.data.to_string());
    check(
        "--model",
        value_name(&given.model),
        value_name(&saved.model),
    );
    check(
        "--optimizer",
        given.optimizer.name().to_owned(),
        saved.optimizer.name().to_owned(),
    );
    check("--lr", format!("{:?}", given.lr), format!("{:?}", saved.lr));
    check(
        "--weight-decay",
        format!("{:?}", given.weight_decay),
        format!("{:?}", saved.weight_decay),
    );
    check(
        "--no-bias-correction",
        (!given.bias_correction).to_string(),
        (!saved.bias_correction).to_string(),
    );
    check(
        "--schedule",
        given.schedule.name().to_owned(),
        saved.schedule.name().to_owned(),
    );
    check(
        "--clip-grad-norm",
        clip_text(given.clip_grad_norm),
        clip_text(saved.clip_grad_norm),
    );
    check(
        "--lookahead",
        lookahead_text(given.lookahead),
        lookahead_text(saved.lookahead),
    );
    check(
        "--batch-size",
        given.batch_size.to_string(),
        saved.batch_size.to_string(),
    );
    check("--seed", given.seed.to_string(), saved.seed.to_string());
    (!diffs.is_empty()).then(|| diffs.join(", "))
}
