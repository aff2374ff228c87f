//! Initialization: bounds, sample mean and variance within statistical
//! tolerance (5 standard errors), determinism.

use rand::{SeedableRng, rngs::StdRng};
use tapegrad_nn::init::{
    self, FanMode, Nonlinearity, kaiming_normal, kaiming_uniform, xavier_normal, xavier_uniform,
};
use tapegrad_nn::{Conv1d, Conv2d, ConvTranspose2d, Linear, Module, NnError};
use tapegrad_tape::Tensor;

/// (mean, variance) of the elements.
fn moments(t: &Tensor<f64>) -> (f64, f64) {
    let n = t.numel() as f64;
    let mean = t.data().iter().sum::<f64>() / n;
    let var = t.data().iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var)
}

/// Checks a U(−b, b) sample: inside the bounds, reaching near them, and with
/// mean 0 and variance b²/3 within 5 standard errors.
fn assert_uniform(what: &str, t: &Tensor<f64>, b: f64) {
    let n = t.numel() as f64;
    let max = t.data().iter().fold(0.0f64, |m, x| m.max(x.abs()));
    assert!(max <= b, "{what}: |x| = {max} beyond the bound {b}");
    assert!(
        max > 0.95 * b,
        "{what}: max |x| = {max}, far inside the bound {b}"
    );
    let (mean, var) = moments(t);
    let mean_se = b / 3f64.sqrt() / n.sqrt();
    assert!(mean.abs() < 5.0 * mean_se, "{what}: mean {mean}");
    // Var(x²) = E x⁴ − (E x²)² = b⁴/5 − b⁴/9 for U(−b, b).
    let var_se = (4.0 / 45.0f64).sqrt() * b * b / n.sqrt();
    assert!(
        (var - b * b / 3.0).abs() < 5.0 * var_se,
        "{what}: variance {var}, expected {}",
        b * b / 3.0
    );
}

/// Checks a N(0, std²) sample's mean and variance within 5 standard errors.
fn assert_normal(what: &str, t: &Tensor<f64>, std: f64) {
    let n = t.numel() as f64;
    let (mean, var) = moments(t);
    assert!(mean.abs() < 5.0 * std / n.sqrt(), "{what}: mean {mean}");
    let var_se = 2f64.sqrt() * std * std / n.sqrt();
    assert!(
        (var - std * std).abs() < 5.0 * var_se,
        "{what}: variance {var}, expected {}",
        std * std
    );
}

#[test]
fn linear_default_init_is_uniform_over_one_over_sqrt_fan_in() {
    let layer = Linear::<f64>::new(256, 512, &mut StdRng::seed_from_u64(1));
    let b = 1.0 / 16.0;
    assert_uniform("Linear weight", &layer.weight().value(), b);
    assert_uniform("Linear bias", &layer.bias().unwrap().value(), b);
}

#[test]
fn conv_default_init_uses_channels_times_kernel_as_fan_in() {
    let conv = Conv2d::<f64>::new(3, 64, 5, &mut StdRng::seed_from_u64(2));
    assert_eq!(conv.weight().shape(), &[64, 3, 5, 5]);
    let b = 1.0 / 75f64.sqrt();
    assert_uniform("Conv2d weight", &conv.weight().value(), b);
    let bias = conv.bias().unwrap().value();
    assert!(bias.data().iter().all(|x| x.abs() <= b));
    let rect = Conv2d::<f64>::new(2, 4, (3, 5), &mut StdRng::seed_from_u64(2));
    assert_eq!(rect.weight().shape(), &[4, 2, 3, 5]);
}

