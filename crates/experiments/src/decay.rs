//! Experiment 2: the regularization term θ/C inside Adam's gradient (coupled)
//! against AdamW's decoupled decay, over a grid of learning rates and decay
//! strengths (Loshchilov and Hutter, 2019).

use std::fmt::Write as _;
use std::path::Path;

use super::csv::{Csv, create_dir, num};
use super::error::{ExperimentError, Result};
use super::nets::{ImageSource, NetSpec, train_net};
use super::runner::run_grid;
use tapegrad_optim::{OptimizerKind, OptimizerSettings};
use tapegrad_plot::MeanStd;
use tapegrad_plot::{HeatMap, heat_maps};
use tapegrad_train::ModelKind;

/// The settings of [`run_decay_grid`].
#[derive(Debug, Clone)]
pub struct DecayConfig {
    /// The data.
    pub source: ImageSource,
    /// Learning rates ε (grid rows).
    pub lrs: Vec<f64>,
    /// Decay strengths 1/C (grid columns), the same numbers for both methods:
    /// Adam adds θ/C to g, AdamW subtracts ε θ/C from θ.
    pub decays: Vec<f64>,
    /// Minibatch size.
    pub batch_size: usize,
    /// Passes over the training set.
    pub epochs: usize,
    /// The seeds.
    pub seeds: Vec<u64>,
    /// A cell is "good" if its mean test error is at most this much (a
    /// fraction) above the method's best cell.
    pub good_margin: f64,
}

impl DecayConfig {
    /// The digits, the MLP, 12 epochs of 32, 5 rates × 7 decays (1e-5 … 10).
    pub fn full(seeds: Vec<u64>) -> Self {
        Self {
            source: ImageSource::Digits,
            lrs: vec![1e-4, 3e-4, 1e-3, 3e-3, 1e-2],
            decays: vec![1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0],
            batch_size: 32,
            epochs: 12,
            seeds,
            good_margin: 0.005,
        }
    }

    /// 2 rates × 2 decays, 2 epochs.
    pub fn quick(seeds: Vec<u64>) -> Self {
        Self {
            lrs: vec![1e-3, 1e-2],
            decays: vec![1e-3, 1.0],
            epochs: 2,
            ..Self::full(seeds)
        }
    }
}

/// One method's grid of final test errors.
#[derive(Debug, Clone, PartialEq)]
pub struct DecayGrid {
    /// Adam (coupled) or AdamW.
    pub method: OptimizerSettings,
    /// `errors[lr index][decay index][seed index]`: final test error (fraction).
    pub errors: Vec<Vec<Vec<f64>>>,
}

impl DecayGrid {
    /// Mean ± std over seeds of each cell.
    pub fn stats(&self) -> Vec<Vec<MeanStd>> {
        self.errors
            .iter()
            .map(|row| row.iter().map(|cell| MeanStd::of(cell)).collect())
            .collect()
    }

    /// The (lr index, decay index) of the lowest mean error.
    pub fn best(&self) -> (usize, usize) {
        let stats = self.stats();
        let mut best = (0, 0);
        for (i, row) in stats.iter().enumerate() {
            for (j, s) in row.iter().enumerate() {
                if s.mean < stats[best.0][best.1].mean || stats[best.0][best.1].mean.is_nan() {
                    best = (i, j);
                }
            }
        }
        best
    }

    /// The cells whose mean error is at most `margin` above the best's.
    pub fn good_cells(&self, margin: f64) -> Vec<(usize, usize)> {
        let stats = self.stats();
        let (bi, bj) = self.best();
        let limit = stats[bi][bj].mean + margin;
        let mut cells = Vec::new();
        for (i, row) in stats.iter().enumerate() {
            for (j, s) in row.iter().enumerate() {
                if s.mean <= limit {
                    cells.push((i, j));
                }
            }
        }
        cells
    }

    /// For each decay (column), the index of the learning rate with the lowest
    /// mean error: the same index in every column means the two are decoupled.
    pub fn best_lr_per_decay(&self) -> Vec<usize> {
        let stats = self.stats();
        (0..stats.first().map_or(0, Vec::len))
            .map(|j| {
                (0..stats.len())
                    .min_by(|&a, &b| stats[a][j].mean.total_cmp(&stats[b][j].mean))
                    .unwrap_or(0)
            })
            .collect()
    }
}

/// What [`run_decay_grid`] measured.
#[derive(Debug, Clone)]
pub struct DecayReport {
    /// The data's name.
    pub data: String,
    /// The settings.
    pub config: DecayConfig,
    /// Adam with θ/C in g, then AdamW.
    pub grids: Vec<DecayGrid>,
}

