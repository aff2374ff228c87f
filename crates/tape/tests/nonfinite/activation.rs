//! The activations on NaN, ±∞, overflowing and tiny inputs, at their kinks,
//! and on ordinary values with an uneven seed: PyTorch's values and gradients.

use tapegrad_tape::{GeluApproximate, Result, Var};

use crate::fixture::{Args, check_family};

fn dispatch(op: &str, x: &[Var<f64>], a: &Args<'_>) -> Option<Result<Var<f64>>> {
    let x = &x[0];
    Some(Ok(match op {
        "erf" => x.erf(),
        "log_sigmoid" => x.log_sigmoid(),
        "gelu" => match a.opt_str("approximate") {
            Some("tanh") => x.gelu(GeluApproximate::Tanh),
            _ => x.gelu(GeluApproximate::None),
        },
        "silu" => x.silu(),
        "softplus" => x.softplus(a.f64("beta"), a.f64("threshold")),
        "elu" => x.elu(a.f64("alpha")),
        "leaky_relu" => x.leaky_relu(a.f64("slope")),
        "mish" => x.mish(),
        "hardswish" => x.hardswish(),
        _ => return None,
    }))
}

#[test]
fn activations_match_pytorch_on_nan_infinity_and_ordinary_values() {
    check_family("activation", dispatch);
}
