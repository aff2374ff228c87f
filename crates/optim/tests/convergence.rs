//! Each optimizer solves small convex problems built with tape ops, to a stated
//! tolerance: a diagonal quadratic with a known minimizer, and L2-regularized
//! logistic regression, where the full gradient θ/C + ∇(mean loss) must vanish.

mod common;

use common::table::{maximizes, rows};
use common::{noise, values, vector};
use tapegrad_optim::{AdamConfig, AdamW, CosineAnnealingLr, Optimizer, ParamGroup, Scheduler};
use tapegrad_tape::{Tensor, Var};

const CURVATURES: [f64; 4] = [0.5, 1.0, 2.5, 5.0];
const MINIMIZER: [f64; 4] = [1.5, -2.0, 0.25, 3.0];

/// ½ Σ aᵢ (wᵢ − cᵢ)².
fn quadratic(w: &Var<f64>) -> Var<f64> {
    let a = Var::constant(Tensor::from_vec(CURVATURES.to_vec(), &[4]).unwrap());
    let c = Var::constant(Tensor::from_vec(MINIMIZER.to_vec(), &[4]).unwrap());
    let d = w.sub(&c).unwrap();
    d.mul(&d).unwrap().mul(&a).unwrap().sum().mul_scalar(0.5)
}

/// Runs `steps` steps of `loss`, annealing the lr to 0 by cosine when asked
/// (adaptive methods at a constant lr keep hovering at a distance of about lr).
fn minimize(
    opt: &mut dyn Optimizer<f64>,
    params: &[Var<f64>],
    loss: impl Fn() -> Var<f64>,
    steps: usize,
    anneal: bool,
) -> f64 {
    let mut sched =
        anneal.then(|| Scheduler::new(CosineAnnealingLr::new(steps, 0.0).unwrap(), opt).unwrap());
    // An optimizer that ascends minimizes f when it is given −f.
    let sign = if maximizes(opt) { -1.0 } else { 1.0 };
    for _ in 0..steps {
        opt.zero_grad();
        loss().mul_scalar(sign).backward().unwrap();
        opt.step().unwrap();
        if let Some(s) = sched.as_mut() {
            s.step(opt).unwrap();
        }
    }
    params.iter().for_each(Var::zero_grad);
    loss().item().unwrap()
}

fn distance_to_minimizer(w: &Var<f64>) -> f64 {
    values(w)
        .iter()
        .zip(MINIMIZER)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
}

/// Every row with its quadratic fit, weight decay 0 (so the minimizer is w*).
#[test]
fn every_row_finds_the_minimizer_of_a_quadratic() {
    for row in rows() {
        let fit = row.quadratic;
        let w = vector(&[0.0; 4]);
        let group = ParamGroup::new(vec![w.clone()])
            .with_lr(fit.lr)
            .with_weight_decay(0.0);
        let mut opt = row.build(vec![group]);
        let params = std::slice::from_ref(&w);
        let loss = minimize(
            opt.as_mut(),
            params,
            || quadratic(&w),
            fit.steps,
            fit.anneal,
        );
        let dist = distance_to_minimizer(&w);
        println!("{:30} ‖w − w*‖∞ = {dist:.1e} (< {:.0e})", row.name, fit.tol);
        assert!(
            dist < fit.tol,
            "{}: ‖w − w*‖∞ = {dist:e} ≥ {:e} (loss {loss:e})",
            row.name,
            fit.tol
        );
    }
}

/// Decoupled decay λ makes AdamW settle where each coordinate is either the
/// loss's own minimizer or pinned at |wᵢ| = 1/λ (a steady gradient makes
/// ŝ/√r̂ = ±1, balanced only by λ|wᵢ| = 1): it behaves like the constraint
/// ‖w‖∞ ≤ 1/λ, unlike the penalty λ‖w‖²/2 that Adam's coupled decay adds.
/// Interior coordinates hover within about ε of the minimizer.
#[test]
fn adamw_settles_at_the_box_its_decoupled_decay_implies() {
    let w = vector(&[0.0; 4]);
    let cfg = AdamConfig {
        lr: 0.01,
        betas: (0.9, 0.99),
        weight_decay: 0.4,
        ..AdamConfig::adamw()
    };
    let mut opt = AdamW::new(vec![w.clone()], cfg).unwrap();
    minimize(
        &mut opt,
        std::slice::from_ref(&w),
        || quadratic(&w),
        20000,
        false,
    );
    let want = [1.5, -2.0, 0.25, 2.5];
    for (got, want) in values(&w).iter().zip(want) {
        assert!((got - want).abs() < 1e-3, "{:?} vs {want:?}", values(&w));
    }
}

