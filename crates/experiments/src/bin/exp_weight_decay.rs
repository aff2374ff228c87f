//! Experiment 2: Adam with the regularization term θ/C in its gradient against
//! AdamW's decoupled weight decay, over a grid of learning rates and decay
//! strengths; heat maps of the final test error (Loshchilov and Hutter, 2019).
//!
//! Run: `cargo run --release --bin exp_weight_decay -- [--quick] [--out DIR] [--seeds N] [--threads N]`

use std::process::ExitCode;

use clap::Parser;
use tapegrad_experiments::{
    CommonArgs, DecayConfig, DecayReport, experiment_main, run_decay_grid, write_decay_grid,
};

/// Graphs of many small tensors are many small allocations; mimalloc serves
/// them faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    about = "Coupled (Adam + θ/C) against decoupled (AdamW) weight decay over an lr × decay grid"
)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let run = |seeds, quick| {
        let cfg = if quick {
            DecayConfig::quick(seeds)
        } else {
            DecayConfig::full(seeds)
        };
        run_decay_grid(&cfg)
    };
    experiment_main(
        &args.common,
        "exp_weight_decay",
        run,
        write_decay_grid,
        DecayReport::markdown,
    )
}