/// PyTorch's fan_in is weight.size(1) · Π kernel: the input channels of one
/// group for a convolution, the output channels of one group for a transposed
/// one (its weight is [in, out/groups, kh, kw]).
#[test]
fn grouped_and_transposed_convs_take_fan_in_from_the_weights_second_axis() {
    let mut rng = StdRng::seed_from_u64(3);
    let grouped = Conv2d::<f64>::grouped(64, 128, 3, 4, &mut rng).unwrap();
    assert_eq!(grouped.weight().shape(), &[128, 16, 3, 3]);
    let b = 1.0 / 144f64.sqrt();
    assert_uniform("grouped Conv2d weight", &grouped.weight().value(), b);
    assert_uniform("grouped Conv2d bias", &grouped.bias().unwrap().value(), b);

    let up = ConvTranspose2d::<f64>::grouped(96, 64, (3, 2), 2, &mut rng).unwrap();
    assert_eq!(up.weight().shape(), &[96, 32, 3, 2]);
    assert_eq!(up.bias().unwrap().shape(), &[64]);
    let b = 1.0 / 192f64.sqrt();
    assert_uniform("ConvTranspose2d weight", &up.weight().value(), b);
    let bias = up.bias().unwrap().value();
    assert!(bias.data().iter().all(|x| x.abs() <= b));
    // Not the input channels' 1/√(96·6): a bound that loose would be exceeded.
    let max = bias.data().iter().fold(0.0f64, |m, x| m.max(x.abs()));
    assert!(max > 1.0 / 576f64.sqrt(), "bias max {max}");

    let seq = Conv1d::<f64>::new(20, 64, 5, &mut rng);
    assert_eq!(seq.weight().shape(), &[64, 20, 5]);
    assert_uniform("Conv1d weight", &seq.weight().value(), 0.1);
}

#[test]
fn same_seed_same_weights_other_seed_other_weights() {
    let a = Linear::<f32>::new(10, 10, &mut StdRng::seed_from_u64(9));
    let b = Linear::<f32>::new(10, 10, &mut StdRng::seed_from_u64(9));
    let c = Linear::<f32>::new(10, 10, &mut StdRng::seed_from_u64(10));
    assert_eq!(a.weight().value(), b.weight().value());
    assert_ne!(a.weight().value(), c.weight().value());
    assert_eq!(a.parameters().len(), 2);
}

#[test]
fn xavier_bounds_and_moments() {
    let mut rng = StdRng::seed_from_u64(3);
    let gain = init::calculate_gain(Nonlinearity::Tanh);
    let u: Tensor<f64> = xavier_uniform(&[300, 200], gain, &mut rng).unwrap();
    assert_uniform("xavier_uniform", &u, gain * (6.0f64 / 500.0).sqrt());
    let n: Tensor<f64> = xavier_normal(&[300, 20, 3, 3], 1.0, &mut rng).unwrap();
    // fan_in = 20·9, fan_out = 300·9
    assert_normal("xavier_normal", &n, (2.0f64 / (180.0 + 2700.0)).sqrt());
}

#[test]
fn kaiming_bounds_and_moments() {
    let mut rng = StdRng::seed_from_u64(4);
    let u: Tensor<f64> =
        kaiming_uniform(&[400, 100], FanMode::FanIn, Nonlinearity::Relu, &mut rng).unwrap();
    assert_uniform("kaiming_uniform", &u, 2f64.sqrt() * (3.0f64 / 100.0).sqrt());
    let n: Tensor<f64> =
        kaiming_normal(&[400, 100], FanMode::FanOut, Nonlinearity::Relu, &mut rng).unwrap();
    assert_normal("kaiming_normal", &n, 2f64.sqrt() / 400f64.sqrt());
    let leaky = kaiming_uniform::<f64, _>(
        &[200, 50],
        FanMode::FanIn,
        Nonlinearity::LeakyRelu(5f64.sqrt()),
        &mut rng,
    )
    .unwrap();
    // a = √5 reproduces PyTorch's default bound 1/√fan_in.
    assert_uniform("kaiming_uniform(a = √5)", &leaky, 1.0 / 50f64.sqrt());
}

#[test]
fn gains_match_pytorch() {
    assert_eq!(init::calculate_gain(Nonlinearity::Linear), 1.0);
    assert_eq!(init::calculate_gain(Nonlinearity::Sigmoid), 1.0);
    assert_eq!(init::calculate_gain(Nonlinearity::Selu), 0.75);
    assert!(
        (init::calculate_gain(Nonlinearity::LeakyRelu(0.01)) - (2.0f64 / 1.0001).sqrt()).abs()
            < 1e-15
    );
}

#[test]
fn fans_need_two_axes_and_a_nonempty_fan() {
    let mut rng = StdRng::seed_from_u64(0);
    assert!(matches!(
        init::fans(&[5]),
        Err(NnError::InvalidArgument { name: "shape", .. })
    ));
    assert!(xavier_uniform::<f64, _>(&[5], 1.0, &mut rng).is_err());
    let err = kaiming_uniform::<f64, _>(&[4, 0], FanMode::FanIn, Nonlinearity::Relu, &mut rng)
        .unwrap_err();
    assert!(err.to_string().contains("FanIn is 0"), "{err}");
}
