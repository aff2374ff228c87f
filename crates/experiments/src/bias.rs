//! Experiment 1: Adam with and without the bias correction, at the same
//! learning rate, without and with a linear learning-rate warm-up.

use std::fmt::Write as _;
use std::path::Path;

use tapegrad_optim::LinearLr;

use super::csv::{Csv, create_dir, num};
use super::error::Result;
use super::nets::{ImageSource, NetRun, NetSpec, train_net};
use super::runner::run_all;
use tapegrad_optim::{OptimizerKind, OptimizerSettings};
use tapegrad_plot::MeanStd;
use tapegrad_plot::{Line, Panel, line_panels};
use tapegrad_train::ModelKind;

/// The settings of [`run_bias_correction`].
#[derive(Debug, Clone)]
pub struct BiasConfig {
    /// The data (MNIST, or the digits without ../shared).
    pub source: ImageSource,
    /// The learning rates ε; each is used by both variants.
    pub lrs: Vec<f64>,
    /// Minibatch size.
    pub batch_size: usize,
    /// Optimizer steps per run.
    pub steps: usize,
    /// Warm-up length: the lr rises linearly from `lr/warmup` to lr over this many steps.
    pub warmup: usize,
    /// The seeds (initialization and minibatch order).
    pub seeds: Vec<u64>,
    /// The step ranges whose mean minibatch loss is reported, e.g. 1–100.
    pub windows: Vec<(usize, usize)>,
}

impl BiasConfig {
    /// MNIST (60000 / 10000), the MLP, 1800 steps of 64, warm-up over 1000 = 1/(1 − ρ₂).
    pub fn full(seeds: Vec<u64>) -> Self {
        Self {
            source: ImageSource::mnist_or_digits(60_000, 10_000),
            lrs: vec![1e-3, 1e-2],
            batch_size: 64,
            steps: 1800,
            warmup: 1000,
            seeds,
            windows: vec![(1, 10), (11, 100), (101, 300), (1701, 1800)],
        }
    }

    /// The digits, 150 steps of 32, warm-up over 50.
    pub fn quick(seeds: Vec<u64>) -> Self {
        Self {
            source: ImageSource::Digits,
            lrs: vec![1e-3],
            batch_size: 32,
            steps: 150,
            warmup: 50,
            seeds,
            windows: vec![(1, 10), (11, 50), (141, 150)],
        }
    }
}

/// One variant's runs.
#[derive(Debug, Clone, PartialEq)]
pub struct BiasVariant {
    /// ε.
    pub lr: f64,
    /// With the two correction steps.
    pub corrected: bool,
    /// With the linear warm-up.
    pub warmup: bool,
    /// One run per seed.
    pub runs: Vec<NetRun>,
}

impl BiasVariant {
    /// A short name, e.g. `"Adam, no correction, warm-up"`.
    pub fn label(&self) -> String {
        let c = if self.corrected {
            "Adam"
        } else {
            "Adam without correction"
        };
        if self.warmup {
            format!("{c} + warm-up")
        } else {
            c.to_string()
        }
    }

    /// Mean ± std over seeds of the mean minibatch loss over steps `first..=last` (from 1).
    pub fn window_loss(&self, (first, last): (usize, usize)) -> MeanStd {
        MeanStd::over(&self.runs, |r| {
            let part =
                &r.step_losses[(first - 1).min(r.step_losses.len())..last.min(r.step_losses.len())];
            part.iter().sum::<f64>() / part.len() as f64
        })
    }

    /// Mean ± std over seeds of entry `k` of the final evaluation
    /// (0 train loss, 1 train accuracy, 2 test loss, 3 test accuracy).
    pub fn final_stat(&self, k: usize) -> MeanStd {
        MeanStd::over(&self.runs, |r| r.last()[k])
    }
}

/// What [`run_bias_correction`] measured.
#[derive(Debug, Clone)]
pub struct BiasReport {
    /// The data's name.
    pub data: String,
    /// The settings.
    pub config: BiasConfig,
    /// Per lr: corrected, uncorrected, corrected + warm-up, uncorrected + warm-up.
    pub variants: Vec<BiasVariant>,
}

/// Trains the MLP with Adam, with and without bias correction, without and with warm-up.
pub fn run_bias_correction(cfg: &BiasConfig) -> Result<BiasReport> {
    let splits = cfg.source.load(ModelKind::Mlp)?;
    let warmup = LinearLr::new(1.0 / cfg.warmup as f64, 1.0, cfg.warmup)?;
    let mut kinds = Vec::new();
    for &lr in &cfg.lrs {
        for w in [false, true] {
            for corrected in [true, false] {
                kinds.push((lr, corrected, w));
            }
        }
    }
    let jobs: Vec<(usize, u64)> = (0..kinds.len())
        .flat_map(|k| cfg.seeds.iter().map(move |&s| (k, s)))
        .collect();
    let runs = run_all(&jobs, |&(k, seed)| {
        let (lr, corrected, w) = kinds[k];
        let spec = NetSpec {
            model: ModelKind::Mlp,
            method: if corrected {
                OptimizerSettings::from(OptimizerKind::Adam)
            } else {
                OptimizerSettings {
                    bias_correction: false,
                    ..OptimizerKind::Adam.into()
                }
            },
            lr,
            weight_decay: 0.0,
            batch_size: cfg.batch_size,
            epochs: usize::MAX,
            max_steps: Some(cfg.steps),
            eval_train: true,
        };
        train_net(&splits, &spec, w.then_some(&warmup as _), seed)
    })?;
    let mut runs = runs.into_iter();
    let variants = kinds
        .iter()
        .map(|&(lr, corrected, warmup)| BiasVariant {
            lr,
            corrected,
            warmup,
            runs: runs.by_ref().take(cfg.seeds.len()).collect(),
        })
        .collect();
    Ok(BiasReport {
        data: cfg.source.to_string(),
        config: cfg.clone(),
        variants,
    })
}

