//! The training program: `cargo run --release -p tapegrad-train -- --help`, or
//! from the repository root `cargo run --release --example train`.

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
