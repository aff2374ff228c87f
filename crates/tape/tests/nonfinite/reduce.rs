//! Reductions with NaN and ±∞: sums, means, both max/min gradient rules,
//! logsumexp, and the positions of `argmax` / `argmin`.

use tapegrad_tape::{Result, Tensor, Var};

use crate::fixture::{Args, check_family};

/// `argmax` / `argmin` as a constant of positions (PyTorch's are integers).
fn positions(x: &Var<f64>, axis: isize, take_max: bool) -> Result<Var<f64>> {
    let value = x.value();
    let at = if take_max {
        value.argmax(axis)?
    } else {
        value.argmin(axis)?
    };
    let shape: Vec<usize> = match value.ndim() {
        0 => vec![],
        _ => {
            let mut s = value.shape().to_vec();
            s.remove(axis.rem_euclid(value.ndim() as isize) as usize);
            s
        }
    };
    let floats = at.into_iter().map(|p| p as f64).collect();
    Ok(Var::constant(Tensor::from_vec(floats, &shape)?))
}

fn dispatch(op: &str, x: &[Var<f64>], a: &Args<'_>) -> Option<Result<Var<f64>>> {
    let axes = || a.isizes("axes");
    Some(match op {
        "sum" => Ok(x[0].sum()),
        "sum_axes" => x[0].sum_axes(&axes(), a.bool("keepdim")),
        "mean" => Ok(x[0].mean()),
        "mean_axes" => x[0].mean_axes(&axes(), a.bool("keepdim")),
        "max" => x[0].max(),
        "min" => x[0].min(),
        "max_axes" => x[0].max_axes(&axes(), a.bool("keepdim")),
        "min_axes" => x[0].min_axes(&axes(), a.bool("keepdim")),
        "logsumexp" => Ok(x[0].logsumexp()),
        "logsumexp_axes" => x[0].logsumexp_axes(&axes(), a.bool("keepdim")),
        "argmax" => positions(&x[0], a.isize("axis"), true),
        "argmin" => positions(&x[0], a.isize("axis"), false),
        _ => return None,
    })
}

#[test]
fn reductions_match_pytorch_on_nan_and_infinity() {
    check_family("reduce", dispatch);
}
