//! Checkpoints: everything needed to continue a run exactly where it stopped.
//!
//! After epoch N the run writes the directory `checkpoint-epoch-N` in its output
//! directory, holding
//!
//! - `model.safetensors`: the weights (tapegrad-nn's safetensors file);
//! - `optimizer.state`: the optimizer's state (tapegrad-optim's state file:
//!   step counts and moment buffers, bit for bit);
//! - `metrics.csv`: the metrics of epochs 1..=N, for the log and the plot;
//! - `checkpoint.txt`: the epoch N, the run's [`RunSpec`], the size and CRC-32
//!   of each of the three files above, and last the CRC-32 of its own text.
//!
//! The random state needs no file: the generator of epoch e is seeded with
//! [`epoch_seed`]`(seed, e)`, so (seed, N) is the whole state. The directory is
//! filled under a temporary name, every file and the directory synced, renamed
//! into place and the output directory synced, so a crash or a power loss
//! leaves the previous checkpoint or the new one; the previous one is then
//! deleted. Resuming checks every checksum before it changes anything, so a
//! damaged file is refused rather than trained on.

use std::fs;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use tapegrad_nn::{Module, Sequential, load_safetensors, save_safetensors};
use tapegrad_optim::{Optimizer, PlateauState};

use super::config::{DataSource, ModelKind, OptimizerKind, RunSpec, ScheduleKind};
use super::error::{Result, TrainError, quote};
use super::fsutil::{sync_dir, temp_path, write_synced};
use super::manifest::{Manifest, text_crc};
use super::metrics::{EpochMetrics, read_csv, write_csv};
use super::schedule::ScheduleRecord;

/// The first line of `checkpoint.txt`.
const FORMAT: &str = "tapegrad-train-checkpoint 2";
/// The first line of the checkpoints of earlier versions, which had no checksums.
const FORMAT_1: &str = "tapegrad-train-checkpoint 1";
/// The files of a checkpoint besides `checkpoint.txt`, in the manifest's order.
const FILES: [&str; 3] = ["model.safetensors", "optimizer.state", "metrics.csv"];
/// The key of the last line of `checkpoint.txt`: the CRC-32 of the text before it.
const CRC_KEY: &str = "crc32";
/// `checkpoint.txt` is a few hundred bytes; a larger file is not one.
const MAX_META_BYTES: u64 = 1 << 16;
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
    /// Its schedule's length and counters.
    pub schedule: ScheduleRecord,
    /// The files' recorded sizes and checksums.
    manifest: Manifest,
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
    schedule: &ScheduleRecord,
    history: &[EpochMetrics],
) -> Result<PathBuf> {
    let dir = checkpoint_dir(out, epoch);
    let tmp = temp_path(&dir);
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(TrainError::io(&tmp))?;
    }
    fs::create_dir_all(&tmp).map_err(TrainError::io(&tmp))?;
    save_safetensors(model, tmp.join(FILES[0]))?;
    optimizer.save(&tmp.join(FILES[1]))?;
    write_csv(&tmp.join(FILES[2]), history)?;
    let manifest = Manifest::of(&tmp, &FILES)?;
    let body = format!(
        "{}{}{}",
        describe(epoch, spec),
        describe_schedule(schedule),
        manifest.lines()
    );
    let text = format!("{body}{CRC_KEY} = {:08x}\n", text_crc(&body));
    write_synced(&tmp.join("checkpoint.txt"), text.as_bytes())?;
    sync_dir(&tmp)?;
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(TrainError::io(&dir))?;
    }
    fs::rename(&tmp, &dir).map_err(TrainError::io(&dir))?;
    sync_dir(out)?;
    remove_others(out, &dir)?;
    sync_dir(out)?;
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
    let text = read_meta(&meta)?;
    let (epoch, spec, schedule, manifest) = parse(&text).map_err(|reason| bad(&meta, &reason))?;
    Ok(Checkpoint {
        dir,
        epoch,
        spec,
        schedule,
        manifest,
    })
}

