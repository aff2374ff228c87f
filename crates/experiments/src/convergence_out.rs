//! Experiment 4's files (CSV tables, PNG plot) and its text summary.

use std::fmt::Write as _;
use std::path::Path;

use super::convergence::{ConvergenceReport, Curve, MethodRuns};
use super::csv::{Csv, create_dir, num};
use super::error::Result;
use tapegrad_plot::{Corner, Line, Panel, line_panels};
use tapegrad_plot::{MeanStd, sci};

/// Gaps below this are drawn at it: f64 cannot resolve f − f* much closer.
pub const GAP_FLOOR: f64 = 1e-15;

/// Writes `curves.csv` (every evaluation of every run and Newton's iterates),
/// `summary.csv` (mean ± std per optimizer), `tuning.csv` (the learning-rate
/// search) and `convergence.png` into `dir`.
pub fn write_convergence(report: &ConvergenceReport, dir: &Path) -> Result<()> {
    create_dir(dir)?;
    curves_csv(report).write(&dir.join("curves.csv"))?;
    summary_csv(report).write(&dir.join("summary.csv"))?;
    tuning_csv(report).write(&dir.join("tuning.csv"))?;
    line_panels(&dir.join("convergence.png"), &panels(report), 2, (640, 460))?;
    Ok(())
}

fn curves_csv(report: &ConvergenceReport) -> Csv {
    let mut table = Csv::new(&[
        "method",
        "lr",
        "seed",
        "step",
        "epoch",
        "objective",
        "relative_gap",
        "test_accuracy",
    ]);
    let mut add = |method: &str, lr: String, seed: String, c: &Curve| {
        for i in 0..c.steps.len() {
            table.row(vec![
                method.to_string(),
                lr.clone(),
                seed.clone(),
                c.steps[i].to_string(),
                num(c.epochs[i]),
                num(c.objective[i]),
                num(c.gap[i]),
                num(c.accuracy[i]),
            ]);
        }
    };
    add("Newton-CG", String::new(), String::new(), &report.newton);
    for m in &report.methods {
        for (seed, run) in m.runs.iter().enumerate() {
            add(&m.method.to_string(), num(m.lr), seed.to_string(), run);
        }
    }
    table
}

fn summary_csv(report: &ConvergenceReport) -> Csv {
    let mut table = Csv::new(&[
        "method",
        "lr",
        "seeds",
        "final_gap_mean",
        "final_gap_std",
        "final_accuracy_mean",
        "final_accuracy_std",
        "settle_epoch_mean",
        "settle_epoch_std",
        "gap_at_settle_mean",
        "gap_at_settle_std",
    ]);
    for m in &report.methods {
        let s = m.summary(report.optimum_accuracy, report.settle_tolerance);
        let mut row = vec![m.method.to_string(), num(m.lr), m.runs.len().to_string()];
        for stat in [
            s.final_gap,
            s.final_accuracy,
            s.settle_epoch,
            s.gap_at_settle,
        ] {
            row.extend([num(stat.mean), num(stat.std)]);
        }
        table.row(row);
    }
    table
}

fn tuning_csv(report: &ConvergenceReport) -> Csv {
    let mut table = Csv::new(&["method", "lr", "final_objective", "chosen"]);
    for m in &report.methods {
        for &(lr, f) in &m.tuning {
            let chosen = (lr == m.lr).to_string();
            table.row(vec![m.method.to_string(), num(lr), num(f), chosen]);
        }
    }
    table
}

fn panels(report: &ConvergenceReport) -> [Panel; 2] {
    let mut gap = Panel {
        title: format!(
            "relative objective gap, {} (geometric mean ×/÷ std)",
            report.data
        ),
        x_label: "epochs (passes over the training set)".into(),
        y_label: "(f − f*) / f*".into(),
        log_x: true,
        log_y: true,
        legend: Corner::LowerLeft,
        ..Panel::default()
    };
    let mut accuracy = Panel {
        title: format!("test accuracy, {}", report.data),
        x_label: gap.x_label.clone(),
        y_label: "accuracy (%)".into(),
        log_x: true,
        legend: Corner::LowerRight,
        ..Panel::default()
    };
    for m in &report.methods {
        let label = format!("{} (lr {})", m.method, m.lr);
        let xs = &m.runs[0].epochs;
        let gaps = floored(m.runs.iter().map(|c| c.gap.clone()));
        gap.lines.push(Line::log_mean_std(&label, xs, &gaps));
        let acc: Vec<Vec<f64>> = m.runs.iter().map(|c| percent(&c.accuracy)).collect();
        accuracy
            .lines
            .push(Line::mean_std(&label, xs, &MeanStd::pointwise(&acc)));
    }
    let newton = &report.newton;
    let newton_gap = floored(std::iter::once(newton.gap.clone())).remove(0);
    gap.lines
        .push(reference("Newton-CG (f* run)", &newton.epochs, &newton_gap));
    let acc = percent(&newton.accuracy);
    accuracy
        .lines
        .push(reference("Newton-CG (f* run)", &newton.epochs, &acc));
    [gap, accuracy]
}

fn reference(label: &str, xs: &[f64], ys: &[f64]) -> Line {
    Line {
        label: label.into(),
        points: xs.iter().copied().zip(ys.iter().copied()).collect(),
        reference: true,
        ..Line::default()
    }
}

fn floored(curves: impl Iterator<Item = Vec<f64>>) -> Vec<Vec<f64>> {
    curves
        .map(|c| c.into_iter().map(|g| g.max(GAP_FLOOR)).collect())
        .collect()
}

fn percent(values: &[f64]) -> Vec<f64> {
    values.iter().map(|v| 100.0 * v).collect()
}

impl ConvergenceReport {
    /// A Markdown summary: the problem, f*, and one table row per optimizer.
    pub fn markdown(&self) -> String {
        let (l, test, dim) = self.sizes;
        let o = &self.optimum;
        let mut text = format!(
            "data: {} (l = {l} training, {test} test samples, D = {dim} weights incl. bias), C = {}\n\
             f* = {:.15} (Newton-CG: {} iterations, {} CG steps, ‖∇f‖ = {:.2e} = {:.1e} ‖∇f(0)‖)\n\
             test accuracy of θ*: {:.2}%\n\n",
            self.data,
            self.c,
            o.value,
            o.iterations,
            o.cg_steps,
            o.grad_norm,
            o.grad_norm / o.initial_grad_norm,
            100.0 * self.optimum_accuracy,
        );
        let tol = 100.0 * self.settle_tolerance;
        let _ = writeln!(
            text,
            "| optimizer | lr | final (f−f*)/f* | final test acc. (%) | first epoch with acc. ≥ θ*'s − {tol} pt | (f−f*)/f* there |\n|---|---|---|---|---|---|"
        );
        for m in &self.methods {
            let _ = writeln!(text, "{}", self.row(m));
        }
        text
    }

    fn row(&self, m: &MethodRuns) -> String {
        let s = m.summary(self.optimum_accuracy, self.settle_tolerance);
        let pct = |x: MeanStd| MeanStd {
            mean: 100.0 * x.mean,
            std: 100.0 * x.std,
            n: x.n,
        };
        format!(
            "| {} | {} | {} | {:.2} | {:.2} | {} |",
            m.method,
            m.lr,
            sci(&s.final_gap),
            pct(s.final_accuracy),
            s.settle_epoch,
            sci(&s.gap_at_settle)
        )
    }
}
