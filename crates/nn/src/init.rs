//! Weight initialization, as `torch.nn.init`. Every function draws from an
//! explicit generator, so a model is reproduced by reusing its seed.

use rand::Rng;
use tapegrad_tape::{Float, Tensor};

use crate::error::{NnError, Result};

/// The nonlinearity that follows a layer, for [`calculate_gain`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Nonlinearity {
    /// Identity, or a linear/convolution layer with nothing after it: gain 1.
    Linear,
    /// Sigmoid: gain 1.
    Sigmoid,
    /// tanh: gain 5/3.
    Tanh,
    /// ReLU: gain √2.
    Relu,
    /// Leaky ReLU with the given negative slope: gain √(2 / (1 + slope²)).
    LeakyRelu(f64),
    /// SELU: gain 3/4.
    Selu,
}

/// Which fan a Kaiming initialization preserves the variance of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FanMode {
    /// The forward pass (PyTorch's default).
    #[default]
    FanIn,
    /// The backward pass.
    FanOut,
}

/// The recommended gain for a nonlinearity, as `torch.nn.init.calculate_gain`.
///
/// ```
/// use tapegrad_nn::init::{calculate_gain, Nonlinearity};
/// assert_eq!(calculate_gain(Nonlinearity::Relu), 2f64.sqrt());
/// assert_eq!(calculate_gain(Nonlinearity::Tanh), 5.0 / 3.0);
/// // PyTorch's default Linear/Conv2d init is kaiming_uniform with a = √5:
/// assert!((calculate_gain(Nonlinearity::LeakyRelu(5f64.sqrt())) - (1.0f64 / 3.0).sqrt()).abs() < 1e-15);
/// ```
pub fn calculate_gain(nonlinearity: Nonlinearity) -> f64 {
    match nonlinearity {
        Nonlinearity::Linear | Nonlinearity::Sigmoid => 1.0,
        Nonlinearity::Tanh => 5.0 / 3.0,
        Nonlinearity::Relu => 2f64.sqrt(),
        Nonlinearity::LeakyRelu(slope) => (2.0 / (1.0 + slope * slope)).sqrt(),
        Nonlinearity::Selu => 0.75,
    }
}

/// (fan_in, fan_out) of a weight of shape `[out, in, k…]`: fan_in = in · Π k,
/// fan_out = out · Π k. Errors for fewer than two axes.
///
/// ```
/// use tapegrad_nn::init::fans;
/// assert_eq!(fans(&[10, 3, 5, 5]).unwrap(), (75, 250));
/// assert_eq!(fans(&[4, 7]).unwrap(), (7, 4));
/// ```
pub fn fans(shape: &[usize]) -> Result<(usize, usize)> {
    if shape.len() < 2 {
        return Err(NnError::InvalidArgument {
            op: "init::fans",
            name: "shape",
            value: format!("{shape:?}"),
            reason: "fan in and fan out need a weight with at least 2 axes".into(),
        });
    }
    let receptive: usize = shape[2..].iter().product();
    Ok((shape[1] * receptive, shape[0] * receptive))
}

/// Elements drawn from U(−bound, bound).
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// let t = tapegrad_nn::init::uniform::<f64, _>(&[100], 0.5, &mut StdRng::seed_from_u64(0));
/// assert!(t.data().iter().all(|x| x.abs() <= 0.5));
/// ```
pub fn uniform<T: Float, R: Rng + ?Sized>(shape: &[usize], bound: f64, rng: &mut R) -> Tensor<T> {
    Tensor::rand_uniform(shape, T::from_f64(-bound), T::from_f64(bound), rng)
}

/// Elements drawn from N(0, std²).
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// let t = tapegrad_nn::init::normal::<f64, _>(&[4], 0.0, &mut StdRng::seed_from_u64(0));
/// assert_eq!(t.data(), &[0.0; 4]);
/// ```
pub fn normal<T: Float, R: Rng + ?Sized>(shape: &[usize], std: f64, rng: &mut R) -> Tensor<T> {
    Tensor::rand_normal(shape, T::ZERO, T::from_f64(std), rng)
}

/// Xavier/Glorot uniform: U(−a, a) with a = gain · √(6 / (fan_in + fan_out)).
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// let w = tapegrad_nn::init::xavier_uniform::<f64, _>(&[20, 30], 1.0, &mut StdRng::seed_from_u64(0)).unwrap();
/// let a = (6.0f64 / 50.0).sqrt();
/// assert!(w.data().iter().all(|x| x.abs() <= a));
/// ```
pub fn xavier_uniform<T: Float, R: Rng + ?Sized>(
    shape: &[usize],
    gain: f64,
    rng: &mut R,
) -> Result<Tensor<T>> {
    let (fan_in, fan_out) = fans(shape)?;
    let bound = gain * (6.0 / (fan_in + fan_out) as f64).sqrt();
    Ok(uniform(shape, bound, rng))
}

