//! The quick version of each experiment, through the library API: it runs, it
//! writes its files, its numbers make sense, and the same seeds give the same
//! numbers. Run with `cargo test --release --test experiments_quick`.

use std::path::{Path, PathBuf};

use tapegrad_experiments::{
    BiasConfig, ConvergenceConfig, DecayConfig, GapConfig, OptimizerKind, run_bias_correction,
    run_convergence, run_decay_grid, run_sgd_vs_adam, write_bias_correction, write_convergence,
    write_decay_grid, write_sgd_vs_adam,
};

/// A fresh directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("tapegrad-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every file exists, is non-empty, and a PNG starts with the PNG signature.
fn assert_files(dir: &Path, names: &[&str]) {
    for name in names {
        let bytes = std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!bytes.is_empty(), "{name} is empty");
        if name.ends_with(".png") {
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{name} is not a PNG");
        }
    }
}

fn csv_rows(path: &Path) -> usize {
    std::fs::read_to_string(path).unwrap().lines().count() - 1
}

#[test]
fn convergence_quick() {
    let cfg = ConvergenceConfig::quick(vec![0, 1, 2]);
    let report = run_convergence(&cfg).unwrap();
    let o = &report.optimum;
    assert!(
        o.grad_norm <= 1e-10 * o.initial_grad_norm,
        "Newton-CG stopped early"
    );
    assert_eq!(o.value, report.optimum.value);
    for m in &report.methods {
        assert_eq!(m.runs.len(), 3);
        assert!(
            cfg.methods
                .iter()
                .any(|(k, lrs)| *k == m.method && lrs.contains(&m.lr))
        );
        for run in &m.runs {
            // f* is a minimum: no iterate of any optimizer gets below it.
            assert!(
                run.gap.iter().all(|&g| g > -1e-12),
                "{}: gap {:?}",
                m.method,
                run.gap
            );
            assert!(
                run.gap.last().unwrap() < &(0.1 * run.gap[0]),
                "{} did not converge",
                m.method
            );
            assert!(*run.accuracy.last().unwrap() > 0.6);
        }
    }
    let newton_gap = report.newton.gap.last().unwrap();
    assert!(newton_gap.abs() < 1e-15);
    let dir = TempDir::new("convergence");
    write_convergence(&report, &dir.0).unwrap();
    assert_files(
        &dir.0,
        &["curves.csv", "summary.csv", "tuning.csv", "convergence.png"],
    );
    assert_eq!(csv_rows(&dir.0.join("summary.csv")), cfg.methods.len());
    assert!(report.markdown().contains("| Adam |"));
    let again = run_convergence(&cfg).unwrap();
    assert_eq!(again.methods, report.methods);
    assert_eq!(again.newton, report.newton);
}

#[test]
fn bias_correction_quick() {
    let cfg = BiasConfig::quick(vec![0, 1, 2]);
    let report = run_bias_correction(&cfg).unwrap();
    assert_eq!(report.variants.len(), 4 * cfg.lrs.len());
    for v in &report.variants {
        for run in &v.runs {
            assert_eq!(run.step_losses.len(), cfg.steps);
            assert!(run.step_losses.iter().all(|l| l.is_finite()));
            assert!(
                run.last()[3] > 0.8,
                "{}: test accuracy {}",
                v.label(),
                run.last()[3]
            );
        }
        let early = v.window_loss(cfg.windows[0]).mean;
        let late = v.window_loss(*cfg.windows.last().unwrap()).mean;
        assert!(late < 0.5 * early, "{} did not learn", v.label());
    }
    // The same seed gives the same first minibatch loss whatever the variant:
    // the loss is taken before the first step.
    let first: Vec<f64> = report
        .variants
        .iter()
        .map(|v| v.runs[0].step_losses[0])
        .collect();
    assert!(first.iter().all(|&l| l == first[0]));
    let dir = TempDir::new("bias");
    write_bias_correction(&report, &dir.0).unwrap();
    assert_files(
        &dir.0,
        &["losses.csv", "summary.csv", "bias_correction.png"],
    );
    assert_eq!(csv_rows(&dir.0.join("losses.csv")), 4 * 3 * cfg.steps);
    assert_eq!(run_bias_correction(&cfg).unwrap().variants, report.variants);
}

#[test]
fn weight_decay_quick() {
    let cfg = DecayConfig::quick(vec![0, 1, 2]);
    let report = run_decay_grid(&cfg).unwrap();
    let [adam, adamw] = &report.grids[..] else {
        panic!("expected two grids");
    };
    assert_eq!(
        (adam.method.kind, adamw.method.kind),
        (OptimizerKind::Adam, OptimizerKind::AdamW)
    );
    for g in &report.grids {
        assert_eq!(g.errors.len(), cfg.lrs.len());
        assert!(g.errors.iter().all(|row| row.len() == cfg.decays.len()));
        assert!(
            g.errors
                .iter()
                .flatten()
                .flatten()
                .all(|e| (0.0..=1.0).contains(e))
        );
        assert!(g.good_cells(cfg.good_margin).contains(&g.best()));
    }
    // 1/C = 1 as θ/C inside Adam's normalized step drives every weight to 0;
    // as AdamW's decay it shrinks θ by only ε/C = 0.1% per step.
    let (lr, strong) = (0, cfg.decays.len() - 1);
    let coupled = adam.stats()[lr][strong].mean;
    let decoupled = adamw.stats()[lr][strong].mean;
    assert!(coupled > 0.5 && decoupled < 0.1, "{coupled} vs {decoupled}");
    let dir = TempDir::new("decay");
    write_decay_grid(&report, &dir.0).unwrap();
    assert_files(&dir.0, &["grid.csv", "cells.csv", "decay_grid.png"]);
    assert_eq!(csv_rows(&dir.0.join("grid.csv")), 2 * 2 * 2 * 3);
    assert_eq!(run_decay_grid(&cfg).unwrap().grids, report.grids);
}

#[test]
fn sgd_vs_adam_quick() {
    let cfg = GapConfig::quick(vec![0, 1, 2]);
    let report = run_sgd_vs_adam(&cfg).unwrap();
    assert_eq!(report.methods.len(), 2);
    for m in &report.methods {
        let best = m
            .tuning
            .iter()
            .map(|t| t.1)
            .fold(f64::NEG_INFINITY, f64::max);
        let chosen = m.tuning.iter().find(|t| t.0 == m.lr).unwrap();
        assert_eq!(
            chosen.1, best,
            "{}: the lr with the best validation accuracy",
            m.method
        );
        assert_eq!(m.runs.len(), 3);
        for run in &m.runs {
            assert_eq!(run.epochs.len(), cfg.epochs);
            assert_eq!(run.validation.len(), cfg.epochs);
            let (first, last) = (run.epochs[0], run.last());
            assert!(
                last[0] < first[0],
                "{}: training loss did not fall",
                m.method
            );
            assert!(last[3] > 0.8, "{}: test accuracy {}", m.method, last[3]);
        }
    }
    let dir = TempDir::new("gap");
    write_sgd_vs_adam(&report, &dir.0).unwrap();
    assert_files(&dir.0, &["epochs.csv", "tuning.csv", "sgd_vs_adam.png"]);
    assert_eq!(csv_rows(&dir.0.join("epochs.csv")), 2 * 3 * cfg.epochs);
    assert_eq!(run_sgd_vs_adam(&cfg).unwrap().methods, report.methods);
}
