//! What a checkpoint saves beside the weights and the optimizer's state, and
//! writing it.

use std::fs;
use std::path::Path;

use tapegrad_nn::{ChaCha12Rng, GeneratorState, Module, save_safetensors};
use tapegrad_optim::{
    LrScheduler, Optimizer, PlateauState, ReduceLrOnPlateau, Scheduler, SchedulerState,
};
use tapegrad_tape::Float;

use crate::durable::{beside, parent, sync_dir, temp_path, write_synced};
use crate::error::{CheckpointError, Result};
use crate::manifest::Manifest;
use crate::names::{self, RESERVED};
use crate::text::{self, Contents};

/// The weights file inside a checkpoint directory.
pub const MODEL_FILE: &str = "model.safetensors";
/// The optimizer's state file inside a checkpoint directory.
pub const OPTIMIZER_FILE: &str = "optimizer.state";
/// The text that lists everything else, and the files' sizes and checksums.
pub const META_FILE: &str = "checkpoint.txt";

/// Everything a training run needs to continue exactly where it stopped,
/// besides the model and the optimizer themselves: the step and the epoch, the
/// scheduler's state, the states of the program's random generators,
/// key–value metadata and extra files. [`Checkpoint::save`] writes it with the
/// model's weights (and the states of its generators: dropout's masks) and the
/// optimizer's state into one directory, atomically;
/// [`crate::SavedCheckpoint::open`] reads it back and
/// [`crate::SavedCheckpoint::restore`] puts it all back in one call.
///
/// The directory holds `model.safetensors` (PyTorch reads it), `optimizer.state`,
/// the extra files, and `checkpoint.txt`: every item on its own line, each
/// file's size and CRC-32, and last the CRC-32 of the text itself, so that a
/// damaged or edited checkpoint is refused before anything changes.
///
/// ```
/// use rand::{Rng, SeedableRng};
/// use tapegrad_checkpoint::{Checkpoint, SavedCheckpoint};
/// use tapegrad_nn::{ChaCha12Rng, Dropout, Linear, Module, Sequential};
/// use tapegrad_optim::{CosineAnnealingLr, Optimizer, Scheduler, Sgd, SgdConfig};
/// use tapegrad_tape::Tensor;
///
/// let net = |seed| {
///     let mut rng = ChaCha12Rng::seed_from_u64(seed);
///     Sequential::<f64>::new().push(Linear::new(3, 2, &mut rng)).push(Dropout::new(0.5, seed).unwrap())
/// };
/// let sgd = |model: &Sequential<f64>| {
///     Sgd::new(model.parameters(), SgdConfig { lr: 0.1, momentum: 0.9, ..Default::default() }).unwrap()
/// };
/// let (model, mut shuffle) = (net(0), ChaCha12Rng::seed_from_u64(9));
/// let mut opt = sgd(&model);
/// let mut sched = Scheduler::new(CosineAnnealingLr::new(10, 0.0).unwrap(), &mut opt).unwrap();
/// for p in model.parameters() { p.set_grad(Some(Tensor::ones(p.shape()))); }
/// opt.step().unwrap();
/// sched.step(&mut opt).unwrap();
/// let _: u64 = shuffle.random();
///
/// let dir = std::env::temp_dir().join(format!("tapegrad-doc-ck-{}", std::process::id()));
/// Checkpoint::new(1, 0)
///     .scheduler(&sched)
///     .generator("shuffle", &shuffle)
///     .meta("note", "first step")
///     .save(&dir, &model, &opt)
///     .unwrap();
///
/// let (fresh, saved) = (net(5), SavedCheckpoint::open(&dir).unwrap());
/// let mut fresh_opt = sgd(&fresh);
/// saved.restore(&fresh, &mut fresh_opt).unwrap();
/// let fresh_sched = saved.restore_scheduler(CosineAnnealingLr::new(10, 0.0).unwrap(), &mut fresh_opt).unwrap();
/// assert_eq!(fresh.parameters()[0].value(), model.parameters()[0].value());
/// assert_eq!((fresh_sched.steps_taken(), fresh_opt.lr()), (1, opt.lr()));
/// assert_eq!(saved.generator("shuffle").unwrap().random::<u64>(), shuffle.random::<u64>());
/// assert_eq!((saved.step(), saved.meta("note")), (1, Some("first step")));
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Checkpoint {
    pub(crate) step: usize,
    pub(crate) epoch: usize,
    pub(crate) scheduler: Option<SchedulerState>,
    pub(crate) plateau: Option<PlateauState>,
    pub(crate) generators: Vec<(String, GeneratorState)>,
    pub(crate) meta: Vec<(String, String)>,
    pub(crate) files: Vec<(String, Vec<u8>)>,
}

impl Checkpoint {
    /// A checkpoint after `step` optimizer steps, in epoch `epoch` (both the
    /// program's own counts, saved as given).
    pub fn new(step: usize, epoch: usize) -> Self {
        Self {
            step,
            epoch,
            ..Self::default()
        }
    }

    /// Saves the state of a step scheduler (its schedule's name, base lrs and
    /// steps taken), which [`crate::SavedCheckpoint::restore_scheduler`] gives back.
    pub fn scheduler<S: LrScheduler>(self, scheduler: &Scheduler<S>) -> Self {
        self.scheduler_state(scheduler.state())
    }

    /// Saves a step scheduler's state as [`Scheduler::state`] gave it.
    pub fn scheduler_state(mut self, state: SchedulerState) -> Self {
        self.scheduler = Some(state);
        self
    }

