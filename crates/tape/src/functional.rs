//! Derivatives of functions of `Var`s, as `torch.autograd.functional`:
//! vector-Jacobian and Jacobian-vector products, Hessian-vector products, and
//! dense Jacobians and Hessians for small inputs.
//!
//! Each function takes `f`, a function of a slice of vars to one var (as
//! [`gradcheck`](crate::gradcheck)), and the point `inputs` at which to
//! differentiate. `f` runs on fresh entry points of the inputs, so its
//! derivatives never include a path through the inputs' own history; with
//! `create_graph` the results are recorded and connect to that history, so
//! they can be differentiated again (an input that requires a gradient is
//! entered through an identity node, one that does not as a new leaf).
//! Without it they are constants. An input that `f` does not depend on gets a
//! zero derivative.
//!
//! The Jacobian-vector product uses the double-backward trick: for a dummy
//! cotangent u, the gradient `Jᵀu` is linear in u, and its gradient with
//! respect to u along v is `J v`. It costs two backward passes.

use crate::engine::{GradOptions, grad};
use crate::error::{Result, TapeError};
use crate::float::Float;
use crate::ops::composed::alias;
use crate::tensor::Tensor;
use crate::var::{Var, with_grad_mode};

/// The points at which `f` is evaluated: an identity node of each input that
/// requires a gradient (so that a recorded result connects to its history),
/// a new leaf of each one that does not.
fn entry_points<T: Float>(inputs: &[Var<T>]) -> Vec<Var<T>> {
    inputs
        .iter()
        .map(|x| {
            if x.requires_grad() {
                alias(x)
            } else {
                Var::parameter(x.value())
            }
        })
        .collect()
}

/// The derivatives of `Σ_k ⟨seeds[k], outputs[k]⟩` with respect to `wrt`
/// (`None`: ones, for scalar outputs), zeros where an input is unused. An
/// output that depends on nothing needing a gradient contributes nothing.
fn cotangent<T: Float>(
    outputs: &[Var<T>],
    wrt: &[Var<T>],
    seeds: Option<&[Var<T>]>,
    create_graph: bool,
) -> Result<Vec<Var<T>>> {
    let live: Vec<usize> = (0..outputs.len())
        .filter(|&k| outputs[k].requires_grad())
        .collect();
    if live.is_empty() {
        return Ok(wrt.iter().map(zeros_like).collect());
    }
    let outputs: Vec<Var<T>> = live.iter().map(|&k| outputs[k].clone()).collect();
    let seeds: Option<Vec<Var<T>>> = seeds.map(|s| live.iter().map(|&k| s[k].clone()).collect());
    let opts = GradOptions {
        create_graph,
        retain_graph: true,
        allow_unused: true,
    };
    let found = grad(&outputs, wrt, seeds.as_deref(), opts)?;
    Ok(found
        .into_iter()
        .zip(wrt)
        .map(|(g, x)| g.unwrap_or_else(|| zeros_like(x)))
        .collect())
}

/// The entry points x of some inputs, a scalar f(x) and its gradient ∇f,
/// recorded so that it can be differentiated again.
struct Recorded<T: Float> {
    x: Vec<Var<T>>,
    y: Var<T>,
    g: Vec<Var<T>>,
}

/// [`Recorded`] for `f` at `inputs`; a non-scalar `f` is an error (the
/// functions of a Hessian).
fn recorded_gradient<T: Float>(
    f: impl Fn(&[Var<T>]) -> Result<Var<T>>,
    inputs: &[Var<T>],
) -> Result<Recorded<T>> {
    let x = entry_points(inputs);
    let y = f(&x)?;
    if y.numel() != 1 {
        return Err(TapeError::NonScalarOutput {
            shape: y.shape().into(),
        });
    }
    let g = cotangent(std::slice::from_ref(&y), &x, None, true)?;
    Ok(Recorded { x, y, g })
}

fn zeros_like<T: Float>(x: &Var<T>) -> Var<T> {
    Var::constant(Tensor::zeros(x.shape()))
}

/// `J v` for the outputs' Jacobian J with respect to `wrt` and one tangent per
/// input, by the double-backward trick.
fn tangent<T: Float>(
    outputs: &[Var<T>],
    wrt: &[Var<T>],
    v: &[Var<T>],
    create_graph: bool,
) -> Result<Vec<Var<T>>> {
    let dummies: Vec<Var<T>> = outputs
        .iter()
        .map(|o| Var::parameter(Tensor::zeros(o.shape())))
        .collect();
    let vjps = cotangent(outputs, wrt, Some(&dummies), true)?;
    // Only the products that depend on u carry J; a constant one is zero.
    let (used, along): (Vec<Var<T>>, Vec<Var<T>>) = vjps
        .into_iter()
        .zip(v.iter().cloned())
        .filter(|(g, _)| g.requires_grad())
        .unzip();
    cotangent(&used, &dummies, Some(&along), create_graph)
}

