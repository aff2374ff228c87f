//! L2-regularized logistic regression, the lecture's training problem with a
//! linear model and two classes:
//!
//! f(θ) = θᵀθ/(2C) + (1/l) Σᵢ ξ(θ; yⁱ, xⁱ),  ξ = log(1 + exp(−yⁱ θᵀxⁱ)),  yⁱ ∈ {−1, +1}
//!
//! in f64, with its minimizer θ* found by Newton's method whose linear systems
//! are solved by conjugate gradients on the tape's Hessian-vector products.

use tapegrad_data::Dataset;
use tapegrad_tape::{GradOptions, Tensor, Var, grad};

use super::error::Result;

/// A two-class data set for [`LogisticProblem`]: features `[N, D]` whose last
/// column is the constant 1 (the bias, regularized like every weight), class 1
/// the positive label y = +1 and class 0 y = −1.
#[derive(Debug, Clone)]
pub struct BinarySet {
    /// Features `[N, D]` and class indices 0/1.
    pub data: Dataset<f64>,
}

impl BinarySet {
    /// Appends the bias column to `data`'s `[N, D − 1]` features, and makes
    /// `positive(class)` the +1 label.
    ///
    /// ```
    /// use tapegrad_data::Dataset;
    /// use tapegrad_experiments::BinarySet;
    /// use tapegrad_tape::Tensor;
    /// let ds = Dataset::new(Tensor::from_vec(vec![2.0, 3.0], &[2, 1]).unwrap(), vec![0, 2], 3).unwrap();
    /// let set = BinarySet::new(&ds, |c| c == 2).unwrap();
    /// assert_eq!(set.data.features().data(), &[2.0, 1.0, 3.0, 1.0]);
    /// assert_eq!(set.signs(), vec![-1.0, 1.0]);
    /// ```
    pub fn new(data: &Dataset<f64>, positive: impl Fn(usize) -> bool) -> Result<Self> {
        let data = data.flatten();
        let (n, d) = (data.len(), data.sample_len());
        let mut x = Vec::with_capacity(n * (d + 1));
        for row in data.features().data().chunks_exact(d.max(1)).take(n) {
            x.extend_from_slice(&row[..d]);
            x.push(1.0);
        }
        let labels = data
            .labels()
            .iter()
            .map(|&c| usize::from(positive(c)))
            .collect();
        let features = Tensor::from_vec(x, &[n, d + 1])?;
        Ok(Self {
            data: Dataset::new(features, labels, 2)?,
        })
    }

    /// The number of samples l.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The number of weights D (features plus the bias).
    pub fn dim(&self) -> usize {
        self.data.sample_len()
    }

    /// The labels yⁱ ∈ {−1, +1}.
    pub fn signs(&self) -> Vec<f64> {
        signs(self.data.labels())
    }

    /// The margins yⁱ θᵀxⁱ of every sample.
    fn margins(&self, theta: &[f64]) -> Vec<f64> {
        let x = self.data.features().data();
        x.chunks_exact(self.dim())
            .zip(self.data.labels())
            .map(|(row, &c)| sign(c) * dot(row, theta))
            .collect()
    }

    /// The fraction of samples with θᵀxⁱ on the side of yⁱ (θᵀx = 0 counts as −1).
    ///
    /// ```
    /// use tapegrad_data::Dataset;
    /// use tapegrad_experiments::BinarySet;
    /// use tapegrad_tape::Tensor;
    /// let ds = Dataset::new(Tensor::from_vec(vec![-1.0, 2.0, 3.0], &[3, 1]).unwrap(), vec![0, 1, 0], 2).unwrap();
    /// let set = BinarySet::new(&ds, |c| c == 1).unwrap();
    /// assert_eq!(set.accuracy(&[1.0, 0.0]), 2.0 / 3.0);
    /// ```
    pub fn accuracy(&self, theta: &[f64]) -> f64 {
        let x = self.data.features().data();
        let right = x
            .chunks_exact(self.dim())
            .zip(self.data.labels())
            .filter(|(row, c)| (dot(row, theta) > 0.0) == (**c == 1))
            .count();
        right as f64 / self.len() as f64
    }
}

