//! Conjugate gradient for the Newton step `(G + λI) s = −g` of subsampled
//! Newton methods, with the matrix given only by its products.
//!
//! From `s = 0`, with `r = −g − A s` and directions d conjugate in A:
//! `α = rᵀr / dᵀAd`, `s ← s + α d`, `r ← r − α A d`, `β = r'ᵀr' / rᵀr`,
//! `d ← r' + β d`, until `‖r‖ ≤ ζ ‖g‖` (ζ = 0.1 by default) or the
//! iteration limit. The curvature along the step, `sᵀAs = −sᵀg − sᵀr`, comes
//! from the final residual for free (the predicted reduction of a
//! Levenberg–Marquardt rule needs it).

use tapegrad_tape::{Float, Tensor};

use crate::error::{OptimError, Result};
use crate::validate;

/// When conjugate gradient stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CgConfig {
    /// ζ: stop when `‖r‖ ≤ ζ ‖g‖`.
    pub rel_tol: f64,
    /// At most this many products with A.
    pub max_iter: usize,
}

impl Default for CgConfig {
    /// ζ = 0.1 and 250 iterations, the subsampled Newton method's defaults.
    fn default() -> Self {
        Self {
            rel_tol: 0.1,
            max_iter: 250,
        }
    }
}

/// The result of [`conjugate_gradient`].
#[derive(Debug, Clone)]
pub struct CgSolution<T: Float> {
    /// s, one tensor per block of g.
    pub step: Vec<Tensor<T>>,
    /// Products with A taken.
    pub iterations: usize,
    /// ‖r‖ at the end.
    pub residual_norm: f64,
    /// `sᵀAs`, from the final residual.
    pub curvature: f64,
    /// Whether `‖r‖ ≤ ζ ‖g‖` was reached (else the limit, or a direction of
    /// non-positive curvature, stopped it).
    pub converged: bool,
}

/// `Σ aᵢ bᵢ` over the blocks, in f64.
fn dot<T: Float>(a: &[Tensor<T>], b: &[Tensor<T>]) -> f64 {
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| x.data().iter().zip(y.data()))
        .map(|(&x, &y)| x.to_f64() * y.to_f64())
        .sum()
}

/// `a + c b`, block by block.
fn axpy<T: Float>(a: &[Tensor<T>], c: f64, b: &[Tensor<T>]) -> Result<Vec<Tensor<T>>> {
    a.iter()
        .zip(b)
        .map(|(x, y)| Ok(x.add(&y.scale(T::from_f64(c)))?))
        .collect()
}

/// Solves `A s = −g` approximately by conjugate gradient, with `apply(d)`
/// giving `A d` for a symmetric positive definite A (a Gauss–Newton product
/// plus λI, say). `g` and every product are lists of blocks of the same
/// shapes (one per parameter).
///
/// Errors: a ζ that is not positive and finite, no iteration allowed, a
/// product whose blocks do not match g's shapes, or an error of `apply`.
///
/// ```
/// use tapegrad_optim::{CgConfig, conjugate_gradient};
/// use tapegrad_tape::Tensor;
/// // A = diag(2, 4), g = (2, 4): s = (−1, −1), reached in two iterations.
/// let g = [Tensor::from_vec(vec![2.0f64, 4.0], &[2]).unwrap()];
/// let diag = Tensor::from_vec(vec![2.0, 4.0], &[2]).unwrap();
/// let cfg = CgConfig { rel_tol: 1e-12, ..CgConfig::default() };
/// let sol = conjugate_gradient(|d| Ok(vec![d[0].mul(&diag)?]), &g, cfg).unwrap();
/// assert_eq!(sol.iterations, 2);
/// assert!((sol.step[0].data()[0] + 1.0).abs() < 1e-12 && (sol.step[0].data()[1] + 1.0).abs() < 1e-12);
/// assert!((sol.curvature - 6.0).abs() < 1e-12); // sᵀAs = 2 + 4
/// ```
pub fn conjugate_gradient<T: Float>(
    mut apply: impl FnMut(&[Tensor<T>]) -> Result<Vec<Tensor<T>>>,
    g: &[Tensor<T>],
    cfg: CgConfig,
) -> Result<CgSolution<T>> {
    let op = "conjugate_gradient";
    validate::positive(op, "rel_tol", cfg.rel_tol)?;
    validate::at_least_one(op, "max_iter", cfg.max_iter)?;
    let mut s: Vec<Tensor<T>> = g.iter().map(|b| Tensor::zeros(b.shape())).collect();
    let mut r: Vec<Tensor<T>> = g.iter().map(|b| b.scale(-T::ONE)).collect();
    let mut d = r.clone();
    let mut rr = dot(&r, &r);
    let goal = cfg.rel_tol * rr.sqrt();
    let (mut iterations, mut converged) = (0, rr.sqrt() <= goal);
    while !converged && iterations < cfg.max_iter {
        let ad = apply(&d)?;
        check_blocks(op, &ad, g)?;
        iterations += 1;
        let dad = dot(&d, &ad);
        if dad.is_nan() || dad <= 0.0 {
            break;
        }
        let alpha = rr / dad;
        s = axpy(&s, alpha, &d)?;
        r = axpy(&r, -alpha, &ad)?;
        let rr_next = dot(&r, &r);
        converged = rr_next.sqrt() <= goal;
        d = axpy(&r, rr_next / rr, &d)?;
        rr = rr_next;
    }
    let curvature = -dot(&s, g) - dot(&s, &r);
    Ok(CgSolution {
        step: s,
        iterations,
        residual_norm: rr.sqrt(),
        curvature,
        converged,
    })
}

/// Checks that a product has g's blocks and shapes.
fn check_blocks<T: Float>(op: &'static str, got: &[Tensor<T>], g: &[Tensor<T>]) -> Result<()> {
    let fits = got.len() == g.len() && got.iter().zip(g).all(|(a, b)| a.shape() == b.shape());
    if fits {
        return Ok(());
    }
    let shapes = |ts: &[Tensor<T>]| ts.iter().map(|t| t.shape().to_vec()).collect::<Vec<_>>();
    Err(OptimError::InvalidArgument {
        function: op,
        name: "apply",
        value: format!("blocks of shapes {:?}", shapes(got)),
        reason: format!("a product must have g's blocks, of shapes {:?}", shapes(g)),
    })
}
