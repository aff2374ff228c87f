//! A small Vision Transformer (`--model vit`).

use rand::Rng;
use tapegrad_nn::{
    Conv2d, EncoderLayerConfig, FeedForwardActivation, LayerNorm, Linear, Module,
    TransformerEncoder, TransformerEncoderLayer, init,
};
use tapegrad_tape::Var;

/// The shape of a [`Vit`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VitConfig {
    /// The side p of the square patches (dividing the image's height and width).
    pub patch: usize,
    /// d, the width of every token.
    pub d_model: usize,
    /// Attention heads (dividing `d_model`).
    pub heads: usize,
    /// Encoder blocks.
    pub depth: usize,
    /// Width of each block's feed-forward hidden layer.
    pub dim_feedforward: usize,
    /// How the tokens become one vector for the head.
    pub pool: VitPool,
}

/// How a [`Vit`] reads its encoder's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VitPool {
    /// A learned class token is prepended; the head reads its output.
    ClassToken,
    /// The head reads the mean over the patch tokens.
    Mean,
}

impl VitConfig {
    /// The network of `--model vit` for images whose shorter side is `side`:
    /// patches of 4 (2 below 16 pixels), d = 64, 4 heads, 4 blocks,
    /// feed-forward 128, a class token.
    pub fn for_side(side: usize) -> Self {
        Self {
            patch: if side >= super::LARGE_IMAGE { 4 } else { 2 },
            d_model: 64,
            heads: 4,
            depth: 4,
            dim_feedforward: 128,
            pool: VitPool::ClassToken,
        }
    }
}

/// A Vision Transformer on `[N, C, H, W]` images:
///
/// ```text
/// z⁰ = [c; P x] + E                  P: conv p×p, stride p (one token per patch), E: positions
/// zᵏ = block_k(zᵏ⁻¹)                 pre-norm: z + SA(LN(z)), then z + FF(LN(z)), FF with GELU
/// ŷ = head(LN(z^depth)[class token])  (or the mean over the tokens)
/// ```
///
/// c (`cls_token`, `[1, 1, d]`) and E (`pos_embed`, `[1, tokens, d]`) start
/// from N(0, 0.02²); the layers from PyTorch's defaults. Dropout is 0.
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapegrad_nn::Module;
/// use tapegrad_tape::{Tensor, Var};
/// use tapegrad_train::{Vit, VitConfig};
/// let vit = Vit::new(&[1, 8, 8], 10, VitConfig::for_side(8), &mut StdRng::seed_from_u64(0)).unwrap();
/// let logits = vit.forward(&Var::constant(Tensor::zeros(&[3, 1, 8, 8]))).unwrap();
/// assert_eq!(logits.shape(), &[3, 10]);
/// assert_eq!(vit.named_parameters()[1].1.shape(), &[1, 17, 64]); // 16 patches and the class token
/// ```
pub struct Vit {
    cls_token: Option<Var<f32>>,
    pos_embed: Var<f32>,
    patch_embed: Conv2d<f32>,
    encoder: TransformerEncoder<f32>,
    head: Linear<f32>,
}

impl Vit {
    /// The network for images of `sample_shape` `[C, H, W]` and `classes`
    /// classes; refuses a patch that does not tile the image, and what the
    /// encoder refuses (heads not dividing d).
    pub fn new<R: Rng + ?Sized>(
        sample_shape: &[usize],
        classes: usize,
        config: VitConfig,
        rng: &mut R,
    ) -> Result<Self, String> {
        let &[channels, h, w] = sample_shape else {
            return Err(format!(
                "needs [C, H, W] images, got samples of shape {sample_shape:?}"
            ));
        };
        let p = config.patch;
        if p == 0 || h % p != 0 || w % p != 0 {
            return Err(format!("patches of {p}×{p} do not tile {h}×{w} images"));
        }
        let d = config.d_model;
        let cls = matches!(config.pool, VitPool::ClassToken);
        let tokens = (h / p) * (w / p) + usize::from(cls);
        let block = EncoderLayerConfig {
            dim_feedforward: config.dim_feedforward,
            dropout: 0.0,
            activation: FeedForwardActivation::Gelu,
            batch_first: true,
            norm_first: true,
            ..EncoderLayerConfig::new(d, config.heads)
        };
        let patch_embed = Conv2d::new(channels, d, p, rng).stride(p);
        let encoder = TransformerEncoder::new(config.depth, |_| {
            TransformerEncoderLayer::new(block, 0, rng)
        })
        .map_err(|e| e.to_string())?
        .with_norm(LayerNorm::new(&[d]));
        Ok(Self {
            cls_token: cls.then(|| Var::parameter(init::normal(&[1, 1, d], 0.02, rng))),
            pos_embed: Var::parameter(init::normal(&[1, tokens, d], 0.02, rng)),
            patch_embed,
            encoder,
            head: Linear::new(d, classes, rng),
        })
    }

    /// The tokens z⁰ `[N, tokens, d]` of a batch of images.
    fn embed(&self, x: &Var<f32>) -> tapegrad_nn::Result<Var<f32>> {
        let patches = self.patch_embed.forward(x)?;
        let &[n, d, h, w] = patches.shape() else {
            unreachable!("a convolution returns [N, C, H, W]")
        };
        let tokens = patches.reshape(&[n, d, h * w])?.transpose(1, 2)?;
        let tokens = match &self.cls_token {
            Some(c) => Var::concat(&[&c.broadcast_to(&[n, 1, d])?, &tokens], 1)?,
            None => tokens,
        };
        Ok(tokens.add(&self.pos_embed)?)
    }
}

impl Module<f32> for Vit {
    fn forward(&self, x: &Var<f32>) -> tapegrad_nn::Result<Var<f32>> {
        let z = self.encoder.forward(&self.embed(x)?)?;
        let &[n, _, d] = z.shape() else {
            unreachable!("the encoder keeps [N, L, d]")
        };
        let pooled = match self.cls_token {
            Some(_) => z.narrow(1, 0, 1)?.reshape(&[n, d])?,
            None => z.mean_axes(&[1], false)?,
        };
        self.head.forward(&pooled)
    }

    fn visit_own_parameters(&self, visit: &mut dyn FnMut(&str, &Var<f32>)) {
        if let Some(c) = &self.cls_token {
            visit("cls_token", c);
        }
        visit("pos_embed", &self.pos_embed);
    }

    fn visit_children(&self, visit: &mut dyn FnMut(&str, &dyn Module<f32>)) {
        visit("patch_embed", &self.patch_embed);
        visit("encoder", &self.encoder);
        visit("head", &self.head);
    }

    fn layer_name(&self) -> &'static str {
        "Vit"
    }
}
