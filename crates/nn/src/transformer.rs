//! Transformer encoder blocks, as `torch.nn.TransformerEncoderLayer` and
//! `torch.nn.TransformerEncoder`, with PyTorch's child names (`self_attn`,
//! `linear1`, `linear2`, `norm1`, `norm2`; `layers.0.…`, `norm`).

use rand::Rng;
use tapegrad_tape::{AttentionMask, Float, GeluApproximate, Tensor, Var};

use crate::attention::{MhaOptions, MultiheadAttention};
use crate::dropout::Dropout;
use crate::error::{NnError, Result};
use crate::linear::Linear;
use crate::module::Module;
use crate::norm::{LayerNorm, debug_as_module};

/// The feed-forward activation of a transformer block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FeedForwardActivation {
    /// max(x, 0), PyTorch's default.
    #[default]
    Relu,
    /// The exact GELU, PyTorch's `activation="gelu"`.
    Gelu,
}

/// The masks of a transformer encoder's self-attention (see [`MhaOptions`]).
#[derive(Clone, Copy, Default)]
pub struct EncoderMasks<'a, T: Float> {
    /// `[L, S]` or `[N, H, L, S]`: PyTorch's `mask`.
    pub mask: Option<AttentionMask<'a, T>>,
    /// `[N, S]`, nonzero = padding: PyTorch's `src_key_padding_mask`.
    pub key_padding_mask: Option<&'a Tensor<T>>,
    /// Causal self-attention (not together with `mask`).
    pub is_causal: bool,
}

/// The settings of a [`TransformerEncoderLayer`], PyTorch's defaults by
/// [`EncoderLayerConfig::new`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EncoderLayerConfig {
    /// d, the model's width.
    pub d_model: usize,
    /// Attention heads (dividing `d_model`).
    pub nhead: usize,
    /// Width of the feed-forward hidden layer (2048).
    pub dim_feedforward: usize,
    /// Dropout probability everywhere (0.1).
    pub dropout: f64,
    /// ReLU or GELU (ReLU).
    pub activation: FeedForwardActivation,
    /// ε of both layer norms (1e-5).
    pub layer_norm_eps: f64,
    /// `[N, L, d]` inputs (`false`: `[L, N, d]`).
    pub batch_first: bool,
    /// Pre-norm (`true`) or post-norm (`false`, PyTorch's default).
    pub norm_first: bool,
    /// Biases in the linear layers, attention and layer norms (`true`).
    pub bias: bool,
}

impl EncoderLayerConfig {
    /// PyTorch's defaults for a block of width `d_model` with `nhead` heads.
    pub fn new(d_model: usize, nhead: usize) -> Self {
        Self {
            d_model,
            nhead,
            dim_feedforward: 2048,
            dropout: 0.1,
            activation: FeedForwardActivation::Relu,
            layer_norm_eps: 1e-5,
            batch_first: false,
            norm_first: false,
            bias: true,
        }
    }
}

/// One transformer encoder block, as `torch.nn.TransformerEncoderLayer`:
///
/// ```text
/// post-norm:  x ← norm1(x + SA(x)),        x ← norm2(x + FF(x))
/// pre-norm:   x ← x + SA(norm1(x)),        x ← x + FF(norm2(x))
/// SA(x) = dropout1(self_attn(x, x, x)),    FF(x) = dropout2(linear2(dropout(act(linear1(x)))))
/// ```
///
/// The four dropouts draw from generators seeded `seed`, `seed + 1`, … (the
/// attention's, `dropout`, `dropout1`, `dropout2`).
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapegrad_nn::{EncoderLayerConfig, Module, TransformerEncoderLayer};
/// use tapegrad_tape::{Tensor, Var};
/// let config = EncoderLayerConfig { dim_feedforward: 32, batch_first: true, norm_first: true, ..EncoderLayerConfig::new(16, 4) };
/// let block = TransformerEncoderLayer::<f32>::new(config, 0, &mut StdRng::seed_from_u64(0)).unwrap();
/// let y = block.forward(&Var::constant(Tensor::ones(&[2, 5, 16]))).unwrap();
/// assert_eq!(y.shape(), &[2, 5, 16]);
/// assert_eq!(block.named_parameters()[0].0, "self_attn.in_proj_weight");
/// ```
pub struct TransformerEncoderLayer<T: Float = f32> {
    self_attn: MultiheadAttention<T>,
    linear1: Linear<T>,
    dropout: Dropout,
    linear2: Linear<T>,
    norm1: LayerNorm<T>,
    norm2: LayerNorm<T>,
    dropout1: Dropout,
    dropout2: Dropout,
    activation: FeedForwardActivation,
    norm_first: bool,
}