/// The trailing moving average over `window` values (shorter at the start).
fn smooth(values: &[f64], window: usize) -> Vec<f64> {
    let mut sum = 0.0;
    (0..values.len())
        .map(|i| {
            sum += values[i];
            if i >= window {
                sum -= values[i - window];
            }
            sum / (i + 1).min(window) as f64
        })
        .collect()
}

/// Writes `losses.csv` (every step's minibatch loss per variant and seed),
/// `summary.csv` and `bias_correction.png` into `dir`.
pub fn write_bias_correction(report: &BiasReport, dir: &Path) -> Result<()> {
    create_dir(dir)?;
    let mut losses = Csv::new(&["lr", "bias_correction", "warmup", "seed", "step", "loss"]);
    for v in &report.variants {
        for (seed, run) in report.config.seeds.iter().zip(&v.runs) {
            for (t, loss) in run.step_losses.iter().enumerate() {
                let fields = [num(v.lr), v.corrected.to_string(), v.warmup.to_string()];
                let mut row = fields.to_vec();
                row.extend([seed.to_string(), (t + 1).to_string(), num(*loss)]);
                losses.row(row);
            }
        }
    }
    losses.write(&dir.join("losses.csv"))?;
    summary_csv(report).write(&dir.join("summary.csv"))?;
    line_panels(
        &dir.join("bias_correction.png"),
        &panels(report),
        2,
        (640, 440),
    )?;
    Ok(())
}

fn summary_csv(report: &BiasReport) -> Csv {
    let mut columns = vec!["lr".to_string(), "bias_correction".into(), "warmup".into()];
    for (a, b) in &report.config.windows {
        columns.extend([
            format!("loss_steps_{a}_{b}_mean"),
            format!("loss_steps_{a}_{b}_std"),
        ]);
    }
    for name in ["final_train_loss", "final_test_accuracy"] {
        columns.extend([format!("{name}_mean"), format!("{name}_std")]);
    }
    let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
    let mut table = Csv::new(&columns);
    for v in &report.variants {
        let mut row = vec![num(v.lr), v.corrected.to_string(), v.warmup.to_string()];
        let stats = report.config.windows.iter().map(|&w| v.window_loss(w));
        for s in stats.chain([v.final_stat(0), v.final_stat(3)]) {
            row.extend([num(s.mean), num(s.std)]);
        }
        table.row(row);
    }
    table
}

fn panels(report: &BiasReport) -> Vec<Panel> {
    let window = 10;
    let mut panels = Vec::new();
    for &lr in &report.config.lrs {
        for warmup in [false, true] {
            let mut panel = Panel {
                title: format!(
                    "lr {lr}{}",
                    if warmup {
                        format!(", linear warm-up over {} steps", report.config.warmup)
                    } else {
                        ", constant".into()
                    }
                ),
                x_label: "iteration".into(),
                y_label: format!("minibatch loss ({window}-step moving average)"),
                log_x: true,
                log_y: true,
                ..Panel::default()
            };
            for v in report
                .variants
                .iter()
                .filter(|v| v.lr == lr && v.warmup == warmup)
            {
                let curves: Vec<Vec<f64>> = v
                    .runs
                    .iter()
                    .map(|r| smooth(&r.step_losses, window))
                    .collect();
                let stats = MeanStd::pointwise(&curves);
                let xs: Vec<f64> = (1..=stats.len()).map(|t| t as f64).collect();
                panel.lines.push(Line::mean_std(&v.label(), &xs, &stats));
            }
            panels.push(panel);
        }
    }
    panels
}

impl BiasReport {
    /// A Markdown table: mean minibatch loss per step window, final training
    /// loss and test accuracy, mean ± std over seeds.
    pub fn markdown(&self) -> String {
        let mut text = format!(
            "data: {}, MLP 784-512-512-10 (or 64-… on the digits), batch {}, {} steps, {} seeds\n\n| lr | variant |",
            self.data,
            self.config.batch_size,
            self.config.steps,
            self.config.seeds.len()
        );
        for (a, b) in &self.config.windows {
            let _ = write!(text, " loss, steps {a}–{b} |");
        }
        text.push_str(" final train loss | final test acc. (%) |\n|---|---|");
        text.push_str(&"---|".repeat(self.config.windows.len() + 2));
        text.push('\n');
        for v in &self.variants {
            let _ = write!(text, "| {} | {} |", v.lr, v.label());
            for &w in &self.config.windows {
                let _ = write!(text, " {:.3} |", v.window_loss(w));
            }
            let acc = v.final_stat(3);
            let _ = writeln!(
                text,
                " {:.4} | {:.2} ± {:.2} |",
                v.final_stat(0),
                100.0 * acc.mean,
                100.0 * acc.std
            );
        }
        text
    }
}
