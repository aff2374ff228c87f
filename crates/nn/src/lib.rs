//! # tapegrad-nn
//!
//! Layers, losses and initialization on the tapegrad tape, with PyTorch's
//! layouts, defaults and parameter names, so that weights and numbers can be
//! compared with it and exchanged in the safetensors format.
//!
//! - [`Module`]: `forward`, `named_parameters` (`"0.weight"`, `"fc1.bias"`),
//!   `named_buffers` (non-trainable state, [`Buffer`]), `set_requires_grad`
//!   (freezing), `train`/`eval`; containers [`Sequential`], [`ModuleList`],
//!   [`ModuleDict`]; [`summary`] (layers, output shapes, parameter counts).
//! - Layers: [`Linear`], [`Conv1d`], [`Conv2d`] (stride, padding, dilation,
//!   groups), [`ConvTranspose2d`], [`MaxPool2d`], [`AvgPool2d`],
//!   [`AdaptiveAvgPool2d`], [`Flatten`], [`Dropout`], [`Dropout2d`],
//!   [`Embedding`]; normalization [`LayerNorm`], [`RmsNorm`], [`GroupNorm`],
//!   [`BatchNorm1d`], [`BatchNorm2d`]; attention [`MultiheadAttention`],
//!   [`TransformerEncoderLayer`], [`TransformerEncoder`]; recurrent [`Lstm`],
//!   [`Gru`]; activations
//!   [`Relu`], [`Sigmoid`], [`Tanh`], [`Gelu`], [`Silu`], [`Softplus`],
//!   [`Elu`], [`LeakyRelu`], [`Mish`], [`Hardswish`]; [`Identity`],
//!   [`Softmax`], [`LogSoftmax`]. Every module is `Debug` (its name,
//!   parameter shapes and children).
//! - Losses (the lecture's ξ): [`cross_entropy`] (fused with the log-softmax,
//!   stable, with PyTorch's options in [`cross_entropy_with`]), [`nll_loss`],
//!   [`mse_loss`], [`binary_cross_entropy`], [`binary_cross_entropy_with_logits`], [`l1_loss`], [`smooth_l1_loss`], [`huber_loss`], [`kl_div`],
//!   and the regularization term [`l2_regularization`].
//! - [`init`]: PyTorch's default, Xavier and Kaiming initializations.
//! - [`save_safetensors`] / [`load_safetensors`]; [`Generator`], the random
//!   generator of a layer (dropout), whose [`GeneratorState`] a checkpoint saves.
//!
//! ```
//! use rand::{SeedableRng, rngs::StdRng};
//! use tapegrad_nn::{cross_entropy, Linear, Module, Relu, Sequential};
//! use tapegrad_tape::{Tensor, Var};
//!
//! let mut rng = StdRng::seed_from_u64(0);
//! let model = Sequential::new()
//!     .push(Linear::new(4, 16, &mut rng))
//!     .push(Relu)
//!     .push(Linear::new(16, 3, &mut rng));
//! let x = Var::constant(Tensor::<f32>::rand_normal(&[8, 4], 0.0, 1.0, &mut rng));
//! let loss = cross_entropy(&model.forward(&x).unwrap(), &[0, 1, 2, 0, 1, 2, 0, 1]).unwrap();
//! loss.backward().unwrap();
//! assert!(model.parameters().iter().all(|p| p.grad().is_some()));
//! ```

mod activation;
mod attention;
mod batch_norm;
mod buffer;
mod container;
mod conv;
mod conv1d;
mod conv_transpose;
mod describe;
mod dropout;
mod embedding;
mod error;
mod gauss_newton;
mod generator;
pub mod init;
mod linear;
mod loss;
mod module;
mod norm;
mod pool;
mod recurrent;
mod sequential;
mod summary;
mod transformer;
mod weights;

pub use activation::{
    Elu, Flatten, Gelu, Hardswish, Identity, LeakyRelu, LogSoftmax, Mish, Relu, Sigmoid, Silu,
    Softmax, Softplus, Tanh,
};
pub use attention::{MhaOptions, MultiheadAttention};
pub use batch_norm::{BatchNorm1d, BatchNorm2d};
pub use buffer::{Buffer, BufferValue};
pub use container::{ModuleDict, ModuleList};
pub use conv::Conv2d;
pub use conv_transpose::ConvTranspose2d;
pub use conv1d::Conv1d;
pub use dropout::{Dropout, Dropout2d};
pub use embedding::Embedding;

pub use error::{LoadProblem, NnError, Result};
pub use gauss_newton::{OutputCurvature, gauss_newton_product};
pub use generator::{ChaCha12Rng, Generator, GeneratorState, ParseGeneratorStateError};
pub use linear::Linear;
pub use loss::{
    BceWithLogitsOptions, CrossEntropyOptions, KlReduction, NllLossOptions, Reduction,
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, cross_entropy_with,
    huber_loss, kl_div, l1_loss, l2_regularization, mse_loss, nll_loss, smooth_l1_loss,
};
pub use module::{IntoPair, Module};
pub use norm::{GroupNorm, LayerNorm, RmsNorm};
pub use pool::{AdaptiveAvgPool2d, AvgPool2d, MaxPool2d};
pub use recurrent::{Gru, Lstm, LstmState};
pub use sequential::Sequential;
pub use summary::{Summary, SummaryRow, summary};
pub use transformer::{
    EncoderLayerConfig, EncoderMasks, FeedForwardActivation, TransformerEncoder,
    TransformerEncoderLayer,
};
pub use weights::{load_safetensors, save_safetensors};
