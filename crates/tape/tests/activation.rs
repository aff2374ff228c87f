//! gradcheck and gradgradcheck of the activations (f64), on 0-d, size-1 and
//! batched shapes; the piecewise ones away from their kinks. A third order
//! through the derivative ops' own rules, and the f32 kernels beside f64.

mod common;

use common::{check_both, randn};
use tapegrad_tape::{GeluApproximate, GradOptions, Result, Tensor, Var, grad};

type Activation = fn(&Var<f64>) -> Var<f64>;
type Activation32 = fn(&Var<f32>) -> Var<f32>;

/// The smooth ones, checked anywhere.
fn smooth() -> Vec<(&'static str, Activation)> {
    vec![
        ("erf", |x| x.erf()),
        ("log_sigmoid", |x| x.log_sigmoid()),
        ("gelu", |x| x.gelu(GeluApproximate::None)),
        ("gelu_tanh", |x| x.gelu(GeluApproximate::Tanh)),
        ("silu", |x| x.silu()),
        ("softplus", |x| x.softplus(1.0, 20.0)),
        ("softplus_beta", |x| x.softplus(2.5, 20.0)),
        ("mish", |x| x.mish()),
    ]
}

/// The piecewise ones, with kinks at 0 (ELU, LeakyReLU), βx = threshold
/// (Softplus with β = 2, threshold 1: x = 0.5) and ±3 (Hardswish).
fn piecewise() -> Vec<(&'static str, Activation)> {
    vec![
        ("elu", |x| x.elu(1.0)),
        ("elu_alpha", |x| x.elu(0.7)),
        ("leaky_relu", |x| x.leaky_relu(0.01)),
        ("leaky_relu_steep", |x| x.leaky_relu(0.3)),
        ("softplus_threshold", |x| x.softplus(2.0, 1.0)),
        ("hardswish", |x| x.hardswish()),
        ("smooth_l1", |x| x.smooth_l1(1.0)),
        ("smooth_l1_beta", |x| x.smooth_l1(0.3)),
        ("huber", |x| x.huber(1.5)),
    ]
}

#[test]
fn smooth_activations_pass_gradcheck_and_gradgradcheck() {
    let shapes: [&[usize]; 4] = [&[], &[1], &[3, 1, 4], &[2, 5]];
    for (name, act) in smooth() {
        for (k, shape) in shapes.iter().enumerate() {
            let x = randn(shape, 7 + k as u64).scale(2.0);
            println!("{name} {shape:?}");
            check_both(|v| Ok(act(&v[0])), std::slice::from_ref(&x));
        }
    }
}

#[test]
fn piecewise_activations_pass_away_from_their_kinks() {
    let values = vec![
        -4.2, -3.3, -2.1, -0.6, -0.1, 0.2, 0.45, 0.6, 1.7, 2.8, 3.4, 5.0,
    ];
    let x = Tensor::from_vec(values, &[3, 4]).unwrap();
    for (name, act) in piecewise() {
        println!("{name}");
        check_both(|v| Ok(act(&v[0])), std::slice::from_ref(&x));
    }
}

/// The derivative ops have rules of their own: gradcheck of the first
/// derivative checks the second against the fused f′ kernel, and
/// gradgradcheck of it the third.
#[test]
fn third_derivatives_through_the_derivative_ops() {
    let x = randn(&[2, 3], 31).scale(1.5);
    for (name, act) in smooth() {
        let first = |v: &[Var<f64>]| -> Result<Var<f64>> {
            if !v[0].requires_grad() {
                return Ok(act(&v[0])); // gradgradcheck asks for the shape only
            }
            let y = act(&v[0]).sum();
            let opts = GradOptions {
                create_graph: true,
                ..Default::default()
            };
            let g = grad(&[y], std::slice::from_ref(&v[0]), None, opts)?;
            Ok(g[0].clone().expect("x has a gradient"))
        };
        println!("{name}");
        check_both(first, std::slice::from_ref(&x));
    }
}

/// f32 agrees with f64 to f32 rounding, value and gradient.
#[test]
fn f32_kernels_agree_with_f64() {
    let values: Vec<f64> = (0..40).map(|i| -6.0 + 0.3 * i as f64).collect();
    let f32s: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    let cases: Vec<(&str, Activation, Activation32)> = vec![
        ("erf", |x| x.erf(), |x| x.erf()),
        (
            "gelu",
            |x| x.gelu(GeluApproximate::None),
            |x| x.gelu(GeluApproximate::None),
        ),
        (
            "gelu_tanh",
            |x| x.gelu(GeluApproximate::Tanh),
            |x| x.gelu(GeluApproximate::Tanh),
        ),
        ("silu", |x| x.silu(), |x| x.silu()),
        (
            "softplus",
            |x| x.softplus(1.0, 20.0),
            |x| x.softplus(1.0, 20.0),
        ),
        ("elu", |x| x.elu(1.0), |x| x.elu(1.0)),
        ("leaky_relu", |x| x.leaky_relu(0.01), |x| x.leaky_relu(0.01)),
        ("mish", |x| x.mish(), |x| x.mish()),
        ("hardswish", |x| x.hardswish(), |x| x.hardswish()),
    ];
    for (name, wide, narrow) in cases {
        let x64 = Var::parameter(Tensor::from_vec(values.clone(), &[40]).unwrap());
        let x32 = Var::parameter(Tensor::from_vec(f32s.clone(), &[40]).unwrap());
        let (y64, y32) = (wide(&x64), narrow(&x32));
        y64.sum().backward().unwrap();
        y32.sum().backward().unwrap();
        let pairs = [
            (y64.value().data().to_vec(), y32.value().data().to_vec()),
            (
                x64.grad().unwrap().data().to_vec(),
                x32.grad().unwrap().data().to_vec(),
            ),
        ];
        for (want, got) in pairs {
            for (w, g) in want.iter().zip(&got) {
                let err = (w - f64::from(*g)).abs();
                assert!(err <= 1e-6 * (1.0 + w.abs()), "{name}: {w} vs {g}");
            }
        }
    }
}

/// xlogy with broadcasting, away from a = 0 and b ≤ 0.
#[test]
fn xlogy_passes_gradcheck_and_gradgradcheck() {
    let a = common::rand_in(&[2, 3], -2.0, 2.0, 41);
    let b = common::rand_in(&[3], 0.2, 3.0, 42);
    check_both(|v| v[0].xlogy(&v[1]), &[a.clone(), b.clone()]);
    check_both(|v| v[0].xlogy(&v[0]), std::slice::from_ref(&b));
}