/// Checks that `v` holds one tensor per var of `against`, each of its shape.
fn check_vectors<T: Float>(op: &'static str, v: &[Var<T>], against: &[Var<T>]) -> Result<()> {
    if v.len() != against.len() {
        return Err(TapeError::InvalidArgument {
            op,
            name: "v",
            value: format!("{} tensors", v.len()),
            reason: format!("one per input is needed ({})", against.len()),
        });
    }
    for (vi, x) in v.iter().zip(against) {
        if vi.shape() != x.shape() {
            return Err(TapeError::ShapeMismatch {
                op,
                lhs: x.shape().into(),
                rhs: vi.shape().into(),
            });
        }
    }
    Ok(())
}

/// Detaches the results unless they are to be differentiated again.
fn finish<T: Float>(vars: Vec<Var<T>>, create_graph: bool) -> Vec<Var<T>> {
    if create_graph {
        vars
    } else {
        vars.iter().map(Var::detach).collect()
    }
}

/// `(f(x), vᵀJ)`: the output and the vector-Jacobian product of `f` at
/// `inputs` for a cotangent `v` of the output's shape, one part per input
/// (`vᵀ ∂f/∂xᵢ`, shaped as xᵢ). One backward pass.
///
/// ```
/// use tapegrad_tape::{Tensor, Var, functional::vjp};
/// // f(x) = x ⊙ x, J = diag(2x)
/// let x = Var::constant(Tensor::from_vec(vec![1.0f64, 3.0], &[2]).unwrap());
/// let v = Var::constant(Tensor::from_vec(vec![1.0, 0.5], &[2]).unwrap());
/// let (y, vj) = vjp(|x| x[0].mul(&x[0]), &[x], &v, false).unwrap();
/// assert_eq!(y.value().data(), &[1.0, 9.0]);
/// assert_eq!(vj[0].value().data(), &[2.0, 3.0]);
/// ```
pub fn vjp<T: Float>(
    f: impl Fn(&[Var<T>]) -> Result<Var<T>>,
    inputs: &[Var<T>],
    v: &Var<T>,
    create_graph: bool,
) -> Result<(Var<T>, Vec<Var<T>>)> {
    with_grad_mode(true, || {
        let x = entry_points(inputs);
        let y = f(&x)?;
        check_vectors("vjp", std::slice::from_ref(v), std::slice::from_ref(&y))?;
        let vj = vjp_of(&y, &x, v, create_graph)?;
        Ok((y.detach(), vj))
    })
}

/// `(f(x), J v)`: the output and the Jacobian-vector product of `f` at
/// `inputs` for one tangent per input (`Σᵢ ∂f/∂xᵢ vᵢ`, shaped as the
/// output), by the double-backward trick (two backward passes).
///
/// ```
/// use tapegrad_tape::{Tensor, Var, functional::jvp};
/// // f(x, y) = x ⊙ y: J v = y ⊙ vₓ + x ⊙ v_y
/// let x = Var::constant(Tensor::from_vec(vec![1.0f64, 2.0], &[2]).unwrap());
/// let y = Var::constant(Tensor::from_vec(vec![3.0, 4.0], &[2]).unwrap());
/// let ones = Var::constant(Tensor::ones(&[2]));
/// let (_, jv) = jvp(|v| v[0].mul(&v[1]), &[x, y], &[ones.clone(), ones], false).unwrap();
/// assert_eq!(jv.value().data(), &[4.0, 6.0]);
/// ```
pub fn jvp<T: Float>(
    f: impl Fn(&[Var<T>]) -> Result<Var<T>>,
    inputs: &[Var<T>],
    v: &[Var<T>],
    create_graph: bool,
) -> Result<(Var<T>, Var<T>)> {
    with_grad_mode(true, || {
        check_vectors("jvp", v, inputs)?;
        let x = entry_points(inputs);
        let y = f(&x)?;
        let jv = jvp_of(&y, &x, v, create_graph)?;
        Ok((y.detach(), jv))
    })
}

