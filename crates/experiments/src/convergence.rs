//! Experiment 4: fast versus slow final convergence. L2-regularized logistic
//! regression trained long by several stochastic optimizers; the relative
//! objective gap (f − f*)/f* against test accuracy, with f* from Newton-CG.

use rand::SeedableRng;
use rand::rngs::StdRng;
use tapegrad_data::batches;
use tapegrad_tape::{Tensor, Var};

use super::binary::BinarySource;
use super::error::Result;
use super::logreg::{BinarySet, LogisticProblem, Optimum, mean_loss, newton_cg};
use super::runner::run_all;
use tapegrad_optim::{OptimizerKind, OptimizerSettings};
use tapegrad_plot::MeanStd;

/// The settings of [`run_convergence`].
#[derive(Debug, Clone)]
pub struct ConvergenceConfig {
    /// The data set.
    pub source: BinarySource,
    /// C in θᵀθ/(2C), as a multiple of the training-set size l: C = `c_per_sample` · l.
    /// 1 is LIBLINEAR's default C = 1 in its form θᵀθ/2 + C Σ ξ.
    pub c_per_sample: f64,
    /// Passes over the training set per run.
    pub epochs: usize,
    /// Minibatch size |S|.
    pub batch_size: usize,
    /// The seeds (minibatch order); the first also tunes the learning rates.
    pub seeds: Vec<u64>,
    /// Each optimizer with its learning-rate grid: the rate with the lowest
    /// final objective on the first seed is used for every seed.
    pub methods: Vec<(OptimizerSettings, Vec<f64>)>,
    /// A run counts as predicting as well as θ* from the first evaluation where
    /// its test accuracy is at most this (a fraction, 0.002 = 0.2 percentage
    /// points) below θ*'s.
    pub settle_tolerance: f64,
    /// Evaluations per decade of steps (on top of one per epoch).
    pub evals_per_decade: usize,
}

impl ConvergenceConfig {
    /// The full version: a9a (or the digits), 60 epochs of minibatches of 128.
    pub fn full(seeds: Vec<u64>) -> Self {
        Self {
            source: BinarySource::available(BinarySource::A9a),
            c_per_sample: 1.0,
            epochs: 60,
            batch_size: 128,
            seeds,
            methods: vec![
                (OptimizerKind::Sgd.into(), vec![0.03, 0.1, 0.3, 1.0]),
                (OptimizerKind::Momentum.into(), vec![0.003, 0.01, 0.03, 0.1]),
                (OptimizerKind::Adagrad.into(), vec![0.01, 0.03, 0.1, 0.3]),
                (OptimizerKind::Adam.into(), vec![3e-4, 1e-3, 3e-3, 1e-2]),
            ],
            settle_tolerance: 0.002,
            evals_per_decade: 12,
        }
    }

    /// The quick version: heart_scale (or the digits), 30 epochs, two rates each.
    pub fn quick(seeds: Vec<u64>) -> Self {
        Self {
            source: BinarySource::available(BinarySource::HeartScale),
            epochs: 30,
            batch_size: 16,
            methods: vec![
                (OptimizerKind::Sgd.into(), vec![0.1, 0.3]),
                (OptimizerKind::Momentum.into(), vec![0.01, 0.03]),
                (OptimizerKind::Adagrad.into(), vec![0.1, 0.3]),
                (OptimizerKind::Adam.into(), vec![3e-3, 1e-2]),
            ],
            evals_per_decade: 6,
            ..Self::full(seeds)
        }
    }
}

/// One run's measurements at its evaluation points.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// The optimizer steps taken (for Newton-CG: the iteration).
    pub steps: Vec<usize>,
    /// Passes over the training set: steps / ⌈l/|S|⌉ (Newton-CG: gradients,
    /// Hessian-vector products and line-search evaluations).
    pub epochs: Vec<f64>,
    /// f(θ).
    pub objective: Vec<f64>,
    /// (f(θ) − f*)/f*.
    pub gap: Vec<f64>,
    /// Test accuracy (fraction).
    pub accuracy: Vec<f64>,
}

/// An optimizer's chosen learning rate and its runs, one per seed.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodRuns {
    /// The optimizer.
    pub method: OptimizerSettings,
    /// Each rate tried on the first seed and the final objective it reached.
    pub tuning: Vec<(f64, f64)>,
    /// The rate used.
    pub lr: f64,
    /// One curve per seed, all at the same evaluation points.
    pub runs: Vec<Curve>,
}

