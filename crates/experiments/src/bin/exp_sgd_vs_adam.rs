//! Experiment 3: SGD with momentum against Adam, each with the best learning
//! rate of a small grid (by validation accuracy), on the CNN: training loss and
//! test accuracy over epochs, and the generalization gap (Wilson et al., 2017).
//!
//! Run: `cargo run --release --bin exp_sgd_vs_adam -- [--quick] [--out DIR] [--seeds N] [--threads N]`

use std::process::ExitCode;

use clap::Parser;
use tapegrad_experiments::{
    CommonArgs, GapConfig, GapReport, experiment_main, run_sgd_vs_adam, write_sgd_vs_adam,
};

/// Graphs of many small tensors are many small allocations; mimalloc serves
/// them faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    about = "SGD with momentum against Adam on the CNN: training loss, test accuracy, generalization gap"
)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let run = |seeds, quick| {
        let cfg = if quick {
            GapConfig::quick(seeds)
        } else {
            GapConfig::full(seeds)
        };
        run_sgd_vs_adam(&cfg)
    };
    experiment_main(
        &args.common,
        "exp_sgd_vs_adam",
        run,
        write_sgd_vs_adam,
        GapReport::markdown,
    )
}