/// `(f(x), vᵀH)` for a scalar `f`: the vector-Hessian product, one part per
/// input (`Σⱼ vⱼᵀ ∂²f/∂xⱼ∂xᵢ`), as the gradient of `⟨∇f, v⟩` (two backward
/// passes). Equal to [`hvp`] where f is twice continuously differentiable.
///
/// ```
/// use tapegrad_tape::{Tensor, Var, functional::vhp};
/// // f(x) = Σ x³, H = diag(6x)
/// let x = Var::constant(Tensor::from_vec(vec![1.0f64, 2.0], &[2]).unwrap());
/// let v = Var::constant(Tensor::ones(&[2]));
/// let (f, vh) = vhp(|x| Ok(x[0].mul(&x[0])?.mul(&x[0])?.sum()), &[x], &[v], false).unwrap();
/// assert_eq!(f.item().unwrap(), 9.0);
/// assert_eq!(vh[0].value().data(), &[6.0, 12.0]);
/// ```
pub fn vhp<T: Float>(
    f: impl Fn(&[Var<T>]) -> Result<Var<T>>,
    inputs: &[Var<T>],
    v: &[Var<T>],
    create_graph: bool,
) -> Result<(Var<T>, Vec<Var<T>>)> {
    with_grad_mode(true, || {
        check_vectors("vhp", v, inputs)?;
        let Recorded { x, y, g } = recorded_gradient(f, inputs)?;
        let vh = cotangent(&g, &x, Some(v), create_graph)?;
        Ok((y.detach(), finish(vh, create_graph)))
    })
}

/// `(f(x), H v)` for a scalar `f`: the Hessian-vector product, one part per
/// input (`Σⱼ ∂²f/∂xᵢ∂xⱼ vⱼ`), as the Jacobian-vector product of the gradient
/// (the double-backward trick on ∇f: three backward passes, the last two
/// through recorded gradients).
///
/// ```
/// use tapegrad_tape::{Tensor, Var, functional::hvp};
/// // f(x, y) = Σ x² y: ∂²f/∂x² = 2y, ∂²f/∂x∂y = 2x, ∂²f/∂y² = 0
/// let x = Var::constant(Tensor::from_vec(vec![1.0f64], &[1]).unwrap());
/// let y = Var::constant(Tensor::from_vec(vec![3.0], &[1]).unwrap());
/// let f = |v: &[Var<f64>]| Ok(v[0].mul(&v[0])?.mul(&v[1])?.sum());
/// let ones = Var::constant(Tensor::ones(&[1]));
/// let (_, hv) = hvp(f, &[x, y], &[ones.clone(), ones], false).unwrap();
/// assert_eq!(hv[0].value().data(), &[8.0]); // 2y + 2x
/// assert_eq!(hv[1].value().data(), &[2.0]); // 2x + 0
/// ```
pub fn hvp<T: Float>(
    f: impl Fn(&[Var<T>]) -> Result<Var<T>>,
    inputs: &[Var<T>],
    v: &[Var<T>],
    create_graph: bool,
) -> Result<(Var<T>, Vec<Var<T>>)> {
    with_grad_mode(true, || {
        check_vectors("hvp", v, inputs)?;
        let Recorded { x, y, g } = recorded_gradient(f, inputs)?;
        let hv = tangent(&g, &x, v, create_graph)?;
        Ok((y.detach(), finish(hv, create_graph)))
    })
}

/// The Jacobian of `f` at `inputs`, one block per input: block i has the
/// shape of the output followed by the shape of xᵢ (`J[i][a.., b..] =
/// ∂f[a..]/∂xᵢ[b..]`). One backward pass per output element: for small
/// functions.
///
/// ```
/// use tapegrad_tape::{Tensor, Var, functional::jacobian};
/// let x = Var::constant(Tensor::from_vec(vec![1.0f64, 2.0], &[2]).unwrap());
/// let j = jacobian(|x| x[0].mul(&x[0]), &[x], false).unwrap();
/// assert_eq!(j[0].shape(), &[2, 2]);
/// assert_eq!(j[0].value().data(), &[2.0, 0.0, 0.0, 4.0]);
/// ```
pub fn jacobian<T: Float>(
    f: impl Fn(&[Var<T>]) -> Result<Var<T>>,
    inputs: &[Var<T>],
    create_graph: bool,
) -> Result<Vec<Var<T>>> {
    with_grad_mode(true, || {
        let x = entry_points(inputs);
        let y = f(&x)?;
        let blocks = jacobian_of(&y, &x, create_graph)?;
        Ok(finish(blocks, create_graph))
    })
}

