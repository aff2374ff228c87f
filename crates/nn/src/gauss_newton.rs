//! Gauss–Newton–vector products: the curvature that the subsampled Newton
//! method of the lecture's author uses in place of the Hessian.
//!
//! For a network output z(θ) on a batch S of instances and a loss ξ(zᵢ; yᵢ)
//! per instance,
//!
//! `G v = (1/|S|) Σᵢ Jᵢᵀ Bᵢ Jᵢ v + λ v`,  `Jᵢ = ∂zᵢ/∂θ`,  `Bᵢ = ∂²ξ/∂zᵢ²`,
//!
//! with `λ = 1/C` for the objective's `θᵀθ/(2C)` term (0 without it). Bᵢ is
//! positive semi-definite for both losses here, so G is too, even where the
//! Hessian is not. One product costs a Jacobian-vector product (two backward
//! passes through the recorded graph, the double-backward trick), the
//! closed-form Bᵢ, and one vector-Jacobian product.

use tapegrad_tape::functional::{jvp_of, vjp_of};
use tapegrad_tape::{Float, Tensor, Var};

use crate::error::{NnError, Result};

/// The loss whose curvature in the output defines Bᵢ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputCurvature {
    /// ξ(z; y) = ‖z − y‖²: Bᵢ = 2I.
    SquaredError,
    /// ξ(z; y) = −log softmax(z)_y: Bᵢ = diag(p) − ppᵀ with p = softmax(zᵢ).
    SoftmaxCrossEntropy,
}

impl OutputCurvature {
    /// `Bᵢ uᵢ` for every instance i (row i of `z` and `u`, both `[S, K]`).
    fn apply<T: Float>(self, z: &Tensor<T>, u: &Tensor<T>) -> Result<Tensor<T>> {
        match self {
            OutputCurvature::SquaredError => Ok(u.scale(T::from_f64(2.0))),
            OutputCurvature::SoftmaxCrossEntropy => {
                let k = z.shape()[1];
                let mut out = Vec::with_capacity(z.numel());
                for (zi, ui) in z.data().chunks(k).zip(u.data().chunks(k)) {
                    let max = zi.iter().copied().fold(T::NEG_INFINITY, T::max);
                    let e: Vec<T> = zi.iter().map(|&x| (x - max).exp()).collect();
                    let sum = e.iter().copied().fold(T::ZERO, |a, b| a + b);
                    let p: Vec<T> = e.iter().map(|&x| x / sum).collect();
                    let pu = p.iter().zip(ui).fold(T::ZERO, |a, (&p, &u)| a + p * u);
                    out.extend(p.iter().zip(ui).map(|(&p, &u)| p * u - p * pu));
                }
                Ok(Tensor::from_vec(out, z.shape())?)
            }
        }
    }
}

/// `G v` for the output `z` `[S, K]` of a network already computed from
/// `params` (the graph is kept), one tangent per parameter, and `λ` the
/// coefficient of the identity term (1/C, or 0). One part per parameter,
/// shaped as it.
///
/// Errors: `z` not of rank 2 or with no instance, `v` not one tensor per
/// parameter of its shape, a negative or non-finite `λ`.
///
/// ```
/// use tapegrad_nn::{OutputCurvature, gauss_newton_product};
/// use tapegrad_tape::{Tensor, Var};
/// // z = x w for one instance x = [1, 2] and squared error: G = 2 xᵀx.
/// let w = Var::parameter(Tensor::from_vec(vec![0.5f64, -1.0], &[2, 1]).unwrap());
/// let x = Var::constant(Tensor::from_vec(vec![1.0, 2.0], &[1, 2]).unwrap());
/// let z = x.matmul(&w).unwrap();
/// let v = Var::constant(Tensor::from_vec(vec![1.0, 0.0], &[2, 1]).unwrap());
/// let gv = gauss_newton_product(&z, &[w], &[v], OutputCurvature::SquaredError, 0.0).unwrap();
/// assert_eq!(gv[0].value().data(), &[2.0, 4.0]);
/// ```
pub fn gauss_newton_product<T: Float>(
    z: &Var<T>,
    params: &[Var<T>],
    v: &[Var<T>],
    curvature: OutputCurvature,
    lambda: T,
) -> Result<Vec<Var<T>>> {
    let op = "gauss_newton_product";
    if z.shape().len() != 2 || z.shape()[0] == 0 {
        return Err(NnError::InvalidArgument {
            op,
            name: "z",
            value: format!("shape {:?}", z.shape()),
            reason: "the network's output must be [instances, outputs] with at least one instance"
                .into(),
        });
    }
    if !(lambda >= T::ZERO && lambda.is_finite()) {
        return Err(NnError::InvalidArgument {
            op,
            name: "lambda",
            value: format!("{lambda:?}"),
            reason: "the identity term's coefficient must be finite and ≥ 0".into(),
        });
    }
    let jv = jvp_of(z, params, v, false)?;
    let bjv = curvature.apply(&z.value(), &jv.value())?;
    let scale = T::ONE / T::from_f64(z.shape()[0] as f64);
    let jtbjv = vjp_of(z, params, &Var::constant(bjv.scale(scale)), false)?;
    jtbjv
        .iter()
        .zip(v)
        .map(|(g, vi)| {
            let damped = g.value().add(&vi.value().scale(lambda))?;
            Ok(Var::constant(damped))
        })
        .collect()
}