impl<T: Float> TransformerEncoderLayer<T> {
    /// A block with PyTorch's initialization (the attention's, then the two
    /// linear layers', in that order from `rng`), in training mode.
    pub fn new<R: Rng + ?Sized>(
        config: EncoderLayerConfig,
        seed: u64,
        rng: &mut R,
    ) -> Result<Self> {
        let c = config;
        let mut self_attn = MultiheadAttention::new(c.d_model, c.nhead, rng)?
            .batch_first(c.batch_first)
            .dropout(c.dropout, seed)?;
        let mut linear1 = Linear::new(c.d_model, c.dim_feedforward, rng);
        let mut linear2 = Linear::new(c.dim_feedforward, c.d_model, rng);
        let norm = || LayerNorm::new(&[c.d_model]).eps(c.layer_norm_eps);
        let (mut norm1, mut norm2) = (norm(), norm());
        if !c.bias {
            self_attn = self_attn.without_bias();
            linear1 = linear1.without_bias();
            linear2 = linear2.without_bias();
            norm1 = norm1.without_bias();
            norm2 = norm2.without_bias();
        }
        Ok(Self {
            self_attn,
            linear1,
            dropout: Dropout::new(c.dropout, seed + 1)?,
            linear2,
            norm1,
            norm2,
            dropout1: Dropout::new(c.dropout, seed + 2)?,
            dropout2: Dropout::new(c.dropout, seed + 3)?,
            activation: c.activation,
            norm_first: c.norm_first,
        })
    }

    /// The block on `src` with the masks of its self-attention.
    pub fn encode(&self, src: &Var<T>, masks: EncoderMasks<'_, T>) -> Result<Var<T>> {
        let attend = |x: &Var<T>| -> Result<Var<T>> {
            let opts = MhaOptions {
                key_padding_mask: masks.key_padding_mask,
                attn_mask: masks.mask,
                is_causal: masks.is_causal,
                ..Default::default()
            };
            self.dropout1
                .forward(&self.self_attn.attend(x, x, x, opts)?.0)
        };
        let x = src;
        if self.norm_first {
            let x = x.add(&attend(&self.norm1.forward(x)?)?)?;
            Ok(x.add(&self.feed_forward(&self.norm2.forward(&x)?)?)?)
        } else {
            let x = self.norm1.forward(&x.add(&attend(x)?)?)?;
            self.norm2.forward(&x.add(&self.feed_forward(&x)?)?)
        }
    }

    fn feed_forward(&self, x: &Var<T>) -> Result<Var<T>> {
        let h = self.linear1.forward(x)?;
        let h = match self.activation {
            FeedForwardActivation::Relu => h.relu(),
            FeedForwardActivation::Gelu => h.gelu(GeluApproximate::None),
        };
        let h = self.linear2.forward(&self.dropout.forward(&h)?)?;
        self.dropout2.forward(&h)
    }
}

impl<T: Float> Module<T> for TransformerEncoderLayer<T> {
    /// The block without masks.
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        self.encode(x, EncoderMasks::default())
    }

    fn visit_children(&self, visit: &mut dyn FnMut(&str, &dyn Module<T>)) {
        visit("self_attn", &self.self_attn);
        visit("linear1", &self.linear1);
        visit("dropout", &self.dropout);
        visit("linear2", &self.linear2);
        visit("norm1", &self.norm1);
        visit("norm2", &self.norm2);
        visit("dropout1", &self.dropout1);
        visit("dropout2", &self.dropout2);
    }
}

