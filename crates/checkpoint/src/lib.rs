//! # tapegrad-checkpoint
//!
//! One checkpoint of a training run: the model's weights and the states of
//! its random generators (dropout's masks), the optimizer's state, the
//! scheduler's state, the step and the epoch, the program's own generators,
//! metadata and extra files, written atomically into one directory and
//! restored in one call, so that a resumed run computes bit for bit what the
//! uninterrupted one does (PyTorch's `torch.save({"model": …, "optimizer": …,
//! "scheduler": …, "epoch": …, "rng": …})`, with checksums).
//!
//! - [`Checkpoint`]: what to save, and [`Checkpoint::save`];
//! - [`SavedCheckpoint`]: [`SavedCheckpoint::open`], [`SavedCheckpoint::restore`],
//!   [`SavedCheckpoint::restore_scheduler`] and the saved items;
//! - [`durable`]: the file writes behind it (temporary name, sync, rename).
//!
//! Generators are [`tapegrad_nn::ChaCha12Rng`], the generator behind rand's
//! `StdRng` (the same stream for the same seed), whose state can be read
//! whole.

mod checkpoint;
pub mod durable;
mod error;
mod manifest;
mod names;
mod saved;
mod text;

pub use checkpoint::{Checkpoint, META_FILE, MODEL_FILE, OPTIMIZER_FILE};
pub use error::{CheckpointError, Result, quote};
pub use saved::{MAX_META_BYTES, SavedCheckpoint};
pub use text::FORMAT;
