//! The table of optimizer configurations that every contract test runs.
//!
//! One row per configuration: its constructor (for f64 and f32), how it is
//! checked against PyTorch, and how it converges. The contract tests iterate
//! over [`rows`]: state round trip and bit-exact resume (`state.rs`), no
//! allocation after the first step (`allocation.rs`), PyTorch trajectories
//! (`reference.rs`: every fixture case runs the one row of its configuration),
//! refused inputs (`validation.rs`), convergence (`convergence.rs`), and the
//! identities of `equivalences.rs`, `schedules.rs` and `finite.rs`. Adding an
//! optimizer or a configuration to all of them is adding a row here; every
//! [`tapegrad_optim::OptimizerKind`] must have a row built by
//! [`OptimizerSettings`] (`settings.rs` checks).

use tapegrad_optim::{
    Adadelta, AdadeltaConfig, Adafactor, AdafactorConfig, Adagrad, AdagradConfig, Adam, AdamConfig,
    AdamW, Adamax, AdamaxConfig, ApplyIfFinite, Asgd, AsgdConfig, Lamb, LambConfig, Lion,
    LionConfig, Lookahead, NAdam, NAdamConfig, OptimError, Optimizer, OptimizerKind,
    OptimizerSettings, ParamGroup, RAdam, RAdamConfig, RmsProp, RmsPropConfig, Rprop, RpropConfig,
    ScheduleFreeAdamW, ScheduleFreeAdamWConfig, ScheduleFreeSgd, ScheduleFreeSgdConfig, Sgd,
    SgdConfig,
};
use tapegrad_tape::Float;

/// A constructor over parameter groups.
pub type Build<T> = fn(Vec<ParamGroup<T>>) -> Result<Box<dyn Optimizer<T>>, OptimError>;

/// How a row's trajectories are checked against PyTorch.
#[derive(Clone, Copy, Debug)]
pub enum Reference {
    /// At least one case of `fixtures/optim_reference.json` has this row's
    /// configuration (optimizer, options and weight decay; the case sets the lr).
    Fixture,
    /// No case can exist; why, and what checks the row instead.
    Unavailable(&'static str),
}

/// A convergence run: the lr of every group, the number of steps, whether the
/// lr is annealed to 0 by cosine, and the tolerance reached.
#[derive(Clone, Copy, Debug)]
pub struct Fit {
    pub lr: f64,
    pub steps: usize,
    pub anneal: bool,
    pub tol: f64,
}

/// One optimizer configuration.
pub struct Row {
    /// Unique; names the row in failure messages.
    pub name: &'static str,
    pub f64: Build<f64>,
    pub f32: Build<f32>,
    pub reference: Reference,
    /// The diagonal quadratic of `convergence.rs` (weight decay 0): ‖w − w*‖∞ < tol.
    pub quadratic: Fit,
    /// L2-regularized logistic regression (weight decay 1/C on the weights):
    /// ‖∇f‖∞ < tol. `None` only for decoupled weight decay, which minimizes
    /// another objective (`convergence.rs` checks that it is `None` exactly then).
    pub logistic: Option<Fit>,
}

/// The element types the rows are built for.
pub trait Dtype: Float {
    fn constructor(row: &Row) -> Build<Self>;
}

impl Dtype for f64 {
    fn constructor(row: &Row) -> Build<f64> {
        row.f64
    }
}

impl Dtype for f32 {
    fn constructor(row: &Row) -> Build<f32> {
        row.f32
    }
}

impl Row {
    /// The row's optimizer over `groups`.
    pub fn build<T: Dtype>(&self, groups: Vec<ParamGroup<T>>) -> Box<dyn Optimizer<T>> {
        T::constructor(self)(groups).unwrap_or_else(|e| panic!("{}: {e}", self.name))
    }

