//! Runnable experiments that check the lecture's claims about Adam, its bias
//! correction, weight decay and final convergence (the programs `exp_*` in
//! `src/bin/`, `cargo run --release --bin exp_<name>` from the repository root), and the
//! scaffolding they share: runs over seeds and grids in parallel, mean ± std,
//! CSV tables and plots.
//!
//! Every run builds its model, optimizer and random generator from its own
//! seed, so results do not depend on the thread count. Each experiment has a
//! `full` and a `quick` configuration; `tests/experiments_quick.rs` runs the
//! quick ones.

mod bias;
mod binary;
mod cli;
mod convergence;
mod convergence_out;
mod csv;
mod decay;
mod error;
mod logreg;

mod nets;
mod runner;
mod sgd_adam;

pub use bias::{BiasConfig, BiasReport, BiasVariant, run_bias_correction, write_bias_correction};
pub use binary::{BinarySource, shared_data};
pub use cli::{CommonArgs, experiment_main};
pub use convergence::{
    ConvergenceConfig, ConvergenceReport, Curve, MethodRuns, MethodSummary, run_convergence,
};
pub use convergence_out::{GAP_FLOOR, write_convergence};
pub use csv::{Csv, num};
pub use decay::{DecayConfig, DecayGrid, DecayReport, run_decay_grid, write_decay_grid};
pub use error::{ExperimentError, Result};
pub use logreg::{BinarySet, LogisticProblem, Optimum, mean_loss, newton_cg};
pub use nets::{ImageSource, NetRun, NetSpec, train_net, train_net_validated};
pub use runner::{run_all, run_grid, seeds};
pub use sgd_adam::{GapConfig, GapMethod, GapReport, run_sgd_vs_adam, write_sgd_vs_adam};
pub use tapegrad_optim::{MOMENTUM, OptimizerKind, OptimizerSettings};
pub use tapegrad_plot::{
    Corner, HeatMap, Line, MeanStd, PALETTE, Panel, heat_maps, line_panels, sci,
};
