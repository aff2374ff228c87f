//! Experiment 1: Adam with and without its bias correction at the same learning
//! rate, on MNIST with the MLP, without and with a linear learning-rate warm-up.
//!
//! Run: `cargo run --release --bin exp_bias_correction -- [--quick] [--out DIR] [--seeds N] [--threads N]`

use std::process::ExitCode;

use clap::Parser;
use tapegrad_experiments::{
    BiasConfig, BiasReport, CommonArgs, experiment_main, run_bias_correction, write_bias_correction,
};

/// Graphs of many small tensors are many small allocations; mimalloc serves
/// them faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "Adam with and without bias correction, without and with warm-up")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let run = |seeds, quick| {
        let cfg = if quick {
            BiasConfig::quick(seeds)
        } else {
            BiasConfig::full(seeds)
        };
        run_bias_correction(&cfg)
    };
    experiment_main(
        &args.common,
        "exp_bias_correction",
        run,
        write_bias_correction,
        BiasReport::markdown,
    )
}
