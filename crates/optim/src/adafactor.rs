//! Adafactor (Shazeer and Stern, 2018, "Adafactor: adaptive learning rates
//! with sublinear memory cost"), as PyTorch's `torch.optim.Adafactor`.

use tapegrad_tape::Float;

use crate::declare::config;
use crate::par;
use crate::rule::{Optim, Rule, StepData};
use crate::scratch;

config! {
    /// Options of [`Adafactor`]; `Default` gives PyTorch's defaults. ε₁ `None`
    /// is the machine epsilon of the parameters' dtype, as in PyTorch (set by
    /// name as NaN, saved as −1).
    ///
    /// ```
    /// let cfg = tapegrad_optim::AdafactorConfig::default();
    /// assert_eq!((cfg.lr, cfg.beta2_decay, cfg.eps, cfg.d), (1e-2, -0.8, (None, 1e-3), 1.0));
    /// ```
    pub struct AdafactorConfig for "Adafactor" {
        /// Learning rate ε (≥ 0), the cap of the relative step size ρ_t.
        group lr: f64 = 1e-2, "ε", non_negative;
        /// c ≤ 0: the second-moment weight at step t is 1 − ρ₂,t = t^c.
        option beta2_decay: f64 = -0.8, "c", non_positive;
        /// (ε₁, ε₂): the floor of the second moment's root and of θ's RMS in
        /// the step size; ε₁ `None` for the dtype's machine epsilon.
        option eps: (Option<f64>, f64) = (None, 1e-3), "(ε₁, ε₂)", non_negative;
        /// d ≥ 1: the update's RMS is clipped to d.
        option d: f64 = 1.0, "d", at_least_one_real;
        /// Weight decay λ (≥ 0), decoupled: θ ← θ (1 − ε λ).
        group weight_decay: f64 = 0.0, "λ", non_negative;
        /// Ascend the objective instead of descending it (g ← −g).
        option maximize: bool = false, "", any;
    }
}

/// Adafactor, step for step as PyTorch's: Adam's second moment without the
/// first, factored for matrices into a row and a column average, and a step
/// size relative to θ's own scale.
///
/// At step t, with w = t^c, ρ_t = min(ε, 1/√t) and α = max(ε₂, RMS(θ)) ρ_t:
///
/// ```text
/// θ ← θ (1 − ε λ)
/// matrix R × C (the last two axes; leading axes are a batch of matrices):
///     r ← lerp(r, mean_c g², w)    c ← lerp(c, mean_r g², w)
///     v̂ = r cᵀ / max(mean(r), ε₁)
/// otherwise:
///     v ← lerp(v, g², w)           v̂ = v
/// u = g / √max(v̂, ε₁²)
/// θ ← θ − α / max(1, RMS(u)/d) · u
/// ```
///
/// RMS(x) = ‖x‖₂ / √n. State per parameter: `row_var` (one per row) and
/// `col_var` (one per column) for a parameter of two or more axes, `variance`
/// (its size) otherwise, and the step t. Unlike the paper, there is no first
/// moment (PyTorch's choice), and ε caps the relative step ρ_t instead of
/// being the step itself.
///
/// ```
/// use tapegrad_optim::{Adafactor, AdafactorConfig, Optimizer};
/// use tapegrad_tape::{Tensor, Var};
/// let w = Var::parameter(Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap());
/// let mut opt = Adafactor::new(vec![w.clone()], AdafactorConfig::default()).unwrap();
/// w.set_grad(Some(Tensor::from_vec(vec![0.5, -0.5, 1.0, 2.0], &[2, 2]).unwrap()));
/// opt.step().unwrap();
/// assert_eq!(opt.state_dict().state[0][0].as_ref().unwrap().buffers[0].1.len(), 2); // row_var
/// ```
pub type Adafactor<T> = Optim<T, AdafactorConfig>;

/// The indices of [`Rule::BUFFERS`].
const ROW_VAR: usize = 0;
const COL_VAR: usize = 1;
const VARIANCE: usize = 2;