/// Trains the MLP for every (method, lr, decay, seed).
pub fn run_decay_grid(cfg: &DecayConfig) -> Result<DecayReport> {
    if cfg.lrs.is_empty() || cfg.decays.is_empty() {
        return Err(ExperimentError::InvalidArgument {
            name: "grid",
            value: format!("{} × {}", cfg.lrs.len(), cfg.decays.len()),
            reason: "needs at least one learning rate and one decay".into(),
        });
    }
    let splits = cfg.source.load(ModelKind::Mlp)?;
    let methods = [
        OptimizerSettings::from(OptimizerKind::Adam),
        OptimizerSettings::from(OptimizerKind::AdamW),
    ];
    let rows = methods.len() * cfg.lrs.len();
    let grid = run_grid(rows, cfg.decays.len(), &cfg.seeds, |row, j, seed| {
        let spec = NetSpec {
            model: ModelKind::Mlp,
            method: methods[row / cfg.lrs.len()],
            lr: cfg.lrs[row % cfg.lrs.len()],
            weight_decay: cfg.decays[j],
            batch_size: cfg.batch_size,
            epochs: cfg.epochs,
            max_steps: None,
            eval_train: false,
        };
        Ok(1.0 - train_net(&splits, &spec, None, seed)?.last()[3])
    })?;
    let mut rows = grid.into_iter();
    let grids = methods
        .iter()
        .map(|&method| DecayGrid {
            method,
            errors: rows.by_ref().take(cfg.lrs.len()).collect(),
        })
        .collect();
    Ok(DecayReport {
        data: cfg.source.to_string(),
        config: cfg.clone(),
        grids,
    })
}

/// Writes `grid.csv` (every cell and seed), `cells.csv` (mean ± std per cell)
/// and `decay_grid.png` (one heat map per method, same colour scale) into `dir`.
pub fn write_decay_grid(report: &DecayReport, dir: &Path) -> Result<()> {
    create_dir(dir)?;
    let cfg = &report.config;
    let mut all = Csv::new(&["method", "lr", "weight_decay", "seed", "test_error"]);
    let mut cells = Csv::new(&[
        "method",
        "lr",
        "weight_decay",
        "test_error_mean",
        "test_error_std",
    ]);
    for g in &report.grids {
        let stats = g.stats();
        for (i, &lr) in cfg.lrs.iter().enumerate() {
            for (j, &wd) in cfg.decays.iter().enumerate() {
                let key = [g.method.to_string(), num(lr), num(wd)];
                for (seed, e) in cfg.seeds.iter().zip(&g.errors[i][j]) {
                    let mut row = key.to_vec();
                    row.extend([seed.to_string(), num(*e)]);
                    all.row(row);
                }
                let mut row = key.to_vec();
                row.extend([num(stats[i][j].mean), num(stats[i][j].std)]);
                cells.row(row);
            }
        }
    }
    all.write(&dir.join("grid.csv"))?;
    cells.write(&dir.join("cells.csv"))?;
    let means = report
        .grids
        .iter()
        .flat_map(|g| g.stats().into_iter().flatten().map(|s| s.mean));
    let (lo, hi) = means
        .filter(|m| m.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), m| {
            (a.min(m), b.max(m))
        });
    let maps: Vec<HeatMap> = report.grids.iter().map(|g| heat_map(report, g)).collect();
    // Errors beyond a few times the best would wash out the good region's shades.
    let range = (lo, hi.min(lo + 0.2).max(lo + 1e-6));
    heat_maps(&dir.join("decay_grid.png"), &maps, range, (560, 480))?;
    Ok(())
}

fn heat_map(report: &DecayReport, grid: &DecayGrid) -> HeatMap {
    let cfg = &report.config;
    let name = match grid.method.kind {
        OptimizerKind::AdamW => "AdamW: θ ← θ − ε ŝ/(√r̂+δ) − ε θ/C",
        _ => "Adam: θ/C added to g",
    };
    HeatMap {
        title: format!("{name}, test error (%)"),
        x_label: "weight decay 1/C".into(),
        y_label: "learning rate ε".into(),
        columns: cfg.decays.iter().map(|d| format!("{d}")).collect(),
        rows: cfg.lrs.iter().map(|l| format!("{l}")).collect(),
        values: grid
            .stats()
            .iter()
            .map(|r| r.iter().map(|s| s.mean).collect())
            .collect(),
        marked: grid.good_cells(cfg.good_margin),
    }
}

impl DecayReport {
    /// A Markdown summary: per method the best cell, how many cells are
    /// within the margin of it, and the best learning rate for each decay.
    pub fn markdown(&self) -> String {
        let cfg = &self.config;
        let mut text = format!(
            "data: {}, MLP, batch {}, {} epochs, {} seeds; grid {} lrs × {} decays\n\n",
            self.data,
            cfg.batch_size,
            cfg.epochs,
            cfg.seeds.len(),
            cfg.lrs.len(),
            cfg.decays.len()
        );
        let margin = 100.0 * cfg.good_margin;
        let _ = writeln!(
            text,
            "| method | best cell (lr, 1/C) | its test error (%) | cells within {margin} pt of best | best lr for each 1/C ({}) |\n|---|---|---|---|---|",
            cfg.decays
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        for g in &self.grids {
            let (i, j) = g.best();
            let s = g.stats()[i][j];
            let per_decay: Vec<String> = g
                .best_lr_per_decay()
                .iter()
                .map(|&k| cfg.lrs[k].to_string())
                .collect();
            let _ = writeln!(
                text,
                "| {} | ({}, {}) | {:.2} ± {:.2} | {} of {} | {} |",
                g.method,
                cfg.lrs[i],
                cfg.decays[j],
                100.0 * s.mean,
                100.0 * s.std,
                g.good_cells(cfg.good_margin).len(),
                cfg.lrs.len() * cfg.decays.len(),
                per_decay.join(", ")
            );
        }
        text
    }
}