struct Logistic {
    x: Var<f64>,
    y: Var<f64>,
}

const C: f64 = 4.0;

impl Logistic {
    /// 60 points in 3-d labelled ±1 by a noisy linear rule (not separable).
    fn new() -> Self {
        let x = noise(11, 180);
        let flip = noise(12, 60);
        let y: Vec<f64> = x
            .chunks(3)
            .zip(&flip)
            .map(|(row, f)| {
                let score = 2.0 * row[0] - row[1] + 0.5 * row[2] + 0.8 * f;
                if score > 0.0 { 1.0 } else { -1.0 }
            })
            .collect();
        Self {
            x: Var::constant(Tensor::from_vec(x, &[60, 3]).unwrap()),
            y: Var::constant(Tensor::from_vec(y, &[60]).unwrap()),
        }
    }

    /// (1/l) Σ log(1 + exp(−yᵢ (xᵢ·w + b))), without the regularization term.
    fn loss(&self, w: &Var<f64>, b: &Var<f64>) -> Var<f64> {
        let scores = self
            .x
            .mul(w)
            .unwrap()
            .sum_axes(&[1], false)
            .unwrap()
            .add(b)
            .unwrap();
        let margins = scores.mul(&self.y).unwrap();
        margins.neg().exp().add_scalar(1.0).log().mean()
    }

    /// ‖(w/C + ∇_w loss, ∇_b loss)‖∞: zero exactly at the minimizer of
    /// wᵀw/(2C) + loss (the bias is not regularized).
    fn stationarity(&self, w: &Var<f64>, b: &Var<f64>) -> f64 {
        w.zero_grad();
        b.zero_grad();
        self.loss(w, b).backward().unwrap();
        let gw = w.grad().unwrap();
        let full = gw
            .data()
            .iter()
            .zip(values(w))
            .map(|(g, wi)| (g + wi / C).abs());
        let gb = b.grad().unwrap().data()[0].abs();
        full.fold(gb, f64::max)
    }
}

/// weight_decay = 1/C on the weights only (the bias group has none): the
/// optimizers solve the lecture's training problem f(θ) = θᵀθ/(2C) + (1/l) Σ ξ.
#[test]
fn coupled_weight_decay_solves_l2_regularized_logistic_regression() {
    let problem = Logistic::new();
    for row in rows() {
        let Some(fit) = row.logistic else { continue };
        let (w, b) = (vector(&[0.0; 3]), vector(&[0.0]));
        let groups = vec![
            ParamGroup::new(vec![w.clone()])
                .with_lr(fit.lr)
                .with_weight_decay(1.0 / C),
            ParamGroup::new(vec![b.clone()])
                .with_lr(fit.lr)
                .with_weight_decay(0.0),
        ];
        let mut opt = row.build(groups);
        let start = problem.loss(&w, &b).item().unwrap();
        let end = minimize(
            opt.as_mut(),
            &[w.clone(), b.clone()],
            || problem.loss(&w, &b),
            fit.steps,
            fit.anneal,
        );
        let residual = problem.stationarity(&w, &b);
        let name = row.name;
        println!("{name:30} ‖∇f‖∞ = {residual:.1e} (< {:.0e})", fit.tol);
        assert!(end < start, "{name}: loss {start} -> {end}");
        assert!(
            residual < fit.tol,
            "{name}: ‖∇f‖∞ = {residual:e} ≥ {:e}",
            fit.tol
        );
    }
}

/// Decoupled decay minimizes another objective (see the AdamW test above), so a
/// row may leave out the logistic problem exactly when its decay is decoupled.
#[test]
fn only_rows_with_decoupled_decay_leave_out_the_logistic_problem() {
    for row in rows() {
        let opt = row.over(vec![vector::<f64>(&[0.0])]);
        let options = opt.state_dict().options;
        // Lion, LAMB and Adafactor have no switch: their decay is always
        // decoupled (optax adds λθ to the update, after the sign or Adam's
        // scaling; PyTorch's Adafactor multiplies θ by 1 − ελ).
        let decoupled = matches!(
            opt.name(),
            "Lion" | "LAMB" | "Adafactor" | "ScheduleFreeAdamW"
        ) || options
            .iter()
            .any(|(name, value)| name == "decoupled_weight_decay" && *value == 1.0);
        assert_eq!(row.logistic.is_none(), decoupled, "{}", row.name);
    }
}
