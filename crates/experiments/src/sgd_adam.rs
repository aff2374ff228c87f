//! Experiment 3: SGD with momentum against Adam on the CNN, each with the
//! learning rate of a small grid that gives the best validation accuracy;
//! training loss, test accuracy and the generalization gap over epochs
//! (Wilson et al., 2017).

use std::fmt::Write as _;
use std::path::Path;

use super::csv::{Csv, create_dir, num};
use super::error::Result;
use super::nets::{ImageSource, NetRun, NetSpec, train_net_validated};
use super::runner::run_all;
use tapegrad_optim::{OptimizerKind, OptimizerSettings};
use tapegrad_plot::MeanStd;
use tapegrad_plot::{Line, Panel, line_panels};
use tapegrad_train::ModelKind;

/// The settings of [`run_sgd_vs_adam`].
#[derive(Debug, Clone)]
pub struct GapConfig {
    /// The data (a validation set is taken beside it).
    pub source: ImageSource,
    /// Validation images (MNIST only).
    pub validation: usize,
    /// Each optimizer with its learning-rate grid.
    pub methods: Vec<(OptimizerSettings, Vec<f64>)>,
    /// Minibatch size.
    pub batch_size: usize,
    /// Passes over the training set.
    pub epochs: usize,
    /// The seeds; the first one's runs also choose the learning rates.
    pub seeds: Vec<u64>,
}

impl GapConfig {
    /// MNIST (5000 train / 2000 validation / 5000 test), the CNN, 6 epochs of 64.
    pub fn full(seeds: Vec<u64>) -> Self {
        Self {
            source: ImageSource::mnist_or_digits(5000, 5000),
            validation: 2000,
            methods: vec![
                (OptimizerKind::Momentum.into(), vec![0.01, 0.03, 0.1]),
                (OptimizerKind::Adam.into(), vec![3e-4, 1e-3, 3e-3]),
            ],
            batch_size: 64,
            epochs: 6,
            seeds,
        }
    }

    /// The digits, two rates each, 2 epochs.
    pub fn quick(seeds: Vec<u64>) -> Self {
        Self {
            source: ImageSource::Digits,
            methods: vec![
                (OptimizerKind::Momentum.into(), vec![0.01, 0.1]),
                (OptimizerKind::Adam.into(), vec![1e-3, 3e-3]),
            ],
            batch_size: 32,
            epochs: 2,
            ..Self::full(seeds)
        }
    }
}

/// One optimizer's tuning and runs.
#[derive(Debug, Clone, PartialEq)]
pub struct GapMethod {
    /// The optimizer.
    pub method: OptimizerSettings,
    /// Each rate tried (first seed) and its final validation accuracy.
    pub tuning: Vec<(f64, f64)>,
    /// The rate chosen.
    pub lr: f64,
    /// One run per seed at that rate.
    pub runs: Vec<NetRun>,
}

impl GapMethod {
    /// Mean ± std over seeds of evaluation entry `k` after each epoch
    /// (0 train loss, 1 train accuracy, 2 test loss, 3 test accuracy).
    pub fn per_epoch(&self, k: usize) -> Vec<MeanStd> {
        let series: Vec<Vec<f64>> = self
            .runs
            .iter()
            .map(|r| r.epochs.iter().map(|e| e[k]).collect())
            .collect();
        MeanStd::pointwise(&series)
    }

    /// Mean ± std over seeds of the final train accuracy minus test accuracy.
    pub fn final_gap(&self) -> MeanStd {
        MeanStd::over(&self.runs, |r| r.last()[1] - r.last()[3])
    }
}

/// What [`run_sgd_vs_adam`] measured.
#[derive(Debug, Clone)]
pub struct GapReport {
    /// The data's name.
    pub data: String,
    /// The settings.
    pub config: GapConfig,
    /// The optimizers.
    pub methods: Vec<GapMethod>,
}

/// Tunes each optimizer's rate on the first seed, then runs the other seeds.
pub fn run_sgd_vs_adam(cfg: &GapConfig) -> Result<GapReport> {
    let (splits, validation) = cfg
        .source
        .load_with_validation(ModelKind::Cnn, cfg.validation)?;
    let run = |method: OptimizerSettings, lr: f64, seed: u64| {
        let spec = NetSpec {
            model: ModelKind::Cnn,
            method,
            lr,
            weight_decay: 0.0,
            batch_size: cfg.batch_size,
            epochs: cfg.epochs,
            max_steps: None,
            eval_train: true,
        };
        train_net_validated(&splits, Some(&validation), &spec, None, seed)
    };
    let first = cfg.seeds[0];
    let tuning_jobs: Vec<(OptimizerSettings, f64)> = cfg
        .methods
        .iter()
        .flat_map(|(m, lrs)| lrs.iter().map(move |&lr| (*m, lr)))
        .collect();
    let tuned = run_all(&tuning_jobs, |&(m, lr)| run(m, lr, first))?;
    let mut chosen = Vec::new();
    for (method, _) in &cfg.methods {
        let mut tries: Vec<(f64, f64, &NetRun)> = tuning_jobs
            .iter()
            .zip(&tuned)
            .filter(|((m, _), _)| m == method)
            .map(|((_, lr), r)| (*lr, r.validation.last().copied().unwrap_or(f64::NAN), r))
            .collect();
        tries.sort_by(|a, b| b.1.total_cmp(&a.1));
        let best = tries[0];
        let tuning = tuning_jobs
            .iter()
            .zip(&tuned)
            .filter(|((m, _), _)| m == method)
            .map(|((_, lr), r)| (*lr, r.validation.last().copied().unwrap_or(f64::NAN)))
            .collect();
        chosen.push((*method, tuning, best.0, best.2.clone()));
    }
    let jobs: Vec<(usize, u64)> = (0..chosen.len())
        .flat_map(|i| cfg.seeds[1..].iter().map(move |&s| (i, s)))
        .collect();
    let mut more = run_all(&jobs, |&(i, seed)| run(chosen[i].0, chosen[i].2, seed))?.into_iter();
    let methods = chosen
        .into_iter()
        .map(|(method, tuning, lr, first_run)| GapMethod {
            method,
            tuning,
            lr,
            runs: std::iter::once(first_run)
                .chain(more.by_ref().take(cfg.seeds.len() - 1))
                .collect(),
        })
        .collect();
    Ok(GapReport {
        data: format!(
            "{}: {} train / {} validation / {} test images",
            cfg.source,
            splits.train.len(),
            validation.len(),
            splits.test.len()
        ),
        config: cfg.clone(),
        methods,
    })
}

