//! The main job: trains a classifier and writes its metrics, plot and checkpoints.
//!
//! Run: `cargo run --release --example train` (a small CNN on the embedded 8×8
//! digits), or `cargo run --release --example train -- --help` for the flags.
//! The program is the crate `tapegrad-train` (`crates/train`); this example is
//! its entry point from the repository root.

use std::process::ExitCode;

/// Each step builds and frees a graph of many small tensors; mimalloc serves
/// these allocations faster than the system allocator, and keeps its freed
/// pages mapped for the next step (`keep_freed_pages`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    tapegrad_train::keep_freed_pages();
    tapegrad_train::main_with_args(std::env::args_os())
}
