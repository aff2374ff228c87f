//! Finite-difference checks of reverse-mode gradients, as `torch.autograd.gradcheck`
//! and `gradgradcheck`: central differences in f64, compared element by element
//! of the Jacobian with `|analytic − numeric| ≤ atol + rtol·|numeric|`.

use rand::{SeedableRng, rngs::StdRng};

use crate::engine::{GradOptions, grad};
use crate::error::{Result, TapeError};
use crate::tensor::Tensor;
use crate::var::{Var, no_grad};

/// Tolerances and step of the checks; the defaults are PyTorch's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradcheckOptions {
    /// Step of the central difference.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance.
    pub rtol: f64,
    /// Seed of the random output weights used by [`gradgradcheck`].
    pub seed: u64,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        Self {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
            seed: 0,
        }
    }
}

type MultiFn<'a> = dyn Fn(&[Var<f64>]) -> Result<Vec<Var<f64>>> + 'a;

/// Checks the gradient of `f` at `inputs` against central differences, for
/// every output element and every input element.
///
/// `f` receives the inputs as vars and returns one var of any shape. On a
/// mismatch the error names the output element, the input, its element and both
/// values.
///
/// ```
/// use tapegrad_tape::{gradcheck, GradcheckOptions, Tensor};
/// let x = Tensor::from_vec(vec![0.3, -1.2, 2.0], &[3]).unwrap();
/// gradcheck(|v| Ok(v[0].tanh().mul(&v[0])?), &[x], GradcheckOptions::default()).unwrap();
/// ```
pub fn gradcheck(
    f: impl Fn(&[Var<f64>]) -> Result<Var<f64>>,
    inputs: &[Tensor<f64>],
    opts: GradcheckOptions,
) -> Result<()> {
    check("gradcheck", &|v| Ok(vec![f(v)?]), inputs, opts)
}

/// Checks second derivatives: runs [`gradcheck`] on the function
/// `(x, v) ↦ ∂⟨v, f(x)⟩/∂x`, computed with the graph kept (`create_graph`), where
/// `v` are random output weights that are themselves differentiated.
///
/// ```
/// use tapegrad_tape::{gradgradcheck, GradcheckOptions, Tensor};
/// let x = Tensor::from_vec(vec![0.3, -1.2, 2.0], &[3]).unwrap();
/// gradgradcheck(|v| Ok(v[0].exp().mul(&v[0])?), &[x], GradcheckOptions::default()).unwrap();
/// ```
pub fn gradgradcheck(
    f: impl Fn(&[Var<f64>]) -> Result<Var<f64>>,
    inputs: &[Tensor<f64>],
    opts: GradcheckOptions,
) -> Result<()> {
    let out_shape: Vec<usize> = {
        let vars: Vec<Var<f64>> = inputs.iter().cloned().map(Var::constant).collect();
        no_grad(|| f(&vars))?.shape().to_vec()
    };
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let weights = Tensor::<f64>::rand_normal(&out_shape, 0.0, 1.0, &mut rng);
    let n = inputs.len();
    let first_order = |vars: &[Var<f64>]| -> Result<Vec<Var<f64>>> {
        let (xs, v) = vars.split_at(n);
        let y = f(xs)?;
        let wanted: Vec<Var<f64>> = xs.iter().filter(|x| x.requires_grad()).cloned().collect();
        let opts = GradOptions {
            create_graph: true,
            allow_unused: true,
            ..Default::default()
        };
        let mut grads = if y.requires_grad() && !wanted.is_empty() {
            grad(&[y], &wanted, Some(v), opts)?.into_iter()
        } else {
            vec![None; wanted.len()].into_iter()
        };
        Ok(xs
            .iter()
            .map(|x| {
                let g = if x.requires_grad() {
                    grads.next().flatten()
                } else {
                    None
                };
                g.unwrap_or_else(|| Var::constant(Tensor::zeros(x.shape())))
            })
            .collect())
    };
    let mut all_inputs = inputs.to_vec();
    all_inputs.push(weights);
    check("gradgradcheck", &first_order, &all_inputs, opts)
}

/// The outputs of `f`, flattened. The inputs are parameters and recording is on,
/// because the function checked by gradgradcheck itself takes a gradient.
fn flat_outputs(f: &MultiFn<'_>, inputs: &[Tensor<f64>]) -> Result<Vec<f64>> {
    let vars: Vec<Var<f64>> = inputs.iter().cloned().map(Var::parameter).collect();
    let outs = f(&vars)?;
    Ok(outs.iter().flat_map(|o| o.value().into_vec()).collect())
}

/// numeric[k][(i, j)]: ∂ output element k / ∂ element j of input i, by central differences.
fn numeric_jacobian(
    f: &MultiFn<'_>,
    inputs: &[Tensor<f64>],
    eps: f64,
) -> Result<Vec<Vec<Vec<f64>>>> {
    let mut columns = Vec::with_capacity(inputs.len());
    for i in 0..inputs.len() {
        let mut per_element = Vec::with_capacity(inputs[i].numel());
        for j in 0..inputs[i].numel() {
            let mut shifted = inputs.to_vec();
            let x = inputs[i].data()[j];
            shifted[i].data_mut()[j] = x + eps;
            let plus = flat_outputs(f, &shifted)?;
            shifted[i].data_mut()[j] = x - eps;
            let minus = flat_outputs(f, &shifted)?;
            per_element.push(
                plus.iter()
                    .zip(&minus)
                    .map(|(p, m)| (p - m) / (2.0 * eps))
                    .collect::<Vec<f64>>(),
            );
        }
        columns.push(per_element);
    }
    Ok(columns)
}

fn check(
    name: &'static str,
    f: &MultiFn<'_>,
    inputs: &[Tensor<f64>],
    opts: GradcheckOptions,
) -> Result<()> {
    let numeric = numeric_jacobian(f, inputs, opts.eps)?;
    let params: Vec<Var<f64>> = inputs.iter().cloned().map(Var::parameter).collect();
    let outputs = f(&params)?;
    let mut k = 0;
    for out in &outputs {
        for e in 0..out.numel() {
            let analytic = analytic_row(out, e, &params)?;
            for (i, row) in analytic.iter().enumerate() {
                for (j, &a) in row.iter().enumerate() {
                    let n = numeric[i][j][k];
                    if (a - n).abs() > opts.atol + opts.rtol * n.abs() || a.is_nan() != n.is_nan() {
                        return Err(TapeError::GradientMismatch {
                            check: name,
                            output: k,
                            input: i,
                            element: j,
                            analytic: a,
                            numeric: n,
                        });
                    }
                }
            }
            k += 1;
        }
    }
    Ok(())
}

/// ∂ out[e] / ∂ params, one vector per param (zeros where unused).
fn analytic_row(out: &Var<f64>, e: usize, params: &[Var<f64>]) -> Result<Vec<Vec<f64>>> {
    let zeros = || params.iter().map(|p| vec![0.0; p.numel()]).collect();
    if !out.requires_grad() {
        return Ok(zeros());
    }
    let mut seed = Tensor::zeros(out.shape());
    seed.data_mut()[e] = 1.0;
    let opts = GradOptions {
        retain_graph: true,
        allow_unused: true,
        ..Default::default()
    };
    let grads = grad(
        std::slice::from_ref(out),
        params,
        Some(&[Var::constant(seed)]),
        opts,
    )?;
    Ok(grads
        .into_iter()
        .zip(params)
        .map(|(g, p)| g.map_or_else(|| vec![0.0; p.numel()], |g| g.value().into_vec()))
        .collect())
}