/// Writes `epochs.csv` (every run's evaluations), `tuning.csv` and
/// `sgd_vs_adam.png` (training loss and test accuracy over epochs) into `dir`.
pub fn write_sgd_vs_adam(report: &GapReport, dir: &Path) -> Result<()> {
    create_dir(dir)?;
    let mut epochs = Csv::new(&[
        "method",
        "lr",
        "seed",
        "epoch",
        "train_loss",
        "train_accuracy",
        "test_loss",
        "test_accuracy",
        "validation_accuracy",
    ]);
    let mut tuning = Csv::new(&["method", "lr", "validation_accuracy", "chosen"]);
    for m in &report.methods {
        for (seed, run) in report.config.seeds.iter().zip(&m.runs) {
            for (e, ev) in run.epochs.iter().enumerate() {
                let mut row = vec![
                    m.method.to_string(),
                    num(m.lr),
                    seed.to_string(),
                    (e + 1).to_string(),
                ];
                row.extend(ev.iter().map(|&v| num(v)));
                row.push(num(run.validation.get(e).copied().unwrap_or(f64::NAN)));
                epochs.row(row);
            }
        }
        for &(lr, acc) in &m.tuning {
            tuning.row(vec![
                m.method.to_string(),
                num(lr),
                num(acc),
                (lr == m.lr).to_string(),
            ]);
        }
    }
    epochs.write(&dir.join("epochs.csv"))?;
    tuning.write(&dir.join("tuning.csv"))?;
    line_panels(&dir.join("sgd_vs_adam.png"), &panels(report), 3, (520, 420))?;
    Ok(())
}

fn panels(report: &GapReport) -> Vec<Panel> {
    let panel = |title: &str, y_label: &str, log_y| Panel {
        title: title.into(),
        x_label: "epoch".into(),
        y_label: y_label.into(),
        log_y,
        ..Panel::default()
    };
    let mut loss = panel("training loss (whole training set)", "cross-entropy", true);
    let mut test = panel("test accuracy", "accuracy (%)", false);
    let mut gap = panel(
        "generalization gap",
        "train − test accuracy (points)",
        false,
    );
    for m in &report.methods {
        let label = format!("{} (lr {})", m.method, m.lr);
        let xs: Vec<f64> = (1..=report.config.epochs).map(|e| e as f64).collect();
        let pct = |k: usize| -> Vec<Vec<f64>> {
            m.runs
                .iter()
                .map(|r| r.epochs.iter().map(|e| 100.0 * e[k]).collect())
                .collect()
        };
        let diff: Vec<Vec<f64>> = m
            .runs
            .iter()
            .map(|r| r.epochs.iter().map(|e| 100.0 * (e[1] - e[3])).collect())
            .collect();
        loss.lines
            .push(Line::mean_std(&label, &xs, &m.per_epoch(0)));
        test.lines
            .push(Line::mean_std(&label, &xs, &MeanStd::pointwise(&pct(3))));
        gap.lines
            .push(Line::mean_std(&label, &xs, &MeanStd::pointwise(&diff)));
    }
    vec![loss, test, gap]
}

impl GapReport {
    /// A Markdown table: per optimizer the tuning, the final training loss,
    /// train and test accuracy, and the gap between them.
    pub fn markdown(&self) -> String {
        let cfg = &self.config;
        let mut text = format!(
            "data: {}, CNN, batch {}, {} epochs, {} seeds; lr chosen by validation accuracy on seed {}\n\n\
             | optimizer | lr grid (validation acc. %) | lr | final train loss | final train acc. (%) | final test acc. (%) | gap (points) |\n|---|---|---|---|---|---|---|\n",
            self.data,
            cfg.batch_size,
            cfg.epochs,
            cfg.seeds.len(),
            cfg.seeds[0]
        );
        for m in &self.methods {
            let grid: Vec<String> = m
                .tuning
                .iter()
                .map(|(lr, a)| format!("{lr}: {:.2}", 100.0 * a))
                .collect();
            let last = |k: usize| MeanStd::over(&m.runs, |r| r.last()[k]);
            let pct = |s: MeanStd| format!("{:.2} ± {:.2}", 100.0 * s.mean, 100.0 * s.std);
            let _ = writeln!(
                text,
                "| {} | {} | {} | {:.4} | {} | {} | {} |",
                m.method,
                grid.join(", "),
                m.lr,
                last(0),
                pct(last(1)),
                pct(last(3)),
                pct(m.final_gap())
            );
        }
        text
    }
}