impl Rule for AdafactorConfig {
    fn name(&self) -> &'static str {
        "Adafactor"
    }

    const BUFFERS: &'static [&'static str] = &["row_var", "col_var", "variance"];

    fn keeps_for(&self, index: usize, shape: &[usize]) -> bool {
        (index == VARIANCE) != factored(shape)
    }

    fn buffer_len(&self, index: usize, shape: &[usize]) -> usize {
        let n = shape.len();
        match index {
            _ if !self.keeps_for(index, shape) => 0,
            ROW_VAR => shape[..n - 1].iter().product(),
            COL_VAR => shape[..n - 2].iter().product::<usize>() * shape[n - 1],
            _ => shape.iter().product(),
        }
    }

    fn update<T: Float>(&self, step: StepData<'_, T>) {
        let t = step.t as f64;
        let numel = step.param.len() as f64;
        let eps1 = self.eps.0.unwrap_or_else(machine_epsilon::<T>);
        let rho = py_min(step.lr, 1.0 / t.powf(0.5));
        let alpha = py_max(self.eps.1, norm(step.param) / numel.powf(0.5)) * rho;
        if step.weight_decay != 0.0 {
            let keep = T::from_f64(1.0 - step.lr * step.weight_decay);
            par::sums(&mut *step.param, &|p: &mut [T]| {
                p.iter_mut().for_each(|p| *p *= keep);
                []
            });
        }
        let k = Factors {
            weight: T::from_f64(t.powf(self.beta2_decay)),
            sign: T::from_f64(if self.maximize { -1.0 } else { 1.0 }),
            eps1: T::from_f64(eps1),
            floor: T::from_f64(eps1 * eps1),
        };
        match step.state {
            [row, col, _] if factored(step.shape) => {
                let (rows, cols) = matrix(step.shape);
                let blocks = step.grad.chunks(rows * cols);
                let vars = row.chunks_mut(rows).zip(col.chunks_mut(cols));
                for (g, (r, c)) in blocks.zip(vars) {
                    k.average(g, r, c);
                }
                let sq = k.factored_pass(step.param, step.grad, row, col, rows, cols, None);
                let scale = step_scale(alpha, sq, numel, self.d);
                k.factored_pass(step.param, step.grad, row, col, rows, cols, Some(scale));
            }
            [_, _, v] => {
                let [sq] = par::sums((step.grad, v.as_mut_slice()), &|(g, v)| k.moment(g, v));
                let scale = T::from_f64(step_scale(alpha, sq, numel, self.d));
                par::sums((&mut *step.param, step.grad, v.as_slice()), &|(p, g, v)| {
                    k.vector_apply(p, g, v, scale);
                    []
                });
            }
            _ => unreachable!("Adafactor's state has three buffers"),
        }
    }
}

/// Whether a parameter of this shape has a factored second moment.
fn factored(shape: &[usize]) -> bool {
    shape.len() >= 2
}

/// (R, C): the last two axes.
fn matrix(shape: &[usize]) -> (usize, usize) {
    let n = shape.len();
    (shape[n - 2], shape[n - 1])
}

fn machine_epsilon<T: Float>() -> f64 {
    match T::NAME {
        "f32" => f32::EPSILON as f64,
        _ => f64::EPSILON,
    }
}

/// Python's `min(a, b)`: `a` unless `b < a`.
fn py_min(a: f64, b: f64) -> f64 {
    if b < a { b } else { a }
}

/// Python's `max(a, b)`: `a` unless `b > a` (so a NaN `b` gives `a`).
fn py_max(a: f64, b: f64) -> f64 {
    if b > a { b } else { a }
}

fn norm<T: Float>(x: &[T]) -> f64 {
    let [sq] = par::sums(x, &|x: &[T]| {
        let mut sq = [0.0f64; 8];
        x.iter()
            .enumerate()
            .for_each(|(i, v)| sq[i & 7] += v.to_f64() * v.to_f64());
        [sq.iter().sum()]
    });
    sq.sqrt()
}