/// The blocks of an encoder, named `"0"`, `"1"`, … under `"layers"`.
struct EncoderLayers<T: Float>(Vec<TransformerEncoderLayer<T>>);

impl<T: Float> Module<T> for EncoderLayers<T> {
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        self.0
            .iter()
            .try_fold(x.clone(), |h, layer| layer.forward(&h))
    }

    fn visit_children(&self, visit: &mut dyn FnMut(&str, &dyn Module<T>)) {
        for (i, layer) in self.0.iter().enumerate() {
            visit(&i.to_string(), layer);
        }
    }
}

/// A stack of encoder blocks with an optional final layer norm, as
/// `torch.nn.TransformerEncoder(layer, num_layers, norm)`: parameters
/// `layers.0.self_attn.in_proj_weight`, …, `norm.weight`. PyTorch copies one
/// block `num_layers` times (equal initial weights); here each block is
/// built by `make_layer(i)`, so they may differ.
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapegrad_nn::{EncoderLayerConfig, LayerNorm, Module, TransformerEncoder, TransformerEncoderLayer};
/// use tapegrad_tape::{Tensor, Var};
/// let mut rng = StdRng::seed_from_u64(0);
/// let config = EncoderLayerConfig { dim_feedforward: 16, ..EncoderLayerConfig::new(8, 2) };
/// let encoder = TransformerEncoder::<f32>::new(2, |i| TransformerEncoderLayer::new(config, 10 * i as u64, &mut rng))
///     .unwrap()
///     .with_norm(LayerNorm::new(&[8]));
/// assert_eq!(encoder.forward(&Var::constant(Tensor::ones(&[5, 3, 8]))).unwrap().shape(), &[5, 3, 8]);
/// assert_eq!(encoder.named_parameters().last().unwrap().0, "norm.bias");
/// ```
pub struct TransformerEncoder<T: Float = f32> {
    layers: EncoderLayers<T>,
    norm: Option<LayerNorm<T>>,
}

impl<T: Float> TransformerEncoder<T> {
    /// `num_layers` blocks, block i made by `make_layer(i)`; errors from it are
    /// passed on, and zero layers are refused.
    pub fn new(
        num_layers: usize,
        make_layer: impl FnMut(usize) -> Result<TransformerEncoderLayer<T>>,
    ) -> Result<Self> {
        if num_layers == 0 {
            return Err(NnError::InvalidArgument {
                op: "TransformerEncoder",
                name: "num_layers",
                value: "0".into(),
                reason: "an encoder has at least one layer".into(),
            });
        }
        let layers = (0..num_layers)
            .map(make_layer)
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            layers: EncoderLayers(layers),
            norm: None,
        })
    }

    /// A layer norm after the last block (PyTorch's `norm`, needed with
    /// pre-norm blocks).
    pub fn with_norm(mut self, norm: LayerNorm<T>) -> Self {
        self.norm = Some(norm);
        self
    }

    /// The blocks in order.
    pub fn layers(&self) -> &[TransformerEncoderLayer<T>] {
        &self.layers.0
    }

    /// Every block on `src` with the same masks, then the norm.
    pub fn encode(&self, src: &Var<T>, masks: EncoderMasks<'_, T>) -> Result<Var<T>> {
        let mut x = src.clone();
        for layer in &self.layers.0 {
            x = layer.encode(&x, masks)?;
        }
        match &self.norm {
            Some(norm) => norm.forward(&x),
            None => Ok(x),
        }
    }
}

impl<T: Float> Module<T> for TransformerEncoder<T> {
    /// The encoder without masks.
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        self.encode(x, EncoderMasks::default())
    }

    fn visit_children(&self, visit: &mut dyn FnMut(&str, &dyn Module<T>)) {
        visit("layers", &self.layers);
        if let Some(norm) = &self.norm {
            visit("norm", norm);
        }
    }
}

debug_as_module!(TransformerEncoderLayer, TransformerEncoder);