/// The Hessian of a scalar `f` at `inputs`, one block per pair of inputs:
/// block (i, j) has the shape of xᵢ followed by that of xⱼ
/// (`∂²f/∂xᵢ∂xⱼ`). The Jacobian of the recorded gradient: one backward pass
/// per input element.
///
/// ```
/// use tapegrad_tape::{Tensor, Var, functional::hessian};
/// // f(x) = Σ x³, H = diag(6x)
/// let x = Var::constant(Tensor::from_vec(vec![1.0f64, 3.0], &[2]).unwrap());
/// let f = |v: &[Var<f64>]| Ok(v[0].mul(&v[0])?.mul(&v[0])?.sum());
/// let h = hessian(f, &[x], false).unwrap();
/// assert_eq!(h[0][0].value().data(), &[6.0, 0.0, 0.0, 18.0]);
/// ```
pub fn hessian<T: Float>(
    f: impl Fn(&[Var<T>]) -> Result<Var<T>>,
    inputs: &[Var<T>],
    create_graph: bool,
) -> Result<Vec<Vec<Var<T>>>> {
    with_grad_mode(true, || {
        let Recorded { x, g, .. } = recorded_gradient(f, inputs)?;
        g.iter()
            .map(|gi| Ok(finish(jacobian_of(gi, &x, create_graph)?, create_graph)))
            .collect()
    })
}

/// `J v` of an output already computed from `wrt` (parameters, say), one
/// tangent per var of `wrt`: the double-backward trick on the recorded graph,
/// which is kept. For a model whose parameters live inside it, where [`jvp`]
/// cannot substitute its own entry points.
///
/// ```
/// use tapegrad_tape::{Tensor, Var, functional::jvp_of};
/// let w = Var::parameter(Tensor::from_vec(vec![2.0f64, 3.0], &[2]).unwrap());
/// let y = w.mul(&w).unwrap(); // J = diag(2w)
/// let v = Var::constant(Tensor::ones(&[2]));
/// assert_eq!(jvp_of(&y, &[w], &[v], false).unwrap().value().data(), &[4.0, 6.0]);
/// ```
pub fn jvp_of<T: Float>(
    output: &Var<T>,
    wrt: &[Var<T>],
    v: &[Var<T>],
    create_graph: bool,
) -> Result<Var<T>> {
    check_vectors("jvp_of", v, wrt)?;
    with_grad_mode(true, || {
        let jv = tangent(std::slice::from_ref(output), wrt, v, create_graph)?;
        Ok(finish(jv, create_graph).remove(0))
    })
}

/// `vᵀJ` of an output already computed from `wrt`, one part per var of
/// `wrt` (zeros where unused); the graph is kept.
///
/// ```
/// use tapegrad_tape::{Tensor, Var, functional::vjp_of};
/// let w = Var::parameter(Tensor::from_vec(vec![2.0f64, 3.0], &[2]).unwrap());
/// let y = w.mul(&w).unwrap();
/// let v = Var::constant(Tensor::from_vec(vec![1.0, -1.0], &[2]).unwrap());
/// assert_eq!(vjp_of(&y, &[w], &v, false).unwrap()[0].value().data(), &[4.0, -6.0]);
/// ```
pub fn vjp_of<T: Float>(
    output: &Var<T>,
    wrt: &[Var<T>],
    v: &Var<T>,
    create_graph: bool,
) -> Result<Vec<Var<T>>> {
    check_vectors(
        "vjp_of",
        std::slice::from_ref(v),
        std::slice::from_ref(output),
    )?;
    let out = std::slice::from_ref(output);
    let vjp = cotangent(out, wrt, Some(std::slice::from_ref(v)), create_graph)?;
    Ok(finish(vjp, create_graph))
}

/// The blocks of `∂y/∂xᵢ`, shaped `y.shape ++ xᵢ.shape`: one vector-Jacobian
/// product per element of y, with the unit cotangents, stacked.
fn jacobian_of<T: Float>(y: &Var<T>, x: &[Var<T>], create_graph: bool) -> Result<Vec<Var<T>>> {
    let n = y.numel();
    let mut rows: Vec<Vec<Var<T>>> = vec![Vec::with_capacity(n); x.len()];
    if y.requires_grad() {
        for k in 0..n {
            let mut unit = Tensor::zeros(y.shape());
            unit.data_mut()[k] = T::ONE;
            let seed = Var::constant(unit);
            let row = cotangent(std::slice::from_ref(y), x, Some(&[seed]), create_graph)?;
            for (rows_i, r) in rows.iter_mut().zip(row) {
                rows_i.push(r);
            }
        }
    }
    x.iter()
        .zip(rows)
        .map(|(xi, rows_i)| {
            let shape: Vec<usize> = y.shape().iter().chain(xi.shape()).copied().collect();
            if rows_i.is_empty() {
                return Ok(Var::constant(Tensor::zeros(&shape)));
            }
            let refs: Vec<&Var<T>> = rows_i.iter().collect();
            Var::stack(&refs, 0)?.reshape(&shape)
        })
        .collect()
}