    /// Saves ReduceLROnPlateau's counters.
    pub fn plateau(self, plateau: &ReduceLrOnPlateau) -> Self {
        self.plateau_state(plateau.state.clone())
    }

    /// Saves ReduceLROnPlateau's counters as given.
    pub fn plateau_state(mut self, state: PlateauState) -> Self {
        self.plateau = Some(state);
        self
    }

    /// Saves the state of one of the program's generators under `name` (for
    /// example the one that shuffles the data); a later one of the same name
    /// replaces it.
    pub fn generator(mut self, name: &str, rng: &ChaCha12Rng) -> Self {
        self.generators.retain(|(n, _)| n != name);
        self.generators
            .push((name.to_owned(), GeneratorState::of(rng)));
        self
    }

    /// Saves `value` (one line) under `key` (a later one of the same key
    /// replaces it).
    pub fn meta(mut self, key: &str, value: impl Into<String>) -> Self {
        self.meta.retain(|(k, _)| k != key);
        self.meta.push((key.to_owned(), value.into()));
        self
    }

    /// Saves `bytes` as the file `name` of the checkpoint, checksummed like
    /// the others (a log, a configuration).
    pub fn file(mut self, name: &str, bytes: impl Into<Vec<u8>>) -> Self {
        self.files.retain(|(n, _)| n != name);
        self.files.push((name.to_owned(), bytes.into()));
        self
    }

    /// Writes the checkpoint with `model`'s weights and generators and
    /// `optimizer`'s state into the directory `dir`.
    ///
    /// Everything goes to a temporary directory beside `dir` (`.NAME.tmp-PID`),
    /// every file and that directory are synced, and it is renamed into place:
    /// a crash leaves the previous checkpoint or the new one (an existing `dir`
    /// is first renamed to `.NAME.old-PID` and removed after the rename, so a
    /// crash between the two renames leaves it there). A name the format
    /// cannot hold is [`CheckpointError::InvalidName`] before anything is
    /// written.
    pub fn save<T, M, O>(&self, dir: impl AsRef<Path>, model: &M, optimizer: &O) -> Result<()>
    where
        T: Float,
        M: Module<T> + ?Sized,
        O: Optimizer<T> + ?Sized,
    {
        self.check_names()?;
        let dir = dir.as_ref();
        let tmp = temp_path(dir);
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(CheckpointError::io(&tmp))?;
        }
        fs::create_dir_all(&tmp).map_err(CheckpointError::io(&tmp))?;
        let written = self.fill(&tmp, model, optimizer);
        if let Err(e) = written {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
        replace_dir(&tmp, dir)
    }

    /// Writes every file into the empty directory `tmp`.
    fn fill<T, M, O>(&self, tmp: &Path, model: &M, optimizer: &O) -> Result<()>
    where
        T: Float,
        M: Module<T> + ?Sized,
        O: Optimizer<T> + ?Sized,
    {
        save_safetensors(model, tmp.join(MODEL_FILE))?;
        optimizer.save(&tmp.join(OPTIMIZER_FILE))?;
        for (name, bytes) in &self.files {
            let path = tmp.join(name);
            write_synced(&path, bytes).map_err(CheckpointError::io(&path))?;
        }
        let mut listed = vec![MODEL_FILE, OPTIMIZER_FILE];
        listed.extend(self.files.iter().map(|(n, _)| n.as_str()));
        let contents = Contents {
            checkpoint: Checkpoint {
                files: Vec::new(),
                ..self.clone()
            },
            model_generators: model.generator_states(),
            manifest: Manifest::of(tmp, &listed)?,
        };
        let meta = tmp.join(META_FILE);
        write_synced(&meta, text::write(&contents).as_bytes())
            .map_err(CheckpointError::io(&meta))?;
        sync_dir(tmp).map_err(CheckpointError::io(tmp))
    }

    /// Every name is one the format holds, and every value one line.
    fn check_names(&self) -> Result<()> {
        for (key, value) in &self.meta {
            names::check("metadata key", key)?;
            if value.contains(['\n', '\r']) {
                return Err(CheckpointError::InvalidValue { key: key.clone() });
            }
        }
        for (name, _) in &self.generators {
            names::check("generator", name)?;
        }
        for (name, _) in &self.files {
            names::check_file(name)?;
        }
        if let Some(s) = &self.scheduler {
            names::check("scheduler", &s.schedule)?;
        }
        debug_assert!(RESERVED.contains(&META_FILE));
        Ok(())
    }
}

/// Renames the finished directory `tmp` to `dir`, moving an existing `dir`
/// aside first and removing it after.
fn replace_dir(tmp: &Path, dir: &Path) -> Result<()> {
    let old = beside(dir, "old");
    let had_old = dir.exists();
    if had_old {
        if old.exists() {
            fs::remove_dir_all(&old).map_err(CheckpointError::io(&old))?;
        }
        fs::rename(dir, &old).map_err(CheckpointError::io(dir))?;
    }
    fs::rename(tmp, dir).map_err(CheckpointError::io(dir))?;
    let outer = parent(dir);
    sync_dir(outer).map_err(CheckpointError::io(outer))?;
    if had_old {
        fs::remove_dir_all(&old).map_err(CheckpointError::io(&old))?;
        sync_dir(outer).map_err(CheckpointError::io(outer))?;
    }
    Ok(())
}
