//! Checkpoints: everything needed to continue a run exactly where it stopped.
//!
//! After epoch N the run writes the directory `checkpoint-epoch-N` in its output
//! directory, holding
//!
//! - `model.safetensors`: the weights (tapegrad-nn's safetensors file);
//! - `optimizer.state`: the optimizer's state (tapegrad-optim's state file:
//!   step counts and moment buffers, bit for bit);
//! - `metrics.csv`: the metrics of epochs 1..=N, for the log and the plot;
//! - `checkpoint.txt`: the epoch N and the run's [`RunSpec`].
//!
//! The random state needs no file: the generator of epoch e is seeded with
//! [`epoch_seed`]`(seed, e)`, so (seed, N) is the whole state. The directory is
//! filled under a temporary name and renamed into place, so a crash leaves the
//! previous checkpoint or the new one; the previous one is then deleted.

use std::fs;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use tapegrad_nn::{Sequential, load_safetensors, save_safetensors};
use tapegrad_optim::Optimizer;

use super::config::{DataSource, ModelKind, OptimizerKind, RunSpec};
use super::error::{Result, TrainError};
use super::fsutil::temp_path;
use super::metrics::{EpochMetrics, read_csv, write_csv};

/// The first line of `checkpoint.txt`.
const FORMAT: &str = "tapegrad-train-checkpoint 1";
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
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// The checkpoint directory.
    pub dir: PathBuf,
    /// The last finished epoch.
    pub epoch: usize,
    /// The run it belongs to.
    pub spec: RunSpec,
}

/// The directory of the checkpoint after `epoch` inside `out`.
pub fn checkpoint_dir(out: &Path, epoch: usize) -> PathBuf {
    out.join(format!("{PREFIX}{epoch}"))
}

/// Writes the checkpoint after `epoch` into `out` atomically and removes older
/// ones; returns its directory.
pub fn save_checkpoint(
    out: &Path,
    epoch: usize,
    spec: &RunSpec,
    model: &Sequential,
    optimizer: &dyn Optimizer<f32>,
    history: &[EpochMetrics],
) -> Result<PathBuf> {
    let dir = checkpoint_dir(out, epoch);
    let tmp = temp_path(&dir);
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(TrainError::io(&tmp))?;
    }
    fs::create_dir_all(&tmp).map_err(TrainError::io(&tmp))?;
    save_safetensors(model, tmp.join("model.safetensors"))?;
    optimizer.save(&tmp.join("optimizer.state"))?;
    write_csv(&tmp.join("metrics.csv"), history)?;
    let meta = tmp.join("checkpoint.txt");
    fs::write(&meta, describe(epoch, spec)).map_err(TrainError::io(&meta))?;
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(TrainError::io(&dir))?;
    }
    fs::rename(&tmp, &dir).map_err(TrainError::io(&dir))?;
    remove_others(out, &dir)?;
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
    let meta = dir.join("checkpoint.txt");
    let text = fs::read_to_string(&meta).map_err(TrainError::io(&meta))?;
    let (epoch, spec) = parse(&text).map_err(|reason| bad(&meta, &reason))?;
    Ok(Checkpoint { dir, epoch, spec })
}

impl Checkpoint {
    /// Loads the weights into `model`, the state into `optimizer`, and returns
    /// the metrics of epochs 1..=epoch.
    pub fn restore(
        &self,
        model: &Sequential,
        optimizer: &mut dyn Optimizer<f32>,
    ) -> Result<Vec<EpochMetrics>> {
        load_safetensors(model, self.dir.join("model.safetensors"))?;
        optimizer.load(&self.dir.join("optimizer.state"))?;
        let history = read_csv(&self.dir.join("metrics.csv"))?;
        let epochs: Vec<usize> = history.iter().map(|m| m.epoch).collect();
        if epochs != (1..=self.epoch).collect::<Vec<_>>() {
            return Err(bad(
                &self.dir.join("metrics.csv"),
                &format!("holds epochs {epochs:?}, expected 1..={}", self.epoch),
            ));
        }
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

/// The text of `checkpoint.txt`. Floats use the shortest round-trip form.
fn describe(epoch: usize, s: &RunSpec) -> String {
    let data = match &s.data {
        DataSource::Digits => "embedded:digits".to_owned(),
        DataSource::Path(p) => format!("path:{}", p.display()),
    };
    format!(
        "{FORMAT}\nepoch = {epoch}\ndata = {data}\nmodel = {}\noptimizer = {}\nlr = {:?}\n\
         weight_decay = {:?}\nbias_correction = {}\nbatch_size = {}\nseed = {}\n",
        value_name(&s.model),
        value_name(&s.optimizer),
        s.lr,
        s.weight_decay,
        s.bias_correction,
        s.batch_size,
        s.seed,
    )
}

/// Reads the text of [`describe`].
fn parse(text: &str) -> std::result::Result<(usize, RunSpec), String> {
    let mut lines = text.lines();
    if lines.next() != Some(FORMAT) {
        return Err(format!("the first line is not `{FORMAT}`"));
    }
    let fields: Vec<(&str, &str)> = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_once(" = ").ok_or_else(|| format!("bad line {l:?}")))
        .collect::<std::result::Result<_, _>>()?;
    let get = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("no `{key}` line"))
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
    let spec = RunSpec {
        data,
        model: ModelKind::from_str(get("model")?, false)?,
        optimizer: OptimizerKind::from_str(get("optimizer")?, false)?,
        lr: num("lr")?,
        weight_decay: num("weight_decay")?,
        bias_correction: get("bias_correction")?
            .parse()
            .map_err(|_| "bad bias_correction")?,
        batch_size: int("batch_size")? as usize,
        seed: int("seed")?,
    };
    Ok((int("epoch")? as usize, spec))
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
        value_name(&given.optimizer),
        value_name(&saved.optimizer),
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
        "--batch-size",
        given.batch_size.to_string(),
        saved.batch_size.to_string(),
    );
    check("--seed", given.seed.to_string(), saved.seed.to_string());
    (!diffs.is_empty()).then(|| diffs.join(", "))
}