/// −α / max(1, RMS(u)/d), the multiplier of u, from Σu².
fn step_scale(alpha: f64, sum_sq: f64, numel: f64, d: f64) -> f64 {
    let denom = py_max(1.0, sum_sq.sqrt() / (numel.powf(0.5) * d));
    -alpha / denom
}

/// The constants of one step.
struct Factors<T> {
    /// 1 − ρ₂,t = t^c.
    weight: T,
    /// −1 when maximizing.
    sign: T,
    eps1: T,
    /// ε₁².
    floor: T,
}

impl<T: Float> Factors<T> {
    /// Moves the row and column averages of g² of one R × C matrix into r and c.
    fn average(&self, g: &[T], r: &mut [T], c: &mut [T]) {
        let (rows, cols) = (r.len(), c.len());
        scratch::with::<f64, _>(cols, |col_sq| {
            for (i, row) in g.chunks(cols).enumerate() {
                let mut sq = 0.0;
                for (j, &x) in row.iter().enumerate() {
                    let x = x.to_f64();
                    sq += x * x;
                    col_sq[j] += x * x;
                }
                let mean = T::from_f64(sq.sqrt()).powi(2) / T::from_usize(cols);
                r[i] = crate::adam::lerp(r[i], mean, self.weight);
            }
            for (c, &sq) in c.iter_mut().zip(col_sq.iter()) {
                let mean = T::from_f64(sq.sqrt()).powi(2) / T::from_usize(rows);
                *c = crate::adam::lerp(*c, mean, self.weight);
            }
        });
    }

    /// u = g / √max(v̂, ε₁²).
    #[inline(always)]
    fn direction(&self, g: T, v_hat: T) -> T {
        T::ONE / v_hat.max(self.floor).sqrt() * (self.sign * g)
    }

    /// Σu² over the matrices (`scale` None), or θ += scale · u (`Some`).
    #[allow(clippy::too_many_arguments)]
    fn factored_pass(
        &self,
        param: &mut [T],
        grad: &[T],
        row: &[T],
        col: &[T],
        rows: usize,
        cols: usize,
        scale: Option<f64>,
    ) -> f64 {
        let mut sum_sq = 0.0;
        let blocks = param.chunks_mut(rows * cols).zip(grad.chunks(rows * cols));
        for ((p, g), (r, c)) in blocks.zip(row.chunks(rows).zip(col.chunks(cols))) {
            let mean = r.iter().fold(T::ZERO, |s, &x| s + x) / T::from_usize(rows);
            let denom = mean.max(self.eps1);
            let cells = p.chunks_mut(cols).zip(g.chunks(cols)).zip(r);
            for ((p_row, g_row), &ri) in cells {
                for ((p, &g), &cj) in p_row.iter_mut().zip(g_row).zip(c) {
                    let u = self.direction(g, ri * cj / denom);
                    match scale {
                        Some(s) => *p += T::from_f64(s) * u,
                        None => sum_sq += u.to_f64() * u.to_f64(),
                    }
                }
            }
        }
        sum_sq
    }

    /// v ← lerp(v, g², w) for a parameter of fewer than two axes; returns Σu².
    fn moment(&self, grad: &[T], v: &mut [T]) -> [f64; 1] {
        let mut sum_sq = [0.0f64; 8];
        for (i, (&g, v)) in grad.iter().zip(v.iter_mut()).enumerate() {
            let signed = self.sign * g;
            *v = crate::adam::lerp(*v, signed * signed, self.weight);
            let u = self.direction(g, *v);
            sum_sq[i & 7] += u.to_f64() * u.to_f64();
        }
        [sum_sq.iter().sum()]
    }

    /// θ += scale · u for a parameter of fewer than two axes.
    fn vector_apply(&self, param: &mut [T], grad: &[T], v: &[T], scale: T) {
        for ((p, &g), &v) in param.iter_mut().zip(grad).zip(v) {
            *p += scale * self.direction(g, v);
        }
    }
}