    /// The row's optimizer over one group of `params`.
    pub fn over<T: Dtype>(&self, params: Vec<tapegrad_tape::Var<T>>) -> Box<dyn Optimizer<T>> {
        self.build(vec![ParamGroup::new(params)])
    }
}

/// A pair of constructors, f64 and f32, from one expression of `g` (the groups).
macro_rules! builds {
    (|$g:ident| $make:expr) => {
        (
            |$g: Vec<ParamGroup<f64>>| -> Result<Box<dyn Optimizer<f64>>, OptimError> {
                Ok(Box::new($make))
            },
            |$g: Vec<ParamGroup<f32>>| -> Result<Box<dyn Optimizer<f32>>, OptimError> {
                Ok(Box::new($make))
            },
        )
    };
}

fn row(
    name: &'static str,
    (f64, f32): (Build<f64>, Build<f32>),
    reference: Reference,
    quadratic: Fit,
    logistic: Option<Fit>,
) -> Row {
    Row {
        name,
        f64,
        f32,
        reference,
        quadratic,
        logistic,
    }
}

const fn fit(lr: f64, steps: usize, anneal: bool, tol: f64) -> Fit {
    Fit {
        lr,
        steps,
        anneal,
        tol,
    }
}

// The tolerance of each family: first-order methods reach the quadratic's
// minimizer to 1e-10, AdaGrad to 1e-8; RMSprop and Adam hover at a distance of
// about the lr, so they anneal it and reach 1e-5.
const SGD_QUADRATIC: Fit = fit(0.3, 200, false, 1e-10);
const MOMENTUM_QUADRATIC: Fit = fit(0.05, 600, false, 1e-10);
const MOMENTUM_LOGISTIC: Fit = fit(0.5, 600, false, 1e-9);
const ADAGRAD_QUADRATIC: Fit = fit(1.0, 500, false, 1e-8);
const ADAGRAD_LOGISTIC: Fit = fit(0.5, 3000, false, 1e-6);
const RMSPROP_QUADRATIC: Fit = fit(0.05, 2000, true, 1e-5);
const RMSPROP_LOGISTIC: Fit = fit(0.01, 3000, true, 1e-5);
const ADAM_QUADRATIC: Fit = fit(0.1, 2000, true, 1e-5);
const ADAM_LOGISTIC: Fit = fit(0.05, 3000, true, 1e-5);
const ADADELTA_QUADRATIC: Fit = fit(1.0, 3000, true, 1e-5);
const ADADELTA_LOGISTIC: Fit = fit(1.0, 3000, true, 1e-5);

const NO_DECOUPLED_SGD: Reference = Reference::Unavailable(
    "PyTorch's SGD has no decoupled weight decay; equivalences.rs checks the lecture's form",
);
const WRAPPER: Reference = Reference::Unavailable(
    "with finite gradients it steps as the optimizer it wraps, bit for bit (finite.rs)",
);

fn settings(kind: OptimizerKind) -> OptimizerSettings {
    OptimizerSettings::new(kind)
}

/// Every configuration under contract.
pub fn rows() -> Vec<Row> {
    use OptimizerKind as K;
    use Reference::Fixture;
    vec![
        row(
            "sgd",
            builds!(|g| settings(K::Sgd).with_lr(0.1).build_with_groups(g)?),
            Fixture,
            SGD_QUADRATIC,
            Some(fit(0.5, 2000, false, 1e-9)),
        ),
        row(
            "momentum",
            builds!(|g| settings(K::Momentum).with_lr(0.05).build_with_groups(g)?),
            Fixture,
            MOMENTUM_QUADRATIC,
            Some(MOMENTUM_LOGISTIC),
        ),
        row(
            "sgd_dampening_l2",
            builds!(|g| {
                let cfg = SgdConfig {
                    lr: 0.05,
                    momentum: 0.9,
                    dampening: 0.1,
                    weight_decay: 0.01,
                    ..SgdConfig::default()
                };
                Sgd::with_groups(g, cfg)?
            }),
            Fixture,
            MOMENTUM_QUADRATIC,
            Some(MOMENTUM_LOGISTIC),
        ),
        row(
            "sgd_nesterov_l2",
            builds!(|g| {
                let cfg = SgdConfig {
                    lr: 0.05,
                    momentum: 0.9,
                    nesterov: true,
                    weight_decay: 0.05,
                    ..SgdConfig::default()
                };
                Sgd::with_groups(g, cfg)?
            }),
            Fixture,
            MOMENTUM_QUADRATIC,
            Some(MOMENTUM_LOGISTIC),
        ),
        row(
            "sgd_decoupled",
            builds!(|g| {
                let cfg = SgdConfig {
                    lr: 0.05,
                    momentum: 0.9,
                    weight_decay: 0.1,
                    decoupled_weight_decay: true,
                    ..SgdConfig::default()
                };
                Sgd::with_groups(g, cfg)?
            }),
            NO_DECOUPLED_SGD,
            MOMENTUM_QUADRATIC,
            None,
        ),
        row(
            "adagrad",
            builds!(|g| settings(K::Adagrad).with_lr(0.1).build_with_groups(g)?),
            Fixture,
            ADAGRAD_QUADRATIC,
            Some(ADAGRAD_LOGISTIC),
        ),
        row(
            "adagrad_decay_l2_init_acc",
            builds!(|g| {
                let cfg = AdagradConfig {
                    lr: 0.1,
                    lr_decay: 0.01,
                    weight_decay: 0.02,
                    initial_accumulator_value: 0.1,
                    eps: 1e-10,
                    ..AdagradConfig::default()
                };
                Adagrad::with_groups(g, cfg)?
            }),
            Fixture,
            ADAGRAD_QUADRATIC,
            Some(ADAGRAD_LOGISTIC),
        ),
        row(
            "rmsprop",
            builds!(|g| settings(K::RmsProp).build_with_groups(g)?),
            Fixture,
            RMSPROP_QUADRATIC,
            Some(RMSPROP_LOGISTIC),
        ),
        row(
            "rmsprop_centered_momentum_l2",
            builds!(|g| {
                let cfg = RmsPropConfig {
                    lr: 0.01,
                    alpha: 0.9,
                    eps: 1e-6,
                    momentum: 0.5,
                    centered: true,
                    weight_decay: 0.01,
                    ..RmsPropConfig::default()
                };
                RmsProp::with_groups(g, cfg)?
            }),
            Fixture,
            RMSPROP_QUADRATIC,
            Some(RMSPROP_LOGISTIC),
        ),
        row(
            "adam",
            builds!(|g| settings(K::Adam).build_with_groups(g)?),
            Fixture,
            ADAM_QUADRATIC,
            Some(ADAM_LOGISTIC),
        ),
        row(
            "adam_no_bias_correction",
            builds!(|g| {
                let s = OptimizerSettings {
                    bias_correction: false,
                    ..settings(K::Adam).with_lr(0.01)
                };
                s.build_with_groups(g)?
            }),
            Fixture,
            ADAM_QUADRATIC,
            Some(ADAM_LOGISTIC),
        ),
        row(
            "adam_l2",
            builds!(|g| {
                let cfg = AdamConfig {
                    lr: 0.01,
                    betas: (0.8, 0.99),
                    eps: 1e-6,
                    weight_decay: 0.1,
                    ..AdamConfig::default()
                };
                Adam::with_groups(g, cfg)?
            }),
            Fixture,
            ADAM_QUADRATIC,
            Some(ADAM_LOGISTIC),
        ),
        row(
            "adam_amsgrad",
            builds!(|g| {
                let cfg = AdamConfig {
                    lr: 0.01,
                    amsgrad: true,
                    ..AdamConfig::default()
                };
                Adam::with_groups(g, cfg)?
            }),
            Fixture,
            ADAM_QUADRATIC,
            Some(ADAM_LOGISTIC),
        ),
        row(
            "adamw",
            builds!(|g| {
                let s = settings(K::AdamW).with_lr(0.01).with_weight_decay(0.1);
                s.build_with_groups(g)?
            }),
            Fixture,
            ADAM_QUADRATIC,
            None,
        ),
        row(
            "adamw_amsgrad",
            builds!(|g| {
                let cfg = AdamConfig {
                    lr: 0.01,
                    betas: (0.85, 0.995),
                    weight_decay: 0.5,
                    amsgrad: true,
                    ..AdamConfig::adamw()
                };
                AdamW::with_groups(g, cfg)?
            }),
            Fixture,
            ADAM_QUADRATIC,
            None,
        ),
        row(
            "adamw_no_bias_correction",
            builds!(|g| {
                let s = OptimizerSettings {
                    bias_correction: false,
                    ..settings(K::AdamW).with_lr(0.01)
                };
                s.build_with_groups(g)?
            }),
            Reference::Unavailable(
                "PyTorch cannot turn the correction off; the NumPy case of the fixture covers Adam's",
            ),
            ADAM_QUADRATIC,
            None,
        ),
        row(
            "adadelta",
            builds!(|g| settings(K::Adadelta).build_with_groups(g)?),
            Fixture,
            ADADELTA_QUADRATIC,
            Some(ADADELTA_LOGISTIC),
        ),
        row(
            "adadelta_rho_eps_l2_maximize",
            builds!(|g| {
                let cfg = AdadeltaConfig {
                    lr: 0.5,
                    rho: 0.8,
                    eps: 1e-5,
                    weight_decay: 0.05,
                    maximize: true,
                };
                Adadelta::with_groups(g, cfg)?
            }),
            Fixture,
            ADADELTA_QUADRATIC,
            Some(ADADELTA_LOGISTIC),
        ),
        row(
            "adamax",
            builds!(|g| settings(K::Adamax).with_lr(0.01).build_with_groups(g)?),
            Fixture,
            ADAM_QUADRATIC,
            Some(ADAM_LOGISTIC),
        ),
        row(
            "adamax_l2_maximize",
            builds!(|g| {
                let cfg = AdamaxConfig {
                    lr: 0.01,
                    betas: (0.8, 0.99),
                    eps: 1e-6,
                    weight_decay: 0.1,
                    maximize: true,
                };
                Adamax::with_groups(g, cfg)?
            }),
            Fixture,
            ADAM_QUADRATIC,
            Some(ADAM_LOGISTIC),
        ),
        row(
            "nadam",
            builds!(|g| settings(K::NAdam).with_lr(0.01).build_with_groups(g)?),
            Fixture,
            ADAM_QUADRATIC,
            Some(ADAM_LOGISTIC),
        ),
        row(
            "nadam_l2_momentum_decay",
            builds!(|g| {
                let cfg = NAdamConfig {
                    lr: 0.01,
                    betas: (0.85, 0.99),
                    eps: 1e-7,
                    weight_decay: 0.1,
                    momentum_decay: 0.01,
                    ..NAdamConfig::default()
                };
                NAdam::with_groups(g, cfg)?
            }),
            Fixture,
            ADAM_QUADRATIC,
            Some(ADAM_LOGISTIC),
        ),
        row(
            "nadamw_maximize",
            builds!(|g| {
                let cfg = NAdamConfig {
                    lr: 0.01,
                    weight_decay: 0.1,
                    decoupled_weight_decay: true,
                    maximize: true,
                    ..NAdamConfig::default()
                };
                NAdam::with_groups(g, cfg)?
            }),
            Fixture,
            ADAM_QUADRATIC,
            None,
        ),
        row(
            "nadamw",
            builds!(|g| settings(K::NAdamW).with_lr(0.01).build_with_groups(g)?),
            Reference::Unavailable("nadamw_maximize covers NAdamW's arithmetic with maximize on"),
            ADAM_QUADRATIC,
            None,
        ),
        row(
            "radam",
            builds!(|g| settings(K::RAdam).with_lr(0.01).build_with_groups(g)?),
            Fixture,
            ADAM_QUADRATIC,
            Some(ADAM_LOGISTIC),
        ),
        row(
            "radam_l2",
            builds!(|g| {
                let cfg = RAdamConfig {
                    lr: 0.01,
                    betas: (0.8, 0.9),
                    eps: 1e-6,
                    weight_decay: 0.1,
                    ..RAdamConfig::default()
                };
                RAdam::with_groups(g, cfg)?
            }),
            Fixture,
            ADAM_QUADRATIC,
            Some(ADAM_LOGISTIC),
        ),
        row(
            "radam_decoupled_maximize",
            builds!(|g| {
                let cfg = RAdamConfig {
                    lr: 0.01,
                    weight_decay: 0.1,
                    decoupled_weight_decay: true,
                    maximize: true,
                    ..RAdamConfig::default()
                };
                RAdam::with_groups(g, cfg)?
            }),
            Fixture,
            ADAM_QUADRATIC,
            None,
        ),
        row(
            "asgd",
            builds!(|g| settings(K::Asgd).with_lr(0.05).build_with_groups(g)?),
            Fixture,
            // λ = 1e-4 decays θ as a penalty λθ²/2 would: the fixed point moves
            // from w* by λ wᵢ*/aᵢ ≤ 6e-4, and ∇f is off by about λ|θ|.
            fit(0.3, 300, false, 1e-3),
            Some(fit(0.5, 2000, false, 1e-3)),
        ),
        row(
            "asgd_averaging_l2_maximize",
            builds!(|g| {
                let cfg = AsgdConfig {
                    lr: 0.05,
                    lambd: 0.01,
                    alpha: 0.5,
                    t0: 2.0,
                    weight_decay: 0.05,
                    maximize: true,
                };
                Asgd::with_groups(g, cfg)?
            }),
            Fixture,
            // λ = 0.01: the fixed point moves by up to 6e-2 (see above).
            fit(0.3, 300, false, 0.1),
            Some(fit(0.5, 2000, false, 2e-2)),
        ),
        row(
            "rprop",
            builds!(|g| settings(K::Rprop).with_lr(0.1).build_with_groups(g)?),
            Fixture,
            fit(0.1, 500, false, 1e-5),
            Some(fit(0.1, 500, false, 1e-5)),
        ),
        row(
            "rprop_etas_step_sizes_maximize",
            builds!(|g| {
                let cfg = RpropConfig {
                    lr: 0.05,
                    etas: (0.3, 1.5),
                    step_sizes: (0.01, 0.08),
                    maximize: true,
                    ..RpropConfig::default()
                };
                Rprop::with_groups(g, cfg)?
            }),
            Fixture,
            // Steps of at least Δ_min = 0.01 bound how close it gets.
            fit(0.05, 500, false, 0.05),
            Some(fit(0.05, 500, false, 1e-2)),
        ),
        row(
            "lion",
            builds!(|g| settings(K::Lion).with_lr(0.01).build_with_groups(g)?),
            Fixture,
            // Steps of exactly ε: it reaches w* within about ε of an annealed lr.
            fit(0.01, 3000, true, 1e-5),
            None,
        ),
        row(
            "lion_betas_no_decay",
            builds!(|g| {
                let cfg = LionConfig {
                    lr: 0.02,
                    betas: (0.8, 0.95),
                    weight_decay: 0.0,
                    ..LionConfig::default()
                };
                Lion::with_groups(g, cfg)?
            }),
            Fixture,
            fit(0.01, 3000, true, 1e-5),
            None,
        ),
        row(
            "lion_decay",
            builds!(|g| {
                let cfg = LionConfig {
                    lr: 0.01,
                    betas: (0.95, 0.98),
                    weight_decay: 0.3,
                    ..LionConfig::default()
                };
                Lion::with_groups(g, cfg)?
            }),
            Fixture,
            fit(0.01, 3000, true, 1e-5),
            None,
        ),
        row(
            "lamb",
            builds!(|g| settings(K::Lamb).with_lr(0.01).build_with_groups(g)?),
            Fixture,
            ADAM_QUADRATIC,
            None,
        ),
        row(
            "lamb_decay_eps_root",
            builds!(|g| {
                let cfg = LambConfig {
                    lr: 0.02,
                    betas: (0.85, 0.99),
                    eps: 1e-8,
                    eps_root: 1e-10,
                    weight_decay: 0.1,
                    ..LambConfig::default()
                };
                Lamb::with_groups(g, cfg)?
            }),
            Fixture,
            ADAM_QUADRATIC,
            None,
        ),
        row(
            "adafactor",
            builds!(|g| settings(K::Adafactor).with_lr(0.01).build_with_groups(g)?),
            Fixture,
            fit(0.01, 3000, true, 1e-4),
            None,
        ),
        row(
            "adafactor_decay_eps_d_maximize",
            builds!(|g| {
                let cfg = AdafactorConfig {
                    lr: 0.05,
                    beta2_decay: -0.5,
                    eps: (Some(1e-6), 1e-2),
                    d: 1.5,
                    weight_decay: 0.1,
                    maximize: true,
                };
                Adafactor::with_groups(g, cfg)?
            }),
            Fixture,
            fit(0.01, 3000, true, 1e-4),
            None,
        ),
        row(
            "lookahead_momentum",
            builds!(|g| {
                let cfg = SgdConfig {
                    lr: 0.05,
                    momentum: 0.9,
                    ..SgdConfig::default()
                };
                Lookahead::new(Sgd::with_groups(g, cfg)?, 3, 0.5)?
            }),
            Fixture,
            MOMENTUM_QUADRATIC,
            Some(MOMENTUM_LOGISTIC),
        ),
        row(
            "lookahead_adam",
            builds!(|g| Lookahead::new(Adam::with_groups(g, AdamConfig::default())?, 4, 0.8)?),
            Fixture,
            ADAM_QUADRATIC,
            Some(ADAM_LOGISTIC),
        ),
        row(
            "schedule_free_sgd",
            builds!(|g| {
                let cfg = ScheduleFreeSgdConfig {
                    lr: 0.1,
                    ..Default::default()
                };
                ScheduleFreeSgd::with_groups(g, cfg)?
            }),
            Fixture,
            fit(0.1, 2000, false, 2e-4),
            Some(fit(0.5, 3000, false, 1e-6)),
        ),
        row(
            "schedule_free_sgd_warmup_decay",
            builds!(|g| {
                let cfg = ScheduleFreeSgdConfig {
                    lr: 0.2,
                    b1: 0.8,
                    weight_decay: 0.05,
                    weight_lr_power: 1.0,
                    warmup_steps: 3,
                };
                ScheduleFreeSgd::with_groups(g, cfg)?
            }),
            Fixture,
            fit(0.1, 2000, false, 2e-4),
            Some(fit(0.5, 3000, false, 1e-6)),
        ),
        row(
            "schedule_free_adamw",
            builds!(|g| {
                let cfg = ScheduleFreeAdamWConfig {
                    lr: 0.01,
                    ..Default::default()
                };
                ScheduleFreeAdamW::with_groups(g, cfg)?
            }),
            Fixture,
            fit(0.05, 3000, false, 1e-5),
            None,
        ),
        row(
            "schedule_free_adamw_warmup_decay",
            builds!(|g| {
                let cfg = ScheduleFreeAdamWConfig {
                    lr: 0.02,
                    b1: 0.95,
                    b2: 0.99,
                    eps: 1e-6,
                    weight_decay: 0.1,
                    warmup_steps: 4,
                    ..Default::default()
                };
                ScheduleFreeAdamW::with_groups(g, cfg)?
            }),
            Fixture,
            fit(0.01, 3000, false, 5e-4),
            None,
        ),
        row(
            "adam_amsgrad_apply_if_finite",
            builds!(|g| {
                let cfg = AdamConfig {
                    lr: 0.01,
                    amsgrad: true,
                    ..AdamConfig::default()
                };
                ApplyIfFinite::new(Adam::with_groups(g, cfg)?, None)?
            }),
            WRAPPER,
            ADAM_QUADRATIC,
            Some(ADAM_LOGISTIC),
        ),
        row(
            "momentum_apply_if_finite",
            builds!(|g| {
                let inner = settings(K::Momentum).with_lr(0.05).build_with_groups(g)?;
                ApplyIfFinite::new(inner, Some(3))?
            }),
            WRAPPER,
            MOMENTUM_QUADRATIC,
            Some(MOMENTUM_LOGISTIC),
        ),
    ]
}

/// Whether two optimizers run the same algorithm: the same name and options.
pub fn same_algorithm<T: Float>(a: &dyn Optimizer<T>, b: &dyn Optimizer<T>) -> bool {
    let options = |opt: &dyn Optimizer<T>| -> (String, Vec<(String, u64)>) {
        let s = opt.state_dict();
        let options = s.options.iter().map(|(n, v)| (n.clone(), v.to_bits()));
        (s.optimizer, options.collect())
    };
    options(a) == options(b)
}

/// Whether two optimizers have the same configuration: the same algorithm and
/// each group's weight decay (the lr is the run's, set by a case or a schedule).
pub fn same_configuration<T: Float>(a: &dyn Optimizer<T>, b: &dyn Optimizer<T>) -> bool {
    let decays = |opt: &dyn Optimizer<T>| -> Vec<u64> {
        opt.groups()
            .iter()
            .map(|g| g.weight_decay.to_bits())
            .collect()
    };
    same_algorithm(a, b) && decays(a) == decays(b)
}

/// The rows whose configuration is `opt`'s (each built over one parameter).
pub fn rows_like<T: Dtype>(opt: &dyn Optimizer<T>) -> Vec<Row> {
    rows()
        .into_iter()
        .filter(|row| {
            let param = tapegrad_tape::Var::parameter(tapegrad_tape::Tensor::zeros(&[1]));
            same_configuration(row.over::<T>(vec![param]).as_ref(), opt)
        })
        .collect()
}

/// Whether the optimizer keeps per-parameter state (all but SGD without momentum).
pub fn keeps_state<T: Float>(opt: &dyn Optimizer<T>) -> bool {
    let options = opt.state_dict().options;
    let momentum = options.iter().find(|(n, _)| n == "momentum").map(|o| o.1);
    !(opt.name() == "SGD" && momentum == Some(0.0))
}

/// Whether the optimizer ascends (`maximize`): a test minimizing f then gives
/// it the gradient of −f.
pub fn maximizes<T: Float>(opt: &dyn Optimizer<T>) -> bool {
    let options = opt.state_dict().options;
    options.iter().any(|(n, v)| n == "maximize" && *v == 1.0)
}

/// Whether the optimizer's update of an element depends on the whole tensor
/// (LAMB's trust ratio ‖θ‖/‖u‖, Adafactor's RMS(θ) and RMS(u)), so that
/// splitting a parameter changes it.
pub fn per_tensor<T: Float>(opt: &dyn Optimizer<T>) -> bool {
    matches!(opt.name(), "LAMB" | "Adafactor")
}