/// What [`run_convergence`] measured.
#[derive(Debug, Clone)]
pub struct ConvergenceReport {
    /// The data set's name.
    pub data: String,
    /// Training samples l, test samples, weights D.
    pub sizes: (usize, usize, usize),
    /// C.
    pub c: f64,
    /// θ*, f* and how Newton-CG got there.
    pub optimum: Optimum,
    /// θ*'s test accuracy.
    pub optimum_accuracy: f64,
    /// Newton-CG's iterates.
    pub newton: Curve,
    /// The stochastic optimizers.
    pub methods: Vec<MethodRuns>,
    /// The settle tolerance used.
    pub settle_tolerance: f64,
}

/// Per-seed summary numbers of one optimizer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MethodSummary {
    /// Relative gap at the end.
    pub final_gap: MeanStd,
    /// Test accuracy at the end.
    pub final_accuracy: MeanStd,
    /// The first epoch at which test accuracy comes within the tolerance of θ*'s.
    pub settle_epoch: MeanStd,
    /// The relative gap at that epoch.
    pub gap_at_settle: MeanStd,
}

impl MethodRuns {
    /// Mean ± std over seeds of the final and the settling numbers.
    pub fn summary(&self, target_accuracy: f64, tolerance: f64) -> MethodSummary {
        let settle: Vec<usize> = self
            .runs
            .iter()
            .map(|c| settle_index(&c.accuracy, target_accuracy, tolerance))
            .collect();
        let at = |f: fn(&Curve) -> &Vec<f64>| -> Vec<f64> {
            self.runs
                .iter()
                .zip(&settle)
                .map(|(c, &i)| f(c).get(i).copied().unwrap_or(f64::NAN))
                .collect()
        };
        let last = |f: fn(&Curve) -> &Vec<f64>| {
            MeanStd::over(&self.runs, |c| *f(c).last().unwrap_or(&f64::NAN))
        };
        MethodSummary {
            final_gap: last(|c| &c.gap),
            final_accuracy: last(|c| &c.accuracy),
            settle_epoch: MeanStd::of(&at(|c| &c.epochs)),
            gap_at_settle: MeanStd::of(&at(|c| &c.gap)),
        }
    }
}

/// The first index whose value is at least `target − tolerance` (the length if none is).
fn settle_index(values: &[f64], target: f64, tolerance: f64) -> usize {
    let reached = values.iter().position(|v| *v >= target - tolerance);
    reached.unwrap_or(values.len())
}

/// Runs the experiment: Newton-CG for f*, the learning-rate tuning, then every
/// optimizer on every seed. Writes nothing; see [`super::write_convergence`].
pub fn run_convergence(cfg: &ConvergenceConfig) -> Result<ConvergenceReport> {
    let (train, test) = cfg.source.load()?;
    let l = train.len();
    let problem = LogisticProblem {
        train,
        c: cfg.c_per_sample * l as f64,
    };
    let optimum = newton_cg(&problem, 1e-13, 100)?;
    let f_star = optimum.value;
    let newton = newton_curve(&problem, &test, &optimum);
    let schedule = Schedule::new(l.div_ceil(cfg.batch_size), cfg);
    let context = Context {
        problem: &problem,
        test: &test,
        f_star,
        schedule: &schedule,
        batch_size: cfg.batch_size,
    };
    let tune_seed = cfg.seeds[0];
    let tuning_jobs: Vec<(OptimizerSettings, f64)> = cfg
        .methods
        .iter()
        .flat_map(|(m, lrs)| lrs.iter().map(move |&lr| (*m, lr)))
        .collect();
    let tuned = run_all(&tuning_jobs, |&(m, lr)| context.run(m, lr, tune_seed))?;
    let mut chosen = Vec::new();
    for (method, _) in &cfg.methods {
        let tuning: Vec<(f64, f64)> = tuning_jobs
            .iter()
            .zip(&tuned)
            .filter(|((m, _), _)| m == method)
            .map(|((_, lr), curve)| (*lr, final_objective(curve)))
            .collect();
        let best = tuning
            .iter()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(f64::NAN, |t| t.0);
        chosen.push((*method, tuning, best));
    }
    let jobs: Vec<(usize, u64)> = (0..chosen.len())
        .flat_map(|i| cfg.seeds.iter().map(move |&s| (i, s)))
        .collect();
    let mut curves = run_all(&jobs, |&(i, seed)| {
        context.run(chosen[i].0, chosen[i].2, seed)
    })?
    .into_iter();
    let methods = chosen
        .into_iter()
        .map(|(method, tuning, lr)| MethodRuns {
            method,
            tuning,
            lr,
            runs: curves.by_ref().take(cfg.seeds.len()).collect(),
        })
        .collect();
    Ok(ConvergenceReport {
        data: cfg.source.to_string(),
        sizes: (l, test.len(), problem.train.dim()),
        c: problem.c,
        optimum_accuracy: test.accuracy(&optimum.theta),
        optimum,
        newton,
        methods,
        settle_tolerance: cfg.settle_tolerance,
    })
}

