//! The training program behind `cargo run --release --example train`: data,
//! models, the loop, evaluation, checkpoints, the CSV log and the PNG plot.
//! The example is a thin command line over [`main_with_args`]; tests call
//! [`train`] and [`parse_args`] directly.
//!
//! ```no_run
//! use tapegrad_train::{ModelKind, RunSpec, TrainConfig, train};
//! let config = TrainConfig {
//!     spec: RunSpec { model: ModelKind::Mlp, ..RunSpec::default() },
//!     epochs: 5,
//!     out: "runs/mlp".into(),
//!     quiet: true,
//!     ..TrainConfig::default()
//! };
//! let outcome = train(&config).unwrap();
//! println!("{:.2}%", 100.0 * outcome.history.last().unwrap().test_accuracy);
//! ```

mod allocator;
mod checkpoint;
mod cli;
mod config;
mod data;
mod error;
mod eval;
mod fsutil;
mod metrics;
mod model;
mod optimizer;
mod plot;
mod report;
mod run;
mod schedule;

pub use allocator::keep_freed_pages;
pub use checkpoint::{Checkpoint, checkpoint_dir, epoch_seed, find_checkpoint, save_checkpoint};
pub use cli::{Args, Command, main_with_args, parse_args};
pub use config::{
    DataSource, ModelKind, OptimizerKind, RunSpec, ScheduleKind, TrainConfig, default_lr,
};
pub use data::{Splits, TEST_FRACTION, load_splits};
pub use error::{Result, TrainError};
pub use eval::{EVAL_BATCH, count_correct, evaluate};
pub use metrics::{CSV_HEADER, EpochMetrics, parse_csv, read_csv, to_csv, write_csv};
pub use model::{
    LARGE_IMAGE, LSTM_HIDDEN, MLP_HIDDEN, RowLstm, Vit, VitConfig, VitPool, build_model, cnn, mlp,
};
pub use optimizer::build_optimizer;
pub use plot::plot_metrics;
pub use run::{Outcome, train};
pub use schedule::{RunSchedule, ScheduleRecord};