/// Xavier/Glorot normal: N(0, std²) with std = gain · √(2 / (fan_in + fan_out)).
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// let w = tapegrad_nn::init::xavier_normal::<f64, _>(&[200, 300], 1.0, &mut StdRng::seed_from_u64(0)).unwrap();
/// let var = w.data().iter().map(|x| x * x).sum::<f64>() / 60_000.0;
/// assert!((var - 2.0 / 500.0).abs() < 2e-4);
/// ```
pub fn xavier_normal<T: Float, R: Rng + ?Sized>(
    shape: &[usize],
    gain: f64,
    rng: &mut R,
) -> Result<Tensor<T>> {
    let (fan_in, fan_out) = fans(shape)?;
    let std = gain * (2.0 / (fan_in + fan_out) as f64).sqrt();
    Ok(normal(shape, std, rng))
}

/// The fan chosen by `mode`, refusing an empty one (the bound would be infinite).
fn chosen_fan(op: &'static str, shape: &[usize], mode: FanMode) -> Result<usize> {
    let (fan_in, fan_out) = fans(shape)?;
    let fan = match mode {
        FanMode::FanIn => fan_in,
        FanMode::FanOut => fan_out,
    };
    if fan == 0 {
        return Err(NnError::InvalidArgument {
            op,
            name: "shape",
            value: format!("{shape:?}"),
            reason: format!("the {mode:?} is 0"),
        });
    }
    Ok(fan)
}

/// Kaiming/He uniform: U(−b, b) with b = gain · √(3 / fan), fan chosen by `mode`.
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapegrad_nn::init::{kaiming_uniform, FanMode, Nonlinearity};
/// let w = kaiming_uniform::<f64, _>(&[64, 32], FanMode::FanIn, Nonlinearity::Relu, &mut StdRng::seed_from_u64(0)).unwrap();
/// let b = 2f64.sqrt() * (3.0f64 / 32.0).sqrt();
/// assert!(w.data().iter().all(|x| x.abs() <= b));
/// ```
pub fn kaiming_uniform<T: Float, R: Rng + ?Sized>(
    shape: &[usize],
    mode: FanMode,
    nonlinearity: Nonlinearity,
    rng: &mut R,
) -> Result<Tensor<T>> {
    let fan = chosen_fan("init::kaiming_uniform", shape, mode)?;
    let bound = calculate_gain(nonlinearity) * (3.0 / fan as f64).sqrt();
    Ok(uniform(shape, bound, rng))
}

/// Kaiming/He normal: N(0, std²) with std = gain / √fan, fan chosen by `mode`.
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapegrad_nn::init::{kaiming_normal, FanMode, Nonlinearity};
/// let w = kaiming_normal::<f64, _>(&[100, 50], FanMode::FanOut, Nonlinearity::Linear, &mut StdRng::seed_from_u64(0)).unwrap();
/// assert_eq!(w.shape(), &[100, 50]);
/// ```
pub fn kaiming_normal<T: Float, R: Rng + ?Sized>(
    shape: &[usize],
    mode: FanMode,
    nonlinearity: Nonlinearity,
    rng: &mut R,
) -> Result<Tensor<T>> {
    let fan = chosen_fan("init::kaiming_normal", shape, mode)?;
    let std = calculate_gain(nonlinearity) / (fan as f64).sqrt();
    Ok(normal(shape, std, rng))
}

/// PyTorch's default for Linear and Conv2d: weight and bias from U(−b, b) with
/// b = 1/√fan_in (0 when fan_in is 0). For the weight this is kaiming_uniform
/// with a = √5: √(2/(1+5)) · √(3/fan_in) = 1/√fan_in.
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// let (w, b) = tapegrad_nn::init::default_weight_and_bias::<f64, _>(&[10, 4], 4, true, &mut StdRng::seed_from_u64(0));
/// assert!(w.data().iter().chain(b.unwrap().data()).all(|x| x.abs() <= 0.5));
/// ```
pub fn default_weight_and_bias<T: Float, R: Rng + ?Sized>(
    weight_shape: &[usize],
    fan_in: usize,
    bias: bool,
    rng: &mut R,
) -> (Tensor<T>, Option<Tensor<T>>) {
    let bound = default_bound(fan_in);
    let weight = uniform(weight_shape, bound, rng);
    let bias = bias.then(|| uniform(&weight_shape[..1], bound, rng));
    (weight, bias)
}

/// The bound b = 1/√fan_in of PyTorch's default initialization (0 when
/// fan_in is 0), for the layers whose bias is not `[weight.shape[0]]`
/// (a transposed convolution's weight is `[in, out/groups, kh, kw]`).
///
/// ```
/// assert_eq!(tapegrad_nn::init::default_bound(16), 0.25);
/// assert_eq!(tapegrad_nn::init::default_bound(0), 0.0);
/// ```
pub fn default_bound(fan_in: usize) -> f64 {
    if fan_in > 0 {
        1.0 / (fan_in as f64).sqrt()
    } else {
        0.0
    }
}
