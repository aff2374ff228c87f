//! A checkpoint read back, and restoring it.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use tapegrad_nn::{ChaCha12Rng, GeneratorState, Module, NnError, load_safetensors};
use tapegrad_optim::{LrScheduler, Optimizer, PlateauState, Scheduler, SchedulerState};
use tapegrad_tape::Float;

use crate::checkpoint::{Checkpoint, META_FILE, MODEL_FILE, OPTIMIZER_FILE};
use crate::error::{CheckpointError, Result};
use crate::manifest::Manifest;
use crate::text;

/// `checkpoint.txt` is a few kilobytes; a larger file is not one.
pub const MAX_META_BYTES: u64 = 1 << 20;

/// A checkpoint directory whose `checkpoint.txt` has been read and checked
/// (its format line and its CRC-32); the other files are checked against
/// their recorded sizes and checksums when they are used.
#[derive(Debug, Clone)]
pub struct SavedCheckpoint {
    dir: PathBuf,
    saved: Checkpoint,
    model_generators: Vec<(String, GeneratorState)>,
    manifest: Manifest,
}

impl SavedCheckpoint {
    /// Reads the checkpoint in `dir`. A missing or damaged `checkpoint.txt`,
    /// one of another format, or one larger than [`MAX_META_BYTES`] is an
    /// error naming the file.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let meta = dir.join(META_FILE);
        let text = read_meta(&meta)?;
        let contents = text::read(&text, &[MODEL_FILE, OPTIMIZER_FILE])
            .map_err(|reason| CheckpointError::corrupt(&meta, reason))?;
        Ok(Self {
            dir,
            saved: contents.checkpoint,
            model_generators: contents.model_generators,
            manifest: contents.manifest,
        })
    }

    /// The checkpoint's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The step count saved.
    pub fn step(&self) -> usize {
        self.saved.step
    }

    /// The epoch saved.
    pub fn epoch(&self) -> usize {
        self.saved.epoch
    }

    /// The value saved under `key`, if any.
    pub fn meta(&self, key: &str) -> Option<&str> {
        let found = self.saved.meta.iter().find(|(k, _)| k == key);
        found.map(|(_, v)| v.as_str())
    }

    /// Every metadata key and value, in the order saved.
    pub fn metas(&self) -> &[(String, String)] {
        &self.saved.meta
    }

    /// The step scheduler's state, if one was saved.
    pub fn scheduler_state(&self) -> Option<&SchedulerState> {
        self.saved.scheduler.as_ref()
    }

    /// ReduceLROnPlateau's counters, if they were saved.
    pub fn plateau(&self) -> Option<&PlateauState> {
        self.saved.plateau.as_ref()
    }

    /// The generator saved under `name`, in its saved state.
    pub fn generator(&self, name: &str) -> Result<ChaCha12Rng> {
        let found = self.saved.generators.iter().find(|(n, _)| n == name);
        found
            .map(|(_, state)| state.to_rng())
            .ok_or_else(|| self.not_saved(format!("generator {name:?}")))
    }

    /// The names of the extra files, in the order saved.
    pub fn files(&self) -> Vec<&str> {
        let entries = self.manifest.entries().iter().map(|e| e.name.as_str());
        entries
            .filter(|n| ![MODEL_FILE, OPTIMIZER_FILE].contains(n))
            .collect()
    }

    /// The bytes of the extra file `name`, after checking its size and CRC-32.
    pub fn read_file(&self, name: &str) -> Result<Vec<u8>> {
        let entry = self.manifest.entries().iter().find(|e| e.name == name);
        let entry = entry.ok_or_else(|| self.not_saved(format!("file {name:?}")))?;
        entry.verify(&self.dir)?;
        let path = self.dir.join(name);
        fs::read(&path).map_err(CheckpointError::io(path))
    }

    /// Puts the weights and the generators' states into `model` and the state
    /// into `optimizer`. Every file's size and checksum, and the model's
    /// generator names, are checked first; a refused checkpoint leaves the
    /// model and the optimizer as they were.
    pub fn restore<T, M, O>(&self, model: &M, optimizer: &mut O) -> Result<()>
    where
        T: Float,
        M: Module<T> + ?Sized,
        O: Optimizer<T> + ?Sized,
    {
        self.manifest.verify(&self.dir)?;
        self.check_generator_names(model)?;
        let params = model.parameters();
        let before: Vec<_> = params.iter().map(|p| p.value()).collect();
        load_safetensors(model, self.dir.join(MODEL_FILE))?;
        if let Err(e) = optimizer.load(&self.dir.join(OPTIMIZER_FILE)) {
            for (p, value) in params.iter().zip(before) {
                p.set_value(value).map_err(NnError::from)?;
            }
            return Err(e.into());
        }
        model.set_generator_states(&self.model_generators)?;
        Ok(())
    }

    /// The saved scheduler over `schedule`, continued where it stopped; sets
    /// the lr (and a cycled momentum) of `optimizer`'s groups. A checkpoint
    /// without a scheduler, or with another schedule's, is an error.
    pub fn restore_scheduler<S, T, O>(&self, schedule: S, optimizer: &mut O) -> Result<Scheduler<S>>
    where
        S: LrScheduler,
        T: Float,
        O: Optimizer<T> + ?Sized,
    {
        let state = self
            .scheduler_state()
            .ok_or_else(|| self.not_saved("scheduler state".into()))?;
        Ok(Scheduler::restore(schedule, state, optimizer)?)
    }

    /// The model's generators must be the saved ones, name for name.
    fn check_generator_names<T: Float, M: Module<T> + ?Sized>(&self, model: &M) -> Result<()> {
        let names = |list: &[(String, GeneratorState)]| -> Vec<String> {
            list.iter().map(|(n, _)| n.clone()).collect()
        };
        let own = names(&model.generator_states());
        let saved = names(&self.model_generators);
        if own == saved {
            return Ok(());
        }
        Err(NnError::GeneratorMismatch {
            missing: own.iter().filter(|n| !saved.contains(n)).cloned().collect(),
            unexpected: saved.iter().filter(|n| !own.contains(n)).cloned().collect(),
        }
        .into())
    }

    fn not_saved(&self, what: String) -> CheckpointError {
        CheckpointError::NotSaved {
            path: self.dir.clone(),
            what,
        }
    }
}

/// The text of `checkpoint.txt`, refused when larger than any checkpoint's.
fn read_meta(path: &Path) -> Result<String> {
    let file = fs::File::open(path).map_err(CheckpointError::io(path))?;
    let mut bytes = Vec::new();
    file.take(MAX_META_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(CheckpointError::io(path))?;
    if bytes.len() as u64 > MAX_META_BYTES {
        return Err(CheckpointError::corrupt(
            path,
            format!("larger than {MAX_META_BYTES} bytes"),
        ));
    }
    String::from_utf8(bytes).map_err(|_| CheckpointError::corrupt(path, "not UTF-8 text"))
}
