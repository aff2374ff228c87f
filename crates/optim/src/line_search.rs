//! The strong Wolfe line search of PyTorch's L-BFGS (after minFunc): bracket a
//! step with cubic interpolation, then zoom into the bracket.

use tapegrad_tape::Float;

use crate::error::Result;
use crate::lbfgs::{dot, max_abs};

const C1: f64 = 1e-4;
const C2: f64 = 0.9;

/// The minimizer of the cubic through (x₁, f₁, g₁) and (x₂, f₂, g₂), clamped to
/// `bounds` (default: between the two points); their middle when the cubic
/// has no real minimizer.
fn cubic_interpolate(p1: (f64, f64, f64), p2: (f64, f64, f64), bounds: Option<(f64, f64)>) -> f64 {
    let ((x1, f1, g1), (x2, f2, g2)) = (p1, p2);
    let (lo, hi) = bounds.unwrap_or(if x1 <= x2 { (x1, x2) } else { (x2, x1) });
    let d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    let d2_square = d1 * d1 - g1 * g2;
    if d2_square >= 0.0 {
        let d2 = d2_square.sqrt();
        let min_pos = if x1 <= x2 {
            x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
        } else {
            x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
        };
        min_pos.max(lo).min(hi)
    } else {
        (lo + hi) / 2.0
    }
}

/// One trial point: step, objective, gradient, directional derivative.
#[derive(Clone)]
struct Point<T> {
    t: f64,
    f: f64,
    g: Vec<T>,
    gtd: f64,
}

/// Finds t along d from (f, g) with gᵀd = `gtd` < 0 satisfying
/// f(t) ≤ f + c₁ t gᵀd and |g(t)ᵀd| ≤ −c₂ gᵀd, in at most `max_ls`
/// evaluations of `obj`; returns (f, g, t, evaluations) at the best point.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub(crate) fn strong_wolfe<T: Float>(
    obj: &mut dyn FnMut(f64) -> Result<(f64, Vec<T>)>,
    t: f64,
    d: &[T],
    f: f64,
    g: &[T],
    gtd: T,
    tolerance_change: f64,
    max_ls: usize,
) -> Result<(f64, Vec<T>, f64, usize)> {
    let gtd = gtd.to_f64();
    let d_norm = max_abs(d);
    let mut eval = |t: f64| -> Result<Point<T>> {
        let (f, g) = obj(t)?;
        let gtd = dot(&g, d).to_f64();
        Ok(Point { t, f, g, gtd })
    };
    let mut new = eval(t)?;
    let mut evals = 1;
    let mut prev = Point {
        t: 0.0,
        f,
        g: g.to_vec(),
        gtd,
    };
    let mut ls_iter = 0;
    let mut done = false;
    let mut bracket: Vec<Point<T>> = Vec::new();
    while ls_iter < max_ls {
        if new.f > f + C1 * new.t * gtd || (ls_iter > 1 && new.f >= prev.f) {
            bracket = vec![prev.clone(), new.clone()];
            break;
        }
        if new.gtd.abs() <= -C2 * gtd {
            bracket = vec![new.clone()];
            done = true;
            break;
        }
        if new.gtd >= 0.0 {
            bracket = vec![prev.clone(), new.clone()];
            break;
        }
        let min_step = new.t + 0.01 * (new.t - prev.t);
        let max_step = new.t * 10.0;
        let t = cubic_interpolate(
            (prev.t, prev.f, prev.gtd),
            (new.t, new.f, new.gtd),
            Some((min_step, max_step)),
        );
        prev = new;
        new = eval(t)?;
        evals += 1;
        ls_iter += 1;
    }
    if ls_iter == max_ls {
        let start = Point {
            t: 0.0,
            f,
            g: g.to_vec(),
            gtd,
        };
        bracket = vec![start, new.clone()];
    }
    if bracket.len() == 1 {
        let p = bracket.swap_remove(0);
        return Ok((p.f, p.g, p.t, evals));
    }
    let (mut low, mut high) = if bracket[0].f <= bracket[1].f {
        (0, 1)
    } else {
        (1, 0)
    };
    let mut insuf_progress = false;
    while !done && ls_iter < max_ls {
        let (b0, b1) = (bracket[0].t, bracket[1].t);
        if (b1 - b0).abs() * d_norm < tolerance_change {
            break;
        }
        let (p0, p1) = (&bracket[0], &bracket[1]);
        let mut t = cubic_interpolate((p0.t, p0.f, p0.gtd), (p1.t, p1.f, p1.gtd), None);
        let (bmax, bmin) = (b0.max(b1), b0.min(b1));
        let eps = 0.1 * (bmax - bmin);
        if f64::min(bmax - t, t - bmin) < eps {
            if insuf_progress || t >= bmax || t <= bmin {
                t = if (t - bmax).abs() < (t - bmin).abs() {
                    bmax - eps
                } else {
                    bmin + eps
                };
                insuf_progress = false;
            } else {
                insuf_progress = true;
            }
        } else {
            insuf_progress = false;
        }
        let point = eval(t)?;
        evals += 1;
        ls_iter += 1;
        if point.f > f + C1 * point.t * gtd || point.f >= bracket[low].f {
            bracket[high] = point;
            (low, high) = if bracket[0].f <= bracket[1].f {
                (0, 1)
            } else {
                (1, 0)
            };
        } else {
            if point.gtd.abs() <= -C2 * gtd {
                done = true;
            } else if point.gtd * (bracket[high].t - bracket[low].t) >= 0.0 {
                bracket[high] = bracket[low].clone();
            }
            bracket[low] = point;
        }
    }
    let p = bracket.swap_remove(low);
    Ok((p.f, p.g, p.t, evals))
}
