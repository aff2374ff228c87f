//! Elementwise ops with NaN, ±∞ and ±0, and ∞ / NaN arriving as gradients.

use tapegrad_tape::{Result, Tensor, Var};

use crate::fixture::{Args, check_family};

fn dispatch(op: &str, x: &[Var<f64>], a: &Args<'_>) -> Option<Result<Var<f64>>> {
    Some(match op {
        "add" => x[0].add(&x[1]),
        "sub" => x[0].sub(&x[1]),
        "mul" => x[0].mul(&x[1]),
        "div" => x[0].div(&x[1]),
        "maximum" => x[0].maximum(&x[1]),
        "minimum" => x[0].minimum(&x[1]),
        "where" => x[0].where_cond(&a.tensor("cond"), &x[1]),
        "neg" => Ok(x[0].neg()),
        "add_scalar" => Ok(x[0].add_scalar(a.f64("s"))),
        "mul_scalar" => Ok(x[0].mul_scalar(a.f64("s"))),
        "rsub_scalar" => Ok(x[0].rsub_scalar(a.f64("s"))),
        "div_scalar" => Ok(&x[0] / a.f64("s")),
        "rdiv_scalar" => Ok(x[0].rdiv_scalar(a.f64("s"))),
        "exp" => Ok(x[0].exp()),
        "log" => Ok(x[0].log()),
        "sqrt" => Ok(x[0].sqrt()),
        "powf" => Ok(x[0].powf(a.f64("p"))),
        "abs" => Ok(x[0].abs()),
        "relu" => Ok(x[0].relu()),
        "sigmoid" => Ok(x[0].sigmoid()),
        "tanh" => Ok(x[0].tanh()),
        "clamp" => Ok(x[0].clamp(a.opt_f64("min"), a.opt_f64("max"))),
        _ => return None,
    })
}

#[test]
fn elementwise_ops_match_pytorch_on_nan_and_infinity() {
    check_family("elementwise", dispatch);
}

/// The f32 ReLU kernels (forward, and the in-place backward of a plain
/// backward pass) let NaN through as the f64 ones do, on a tensor large enough
/// for the parallel loops.
#[test]
fn relu_f32_propagates_nan_and_passes_its_gradient() {
    let n = tapegrad_tape::tensor::PAR_THRESHOLD + 3;
    let data: Vec<f32> = (0..n)
        .map(|i| match i % 4 {
            0 => f32::NAN,
            1 => -1.0,
            2 => 0.0,
            _ => 2.0,
        })
        .collect();
    let x = Var::parameter(Tensor::from_vec(data, &[n]).unwrap());
    let y = x.relu();
    y.sum().backward().unwrap();
    let (value, grad) = (y.value(), x.grad().unwrap());
    for i in 0..n {
        let (v, g) = (value.data()[i], grad.data()[i]);
        match i % 4 {
            0 => assert!(v.is_nan() && g == 1.0, "NaN at {i}: {v}, {g}"),
            1 | 2 => assert!(v == 0.0 && g == 0.0, "non-positive at {i}: {v}, {g}"),
            _ => assert!(v == 2.0 && g == 1.0, "positive at {i}: {v}, {g}"),
        }
    }
}

/// `where` on the parallel path: the side not picked, all NaN, reaches
/// neither the result nor the gradient of the picked side.
#[test]
fn where_on_large_tensors_selects_without_arithmetic() {
    let n = tapegrad_tape::tensor::PAR_THRESHOLD * 2 + 5;
    let cond = Tensor::from_vec((0..n).map(|i| (i % 2) as f64).collect(), &[n]).unwrap();
    let a = Var::parameter(Tensor::from_vec((0..n).map(|i| i as f64).collect(), &[n]).unwrap());
    let b = Var::parameter(Tensor::full(&[n], f64::NAN));
    let y = a.where_cond(&cond, &b).unwrap();
    let seed = Tensor::from_vec(
        (0..n)
            .map(|i| if i % 2 == 1 { 1.0 } else { f64::INFINITY })
            .collect(),
        &[n],
    )
    .unwrap();
    y.backward_from(&seed, false).unwrap();
    let (value, ga, gb) = (y.value(), a.grad().unwrap(), b.grad().unwrap());
    for i in 0..n {
        if i % 2 == 1 {
            assert_eq!(
                (value.data()[i], ga.data()[i], gb.data()[i]),
                (i as f64, 1.0, 0.0)
            );
        } else {
            assert!(value.data()[i].is_nan(), "at {i}");
            assert_eq!((ga.data()[i], gb.data()[i]), (0.0, f64::INFINITY), "at {i}");
        }
    }
}
