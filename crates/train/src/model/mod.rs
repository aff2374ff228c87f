//! The networks the program trains, with PyTorch's layer names and default
//! initialization: the MLP and the CNN as `Sequential` stacks, the ViT and
//! the row LSTM as modules of their own.

mod row_lstm;
mod vit;

pub use row_lstm::{LSTM_HIDDEN, RowLstm};
pub use vit::{Vit, VitConfig, VitPool};

use rand::SeedableRng;
use rand::rngs::StdRng;
use tapegrad_nn::{Conv2d, Flatten, Linear, MaxPool2d, Module, Relu, Sequential};

use super::config::ModelKind;
use super::error::{Result, TrainError};

/// The width of both hidden layers of [`mlp`].
pub const MLP_HIDDEN: usize = 512;

/// Images this tall or taller get the MNIST network of [`cnn`]; smaller ones the
/// one-block network.
pub const LARGE_IMAGE: usize = 16;

/// D → 512 → 512 → K: `Linear, ReLU, Linear, ReLU, Linear` (784-512-512-10 on MNIST).
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapegrad_nn::Module;
/// let net = tapegrad_train::mlp(64, 10, &mut StdRng::seed_from_u64(0));
/// let count: usize = net.parameters().iter().map(|p| p.numel()).sum();
/// assert_eq!(count, 64 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10);
/// ```
pub fn mlp(inputs: usize, classes: usize, rng: &mut StdRng) -> Sequential {
    Sequential::new()
        .push(Linear::new(inputs, MLP_HIDDEN, rng))
        .push(Relu)
        .push(Linear::new(MLP_HIDDEN, MLP_HIDDEN, rng))
        .push(Relu)
        .push(Linear::new(MLP_HIDDEN, classes, rng))
}

/// A CNN for `[C, H, W]` images and K classes.
///
/// - H, W ≥ 16 (MNIST): conv 5×5×32 → ReLU → max-pool 2 → conv 3×3×64 → ReLU →
///   max-pool 2 → linear (64·h·w → K); on 28×28 that is 1600 → 10.
/// - smaller (the 8×8 digits): conv 3×3×32 (padding 1) → ReLU → max-pool 2 →
///   linear (32·(H/2)·(W/2) → K).
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapegrad_nn::Module;
/// use tapegrad_tape::{Tensor, Var};
/// let net = tapegrad_train::cnn(&[1, 28, 28], 10, &mut StdRng::seed_from_u64(0)).unwrap();
/// let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias"]);
/// assert_eq!(net.named_parameters()[4].1.shape(), &[10, 1600]);
/// let y = net.forward(&Var::constant(Tensor::zeros(&[2, 1, 28, 28]))).unwrap();
/// assert_eq!(y.shape(), &[2, 10]);
/// ```
pub fn cnn(sample_shape: &[usize], classes: usize, rng: &mut StdRng) -> Result<Sequential> {
    let &[channels, h, w] = sample_shape else {
        return Err(TrainError::InvalidArgument {
            name: "--model",
            value: "cnn".into(),
            reason: format!("needs [C, H, W] images, got samples of shape {sample_shape:?}"),
        });
    };
    if h.min(w) >= LARGE_IMAGE {
        let (h, w) = ((h - 4) / 2 - 2, (w - 4) / 2 - 2);
        return Ok(Sequential::new()
            .push(Conv2d::new(channels, 32, 5, rng))
            .push(Relu)
            .push(MaxPool2d::new(2))
            .push(Conv2d::new(32, 64, 3, rng))
            .push(Relu)
            .push(MaxPool2d::new(2))
            .push(Flatten)
            .push(Linear::new(64 * (h / 2) * (w / 2), classes, rng)));
    }
    if h.min(w) < 2 {
        return Err(TrainError::InvalidArgument {
            name: "--model",
            value: "cnn".into(),
            reason: format!("images of {h}×{w} are too small to pool"),
        });
    }
    Ok(Sequential::new()
        .push(Conv2d::new(channels, 32, 3, rng).padding(1))
        .push(Relu)
        .push(MaxPool2d::new(2))
        .push(Flatten)
        .push(Linear::new(32 * (h / 2) * (w / 2), classes, rng)))
}

/// The network of `kind` for samples of `sample_shape`, initialized from `seed`.
///
/// ```
/// use tapegrad_train::{ModelKind, build_model};
/// let vit = build_model(ModelKind::Vit, &[1, 28, 28], 10, 0).unwrap();
/// assert_eq!(vit.named_parameters()[1].1.shape(), &[1, 50, 64]); // 7 × 7 patches and the class token
/// let lstm = build_model(ModelKind::Lstm, &[28, 28], 10, 0).unwrap();
/// assert_eq!(lstm.named_parameters()[0].1.shape(), &[4 * 128, 28]);
/// ```
pub fn build_model(
    kind: ModelKind,
    sample_shape: &[usize],
    classes: usize,
    seed: u64,
) -> Result<Box<dyn Module<f32>>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let refused = |name: &str, reason: String| TrainError::InvalidArgument {
        name: "--model",
        value: name.into(),
        reason,
    };
    Ok(match kind {
        ModelKind::Mlp => Box::new(mlp(sample_shape.iter().product(), classes, &mut rng)),
        ModelKind::Cnn => Box::new(cnn(sample_shape, classes, &mut rng)?),
        ModelKind::Vit => {
            let side = sample_shape.iter().skip(1).copied().min().unwrap_or(0);
            let config = VitConfig::for_side(side);
            Box::new(
                Vit::new(sample_shape, classes, config, &mut rng).map_err(|r| refused("vit", r))?,
            )
        }
        ModelKind::Lstm => Box::new(
            RowLstm::new(sample_shape, classes, LSTM_HIDDEN, 1, &mut rng)
                .map_err(|r| refused("lstm", r))?,
        ),
    })
}