/// f(θ) = θᵀθ/(2C) + mean ξ on a training set.
#[derive(Debug, Clone)]
pub struct LogisticProblem {
    /// The training set.
    pub train: BinarySet,
    /// The regularization constant C of θᵀθ/(2C).
    pub c: f64,
}

impl LogisticProblem {
    /// f(θ) in plain f64, each sum compensated (Neumaier), so that gaps
    /// f − f* down to about 1e-15 · f* are meaningful.
    ///
    /// ```
    /// use tapegrad_data::Dataset;
    /// use tapegrad_experiments::{BinarySet, LogisticProblem};
    /// use tapegrad_tape::Tensor;
    /// let ds = Dataset::new(Tensor::from_vec(vec![1.0, -1.0], &[2, 1]).unwrap(), vec![1, 0], 2).unwrap();
    /// let p = LogisticProblem { train: BinarySet::new(&ds, |c| c == 1).unwrap(), c: 1.0 };
    /// assert!((p.objective(&[0.0, 0.0]) - 2f64.ln()).abs() < 1e-15);
    /// // θ = (1, 0): both margins are 1, f = 1/2 + log(1 + e⁻¹)
    /// assert!((p.objective(&[1.0, 0.0]) - (0.5 + (1.0 + (-1f64).exp()).ln())).abs() < 1e-15);
    /// ```
    pub fn objective(&self, theta: &[f64]) -> f64 {
        let margins = self.train.margins(theta);
        let data_term = compensated_sum(margins.iter().map(|&m| softplus(-m)));
        let norm = compensated_sum(theta.iter().map(|t| t * t));
        norm / (2.0 * self.c) + data_term / self.train.len() as f64
    }

    /// The weight decay 1/C that puts θ/C into an optimizer's gradient.
    pub fn weight_decay(&self) -> f64 {
        1.0 / self.c
    }

    /// f(θ) on the tape, over the whole training set.
    pub fn objective_var(&self, theta: &Var<f64>) -> Result<Var<f64>> {
        let data = self.train.data.features();
        let xi = mean_loss(theta, data, self.train.data.labels())?;
        let reg = theta.mul(theta)?.sum().mul_scalar(0.5 / self.c);
        Ok(reg.add(&xi)?)
    }
}

/// mean ξ = (1/|S|) Σ log(1 + exp(−yⁱ θᵀxⁱ)) over the rows of `x` `[B, D]`, on the
/// tape, as log(e⁰ + e^(−m)) with m = y θᵀx through the stable `logsumexp`
/// (never overflows; its derivative at m = 0 is the true −1/2, where the
/// form relu(−m) + log(1 + e^(−|m|)) would give the subgradient 0).
///
/// ```
/// use tapegrad_experiments::mean_loss;
/// use tapegrad_tape::{Tensor, Var};
/// let theta = Var::parameter(Tensor::from_vec(vec![0.0, 0.0], &[2]).unwrap());
/// let x = Tensor::from_vec(vec![1.0, 1.0, -1.0, 1.0], &[2, 2]).unwrap();
/// let loss = mean_loss(&theta, &x, &[1, 0]).unwrap();
/// assert!((loss.item().unwrap() - 2f64.ln()).abs() < 1e-15);
/// loss.backward().unwrap(); // −(1/2) mean y x = −(1/2)(1, 0)
/// assert_eq!(theta.grad().unwrap().data(), &[-0.5, 0.0]);
/// // margins of 1000 neither overflow nor lose the gradient's sign
/// let far = Var::parameter(Tensor::from_vec(vec![-1000.0, 0.0], &[2]).unwrap());
/// assert!((mean_loss(&far, &x, &[1, 0]).unwrap().item().unwrap() - 1000.0).abs() < 1e-9);
/// ```
pub fn mean_loss(theta: &Var<f64>, x: &Tensor<f64>, classes: &[usize]) -> Result<Var<f64>> {
    let n = classes.len();
    let y = Var::constant(Tensor::from_vec(signs(classes), &[n])?);
    let margins = Var::constant(x.clone()).matmul(theta)?.mul(&y)?;
    let zero = Var::constant(Tensor::zeros(&[n]));
    let pair = Var::stack(&[&zero, &margins.neg()], 1)?;
    Ok(pair.logsumexp_axes(&[1], false)?.mean())
}

