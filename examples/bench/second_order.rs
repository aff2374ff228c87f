//! WGN: one Gauss–Newton–vector product against one gradient on the same
//! batch, for W1's MLP and W2's CNN (cross-entropy curvature, f32).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tapegrad::nn::{Module, OutputCurvature, Sequential, cross_entropy, gauss_newton_product};
use tapegrad::tape::{Tensor, Var};

use crate::{BoxError, Options, cnn, emit, mlp, timed_ms};

/// Times the gradient (forward, loss, backward) and one `G v` (forward and
/// the product) on `x`, and prints both and their ratio under `name_…`.
fn time_pair(name: &str, model: &Sequential, x: &Var<f32>, opts: &Options) -> Result<(), BoxError> {
    let mut rng = StdRng::seed_from_u64(1);
    let params = model.parameters();
    let labels: Vec<usize> = (0..x.shape()[0]).map(|_| rng.random_range(0..10)).collect();
    let v: Vec<Var<f32>> = params
        .iter()
        .map(|p| Var::constant(Tensor::rand_normal(p.shape(), 0.0, 1.0, &mut rng)))
        .collect();
    let mut failure: Option<BoxError> = None;
    let steps = opts.steps.min(30);
    let ms_grad = timed_ms(3, steps, || {
        let run = || -> Result<(), BoxError> {
            params.iter().for_each(Var::zero_grad);
            cross_entropy(&model.forward(x)?, &labels)?.backward()?;
            Ok(())
        };
        if let Err(e) = run() {
            failure.get_or_insert(e);
        }
    });
    let ms_gnvp = timed_ms(3, steps, || {
        let run = || -> Result<(), BoxError> {
            let z = model.forward(x)?;
            let curvature = OutputCurvature::SoftmaxCrossEntropy;
            gauss_newton_product(&z, &params, &v, curvature, 0.0)?;
            Ok(())
        };
        if let Err(e) = run() {
            failure.get_or_insert(e);
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    emit("WGN", &format!("{name}_ms_grad"), ms_grad);
    emit("WGN", &format!("{name}_ms_gnvp"), ms_gnvp);
    emit("WGN", &format!("{name}_gnvp_over_grad"), ms_gnvp / ms_grad);
    Ok(())
}

/// WGN on W1's MLP (batch 128) and W2's CNN (batch 64).
pub(crate) fn w_gauss_newton(opts: &Options) -> Result<(), BoxError> {
    let mut rng = StdRng::seed_from_u64(0);
    let model = mlp(&mut rng);
    let x = Var::constant(Tensor::rand_normal(&[128, 784], 0.0, 1.0, &mut rng));
    time_pair("mlp", &model, &x, opts)?;
    let model = cnn(&mut rng);
    let x = Var::constant(Tensor::rand_normal(&[64, 1, 28, 28], 0.0, 1.0, &mut rng));
    time_pair("cnn", &model, &x, opts)
}