/// NaN-safe: a diverged run's final objective is +∞.
fn final_objective(curve: &Curve) -> f64 {
    match curve.objective.last() {
        Some(f) if f.is_finite() => *f,
        _ => f64::INFINITY,
    }
}

fn newton_curve(problem: &LogisticProblem, test: &BinarySet, optimum: &Optimum) -> Curve {
    let mut curve = Curve::empty();
    for (k, (passes, theta)) in optimum.trace.iter().enumerate() {
        let f = problem.objective(theta);
        curve.push(k, *passes, f, optimum.value, test.accuracy(theta));
    }
    curve
}

impl Curve {
    fn empty() -> Self {
        Self {
            steps: Vec::new(),
            epochs: Vec::new(),
            objective: Vec::new(),
            gap: Vec::new(),
            accuracy: Vec::new(),
        }
    }

    fn push(&mut self, step: usize, epoch: f64, f: f64, f_star: f64, accuracy: f64) {
        self.steps.push(step);
        self.epochs.push(epoch);
        self.objective.push(f);
        self.gap.push((f - f_star) / f_star);
        self.accuracy.push(accuracy);
    }
}

/// The steps after which a run is evaluated: about `evals_per_decade` per
/// decade (1, 2, 3, 4, 6, 8, 10, …) and the end of every epoch.
struct Schedule {
    steps_per_epoch: usize,
    epochs: usize,
    at: Vec<usize>,
}

impl Schedule {
    fn new(steps_per_epoch: usize, cfg: &ConvergenceConfig) -> Self {
        let total = steps_per_epoch * cfg.epochs;
        let per = cfg.evals_per_decade.max(1) as f64;
        let mut at: Vec<usize> = (0..)
            .map(|k| 10f64.powf(k as f64 / per).round() as usize)
            .take_while(|&s| s <= total)
            .chain((1..=cfg.epochs).map(|e| e * steps_per_epoch))
            .collect();
        at.sort_unstable();
        at.dedup();
        Self {
            steps_per_epoch,
            epochs: cfg.epochs,
            at,
        }
    }
}

/// What every run shares.
struct Context<'a> {
    problem: &'a LogisticProblem,
    test: &'a BinarySet,
    f_star: f64,
    schedule: &'a Schedule,
    batch_size: usize,
}

impl Context<'_> {
    /// One run from θ = 0; after divergence the remaining points are NaN.
    fn run(&self, method: OptimizerSettings, lr: f64, seed: u64) -> Result<Curve> {
        let dim = self.problem.train.dim();
        let theta = Var::parameter(Tensor::<f64>::zeros(&[dim]));
        let mut opt = method
            .with_lr(lr)
            .with_weight_decay(self.problem.weight_decay())
            .build(vec![theta.clone()])?;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut curve = Curve::empty();
        let (mut step, mut next) = (0, self.schedule.at.iter().peekable());
        let data = &self.problem.train.data;
        for _ in 0..self.schedule.epochs {
            for (x, classes) in batches(data, self.batch_size, true, false, &mut rng)? {
                opt.zero_grad();
                mean_loss(&theta, &x, &classes)?.backward()?;
                opt.step()?;
                step += 1;
                if next.next_if_eq(&&step).is_some() {
                    let value = theta.value().into_vec();
                    let f = self.problem.objective(&value);
                    let acc = self.test.accuracy(&value);
                    let epoch = step as f64 / self.schedule.steps_per_epoch as f64;
                    curve.push(step, epoch, f, self.f_star, acc);
                }
            }
        }
        Ok(curve)
    }
}