/// The result of [`newton_cg`].
#[derive(Debug, Clone)]
pub struct Optimum {
    /// θ*.
    pub theta: Vec<f64>,
    /// f* = f(θ*).
    pub value: f64,
    /// ‖∇f(θ*)‖₂.
    pub grad_norm: f64,
    /// ‖∇f(0)‖₂, for the relative stopping test.
    pub initial_grad_norm: f64,
    /// Newton steps taken.
    pub iterations: usize,
    /// Conjugate-gradient steps (Hessian-vector products) over all Newton steps.
    pub cg_steps: usize,
    /// Each Newton iterate θₖ (θ₀ = 0) with the data passes spent to reach it,
    /// counting a gradient, a Hessian-vector product and a line-search
    /// evaluation of f as one pass each.
    pub trace: Vec<(f64, Vec<f64>)>,
}

/// Newton's method from θ = 0: solve ∇²f(θ) d = −∇f(θ) by conjugate gradients
/// (each product ∇²f v is the gradient of ⟨∇f, v⟩, through `create_graph`),
/// backtrack on f until f(θ + αd) ≤ f(θ) + 10⁻⁴ α ∇fᵀd, and stop when
/// ‖∇f‖ ≤ `rtol` ‖∇f(0)‖, after `max_iterations`, or when the line search
/// can no longer decrease f (f64's floor).
///
/// ```
/// use tapegrad_data::Dataset;
/// use tapegrad_experiments::{BinarySet, LogisticProblem, newton_cg};
/// use tapegrad_tape::Tensor;
/// let x = Tensor::from_vec(vec![1.0, 2.0, -1.0, 0.5, 0.3, -2.0], &[3, 2]).unwrap();
/// let ds = Dataset::new(x, vec![1, 0, 1], 2).unwrap();
/// let p = LogisticProblem { train: BinarySet::new(&ds, |c| c == 1).unwrap(), c: 10.0 };
/// let opt = newton_cg(&p, 1e-12, 50).unwrap();
/// assert!(opt.grad_norm <= 1e-12 * opt.initial_grad_norm);
/// assert!(opt.value < p.objective(&[0.1, 0.0, 0.0]));
/// ```
pub fn newton_cg(problem: &LogisticProblem, rtol: f64, max_iterations: usize) -> Result<Optimum> {
    let dim = problem.train.dim();
    let mut out = Optimum {
        theta: vec![0.0; dim],
        value: f64::NAN,
        grad_norm: f64::NAN,
        initial_grad_norm: f64::NAN,
        iterations: 0,
        cg_steps: 0,
        trace: Vec::new(),
    };
    let mut passes = 0.0;
    loop {
        let param = Var::parameter(Tensor::from_vec(out.theta.clone(), &[dim])?);
        let f = problem.objective_var(&param)?;
        let opts = GradOptions {
            create_graph: true,
            ..Default::default()
        };
        let g = grad(&[f], &[param.clone()], None, opts)?.remove(0);
        let g = g.expect("f depends on θ");
        passes += 1.0;
        out.trace.push((passes, out.theta.clone()));
        let gradient = g.value().into_vec();
        out.grad_norm = dot(&gradient, &gradient).sqrt();
        if out.iterations == 0 {
            out.initial_grad_norm = out.grad_norm;
        }
        let ratio = out.grad_norm / out.initial_grad_norm;
        if ratio <= rtol || out.iterations == max_iterations {
            break;
        }
        let hvp = |v: &[f64]| -> Result<Vec<f64>> {
            let v = Var::constant(Tensor::from_vec(v.to_vec(), &[dim])?);
            let gv = g.mul(&v)?.sum();
            let opts = GradOptions {
                retain_graph: true,
                ..Default::default()
            };
            let hv = grad(&[gv], &[param.clone()], None, opts)?.remove(0);
            Ok(hv.expect("∇f depends on θ").value().into_vec())
        };
        let (step, used) = conjugate_gradient(hvp, &gradient, ratio.sqrt().min(0.5), 2 * dim)?;
        out.cg_steps += used;
        passes += used as f64;
        let (alpha, evaluations) = backtrack(problem, &out.theta, &step, &gradient);
        passes += evaluations as f64;
        if alpha == 0.0 {
            break;
        }
        out.theta
            .iter_mut()
            .zip(&step)
            .for_each(|(t, d)| *t += alpha * d);
        out.iterations += 1;
    }
    out.value = problem.objective(&out.theta);
    Ok(out)
}