/// The text of `checkpoint.txt`, refused when larger than any checkpoint's.
fn read_meta(path: &Path) -> Result<String> {
    use std::io::Read;
    let file = fs::File::open(path).map_err(TrainError::io(path))?;
    let mut bytes = Vec::new();
    file.take(MAX_META_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(TrainError::io(path))?;
    if bytes.len() as u64 > MAX_META_BYTES {
        return Err(bad(path, &format!("larger than {MAX_META_BYTES} bytes")));
    }
    String::from_utf8(bytes).map_err(|_| bad(path, "not UTF-8 text"))
}

impl Checkpoint {
    /// Loads the weights into `model`, the state into `optimizer`, and returns
    /// the metrics of epochs 1..=epoch. Every file's size and checksum is
    /// checked first, and a refused checkpoint leaves the model and the
    /// optimizer as they were.
    pub fn restore(
        &self,
        model: &Sequential,
        optimizer: &mut dyn Optimizer<f32>,
    ) -> Result<Vec<EpochMetrics>> {
        self.manifest.verify(&self.dir)?;
        let history = read_csv(&self.dir.join(FILES[2]))?;
        let epochs: Vec<usize> = history.iter().map(|m| m.epoch).collect();
        let consecutive = epochs.iter().enumerate().all(|(i, &e)| e == i + 1);
        if epochs.len() != self.epoch || !consecutive {
            return Err(bad(
                &self.dir.join("metrics.csv"),
                &format!("holds epochs {epochs:?}, expected 1..={}", self.epoch),
            ));
        }
        let params = model.parameters();
        let before: Vec<_> = params.iter().map(|p| p.value()).collect();
        load_safetensors(model, self.dir.join(FILES[0]))?;
        if let Err(e) = optimizer.load(&self.dir.join(FILES[1])) {
            for (p, value) in params.iter().zip(before) {
                p.set_value(value)?;
            }
            return Err(e.into());
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
         weight_decay = {:?}\nbias_correction = {}\nschedule = {}\nbatch_size = {}\nseed = {}\n",
        value_name(&s.model),
        s.optimizer.name(),
        s.lr,
        s.weight_decay,
        s.bias_correction,
        s.schedule.name(),
        s.batch_size,
        s.seed,
    )
}

/// The schedule's lines: its length, and ReduceLROnPlateau's counters.
fn describe_schedule(r: &ScheduleRecord) -> String {
    let mut text = format!("schedule_steps = {}\n", r.total_steps);
    if let Some(p) = &r.plateau {
        text += &format!(
            "plateau = {:?} {} {} {}\n",
            p.best, p.num_bad_epochs, p.cooldown_counter, p.steps
        );
    }
    text
}

/// Reads the `plateau` line of [`describe_schedule`].
fn parse_plateau(line: &str) -> std::result::Result<PlateauState, String> {
    let bad = || format!("bad plateau line {}", quote(line));
    let parts: Vec<&str> = line.split(' ').collect();
    let [best, bad_epochs, cooldown, steps] = parts[..] else {
        return Err(bad());
    };
    let int = |s: &str| s.parse::<usize>().map_err(|_| bad());
    Ok(PlateauState {
        best: best.parse().map_err(|_| bad())?,
        num_bad_epochs: int(bad_epochs)?,
        cooldown_counter: int(cooldown)?,
        steps: int(steps)?,
    })
}

/// The body of `checkpoint.txt` once its last line, the CRC-32 of the text
/// before it, is checked.
fn checked_body(text: &str) -> std::result::Result<&str, String> {
    let trimmed = text.strip_suffix('\n').unwrap_or(text);
    let (body, last) = match trimmed.rfind('\n') {
        Some(i) => (&text[..=i], &trimmed[i + 1..]),
        None => ("", trimmed),
    };
    let recorded = last
        .strip_prefix(CRC_KEY)
        .and_then(|l| l.strip_prefix(" = "))
        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
        .ok_or_else(|| format!("the last line is not `{CRC_KEY} = <hex>`"))?;
    if recorded != text_crc(body) {
        return Err(format!(
            "its CRC-32 is {:08x}, its last line records {recorded:08x}: the file changed after it was written",
            text_crc(body)
        ));
    }
    Ok(body)
}

/// Reads the text of [`describe`], the manifest and the checksum line.
fn parse(text: &str) -> std::result::Result<(usize, RunSpec, ScheduleRecord, Manifest), String> {
    match text.lines().next() {
        Some(FORMAT) => {}
        Some(FORMAT_1) => {
            return Err(format!(
                "format 1 (written by an earlier version) has no checksums and is not resumed; \
                 this version writes `{FORMAT}`"
            ));
        }
        _ => return Err(format!("the first line is not `{FORMAT}`")),
    }
    let body = checked_body(text)?;
    let fields: Vec<(&str, &str)> = body
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split_once(" = ")
                .ok_or_else(|| format!("bad line {}", quote(l)))
        })
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
        optimizer: get("optimizer")?
            .parse::<OptimizerKind>()
            .map_err(|e| e.to_string())?,
        lr: num("lr")?,
        weight_decay: num("weight_decay")?,
        bias_correction: get("bias_correction")?
            .parse()
            .map_err(|_| "bad bias_correction")?,
        // Written since schedules are selectable; an older checkpoint ran at a constant lr.
        schedule: match get("schedule") {
            Ok(name) => name.parse::<ScheduleKind>().map_err(|e| e.to_string())?,
            Err(_) => ScheduleKind::Constant,
        },
        batch_size: int("batch_size")? as usize,
        seed: int("seed")?,
    };
    let manifest = Manifest::parse(&fields, &FILES)?;
    let schedule = ScheduleRecord {
        total_steps: get("schedule_steps").map_or(Ok(0), |_| int("schedule_steps"))? as usize,
        plateau: get("plateau").ok().map(parse_plateau).transpose()?,
    };
    Ok((int("epoch")? as usize, spec, schedule, manifest))
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
        "--batch-size",
        given.batch_size.to_string(),
        saved.batch_size.to_string(),
    );
    check("--seed", given.seed.to_string(), saved.seed.to_string());
    (!diffs.is_empty()).then(|| diffs.join(", "))
}
