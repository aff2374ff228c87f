//! Experiment 4: fast versus slow final convergence (Tsai et al., 2014). L2-
//! regularized logistic regression on a9a trained long by SGD, SGD with
//! momentum, AdaGrad and Adam; the relative objective gap (f − f*)/f* against
//! test accuracy, with f* from Newton-CG.
//!
//! Run: `cargo run --release --bin exp_convergence -- [--quick] [--out DIR] [--seeds N] [--threads N]`

use std::process::ExitCode;

use clap::Parser;
use tapegrad_experiments::{
    CommonArgs, ConvergenceConfig, ConvergenceReport, experiment_main, run_convergence,
    write_convergence,
};

/// Graphs of many small tensors are many small allocations; mimalloc serves
/// them faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    about = "Relative objective gap against test accuracy for L2-regularized logistic regression"
)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let run = |seeds, quick| {
        let cfg = if quick {
            ConvergenceConfig::quick(seeds)
        } else {
            ConvergenceConfig::full(seeds)
        };
        run_convergence(&cfg)
    };
    experiment_main(
        &args.common,
        "exp_convergence",
        run,
        write_convergence,
        ConvergenceReport::markdown,
    )
}