/// Solves H d = −g approximately: stops when ‖H d + g‖ ≤ `forcing` ‖g‖ or after
/// `max_steps`. Returns d and the number of products with H.
fn conjugate_gradient(
    hvp: impl Fn(&[f64]) -> Result<Vec<f64>>,
    g: &[f64],
    forcing: f64,
    max_steps: usize,
) -> Result<(Vec<f64>, usize)> {
    let mut d = vec![0.0; g.len()];
    let mut r: Vec<f64> = g.iter().map(|x| -x).collect();
    let mut p = r.clone();
    let mut rr = dot(&r, &r);
    let target = forcing * rr.sqrt();
    for step in 0..max_steps {
        if rr.sqrt() <= target {
            return Ok((d, step));
        }
        let hp = hvp(&p)?;
        let alpha = rr / dot(&p, &hp);
        d.iter_mut().zip(&p).for_each(|(di, pi)| *di += alpha * pi);
        r.iter_mut().zip(&hp).for_each(|(ri, hi)| *ri -= alpha * hi);
        let next = dot(&r, &r);
        p.iter_mut()
            .zip(&r)
            .for_each(|(pi, ri)| *pi = ri + next / rr * *pi);
        rr = next;
    }
    Ok((d, max_steps))
}

/// The Armijo step length along `step` (1, 1/2, 1/4, …; 0 if none of 60
/// halvings decreases f) and the number of evaluations of f.
fn backtrack(problem: &LogisticProblem, theta: &[f64], step: &[f64], g: &[f64]) -> (f64, usize) {
    let f0 = problem.objective(theta);
    let slope = dot(g, step);
    let mut alpha = 1.0;
    for evaluation in 1..=60 {
        let trial: Vec<f64> = theta.iter().zip(step).map(|(t, d)| t + alpha * d).collect();
        if problem.objective(&trial) <= f0 + 1e-4 * alpha * slope {
            return (alpha, evaluation);
        }
        alpha /= 2.0;
    }
    (0.0, 60)
}

/// log(1 + eᵗ) without overflow.
fn softplus(t: f64) -> f64 {
    t.max(0.0) + (-t.abs()).exp().ln_1p()
}

fn sign(class: usize) -> f64 {
    if class == 1 { 1.0 } else { -1.0 }
}

fn signs(classes: &[usize]) -> Vec<f64> {
    classes.iter().map(|&c| sign(c)).collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Σ xᵢ with Neumaier's compensation: the rounding error of each addition is
/// collected and added back, so the error does not grow with the count.
fn compensated_sum(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut lost) = (0.0f64, 0.0f64);
    for x in values {
        let t = sum + x;
        lost += if sum.abs() >= x.abs() {
            (sum - t) + x
        } else {
            (x - t) + sum
        };
        sum = t;
    }
    sum + lost
}
