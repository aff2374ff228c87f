//! Multi-head attention, as `torch.nn.MultiheadAttention`, with PyTorch's
//! packed input projection (`in_proj_weight`, `in_proj_bias`) and `out_proj`.

use rand::Rng;
use tapegrad_tape::{AttentionMask, AttentionOptions, Float, Tensor, Var};

use crate::dropout::Dropout;
use crate::error::{NnError, Result};
use crate::init;
use crate::linear::Linear;
use crate::module::Module;
use crate::norm::debug_as_module;

/// The masks and flags of [`MultiheadAttention::attend`], PyTorch's defaults
/// by `Default` (no masks, weights not returned).
#[derive(Clone, Copy)]
pub struct MhaOptions<'a, T: Float> {
    /// `[N, S]`: a nonzero entry marks key s of sample n as padding, which no
    /// query attends to (PyTorch's `key_padding_mask`, True = ignore).
    pub key_padding_mask: Option<&'a Tensor<T>>,
    /// A mask on the scores, `[L, S]` or `[N, H, L, S]` (see
    /// [`AttentionMask`]: additive, or nonzero = may attend).
    pub attn_mask: Option<AttentionMask<'a, T>>,
    /// Query i attends to keys j ≤ i only (not together with `attn_mask`).
    pub is_causal: bool,
    /// Return the attention weights too.
    pub need_weights: bool,
    /// Average the returned weights over the heads (`[N, L, S]`), else
    /// `[N, H, L, S]`.
    pub average_attn_weights: bool,
}

impl<T: Float> Default for MhaOptions<'_, T> {
    fn default() -> Self {
        Self {
            key_padding_mask: None,
            attn_mask: None,
            is_causal: false,
            need_weights: false,
            average_attn_weights: true,
        }
    }
}

/// Attention with H heads of size d = E/H, as `torch.nn.MultiheadAttention`:
///
/// ```text
/// headₕ = softmax(Qₕ Kₕᵀ / √d + M) Vₕ,   Qₕ = q W_Qₕᵀ + b_Qₕ (likewise K, V)
/// out = concat(head₁, …, head_H) W_Oᵀ + b_O
/// ```
///
/// with W_Q, W_K, W_V packed in `in_proj_weight` `[3E, E]` (Xavier uniform)
/// and their biases in `in_proj_bias` `[3E]` (zeros), and the output
/// projection `out_proj` (`out_proj.weight` as a Linear's, `out_proj.bias`
/// zeros). Inputs are `[L, N, E]`, or `[N, L, E]` with
/// [`MultiheadAttention::batch_first`]. Dropout on the attention weights
/// applies in training mode, from the child `dropout`'s generator.
///
/// As a [`Module`], `forward(x)` is self-attention without masks.
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapegrad_nn::{Module, MhaOptions, MultiheadAttention};
/// use tapegrad_tape::{Tensor, Var};
/// let mha = MultiheadAttention::<f64>::new(8, 2, &mut StdRng::seed_from_u64(0)).unwrap().batch_first(true);
/// let names: Vec<String> = mha.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]);
/// let x = Var::constant(Tensor::ones(&[3, 5, 8]));
/// let opts = MhaOptions { need_weights: true, ..Default::default() };
/// let (y, w) = mha.attend(&x, &x, &x, opts).unwrap();
/// assert_eq!(y.shape(), &[3, 5, 8]);
/// assert_eq!(w.unwrap().shape(), &[3, 5, 5]);
/// ```
pub struct MultiheadAttention<T: Float = f32> {
    num_heads: usize,
    in_proj_weight: Var<T>,
    in_proj_bias: Option<Var<T>>,
    out_proj: Linear<T>,
    dropout: Dropout,
    batch_first: bool,
}

impl<T: Float> MultiheadAttention<T> {
    /// A layer of `num_heads` heads over `embed_dim` features, PyTorch's
    /// initialization, no dropout, sequence-first inputs. Errors when
    /// `num_heads` is 0 or does not divide `embed_dim`.
    pub fn new<R: Rng + ?Sized>(embed_dim: usize, num_heads: usize, rng: &mut R) -> Result<Self> {
        if num_heads == 0 || !embed_dim.is_multiple_of(num_heads) {
            return Err(NnError::InvalidArgument {
                op: "MultiheadAttention",
                name: "num_heads",
                value: num_heads.to_string(),
                reason: format!("must divide embed_dim = {embed_dim}"),
            });
        }
        let in_proj_weight =
            Var::parameter(init::xavier_uniform(&[3 * embed_dim, embed_dim], 1.0, rng)?);
        let out_proj = Linear::new(embed_dim, embed_dim, rng);
        if let Some(b) = out_proj.bias() {
            b.set_value(Tensor::zeros(&[embed_dim]))?;
        }
        Ok(Self {
            num_heads,
            in_proj_weight,
            in_proj_bias: Some(Var::parameter(Tensor::zeros(&[3 * embed_dim]))),
            out_proj,
            dropout: Dropout::new(0.0, 0)?,
            batch_first: false,
        })
    }

    /// Dropout with probability `p` on the attention weights in training,
    /// masks drawn from a generator seeded with `seed`.
    pub fn dropout(mut self, p: f64, seed: u64) -> Result<Self> {
        self.dropout = Dropout::new(p, seed)?;
        Ok(self)
    }

    /// Inputs and outputs `[N, L, E]` (`true`) or `[L, N, E]` (`false`, the
    /// default, as PyTorch's).
    pub fn batch_first(mut self, batch_first: bool) -> Self {
        self.batch_first = batch_first;
        self
    }

    /// Without the biases of the projections (PyTorch's `bias=False`).
    pub fn without_bias(mut self) -> Self {
        self.in_proj_bias = None;
        self.out_proj =
            Linear::from_parameters(self.out_proj.weight().clone(), None).expect("the same weight");
        self
    }

    fn embed_dim(&self) -> usize {
        self.in_proj_weight.shape()[1]
    }

    /// `x` `[N, L, E]` projected by rows `which·E .. (which+1)·E` of the packed
    /// weight, as `[N, H, L, d]`.
    fn project(&self, x: &Var<T>, which: usize, parts: usize) -> Result<Var<T>> {
        let e = self.embed_dim();
        let w = self.in_proj_weight.narrow(0, which * e, parts * e)?;
        let b = match &self.in_proj_bias {
            Some(b) => Some(b.narrow(0, which * e, parts * e)?),
            None => None,
        };
        let (n, l) = (x.shape()[0], x.shape()[1]);
        Ok(x.reshape(&[n * l, e])?
            .linear(&w, b.as_ref())?
            .reshape(&[n, l, parts * e])?)
    }

    /// `[N, L, parts·E]` split into `parts` tensors `[N, H, L, d]`.
    fn heads(&self, x: &Var<T>, parts: usize) -> Result<Vec<Var<T>>> {
        let (n, l, e, h) = (x.shape()[0], x.shape()[1], self.embed_dim(), self.num_heads);
        let split = x
            .reshape(&[n, l, parts, h, e / h])?
            .permute(&[2, 0, 3, 1, 4])?;
        (0..parts)
            .map(|i| Ok(split.narrow(0, i, 1)?.reshape(&[n, h, l, e / h])?))
            .collect()
    }

    /// Attention of `query` over `key` and `value`, with PyTorch's
    /// `MultiheadAttention.forward` masks; returns the output and, with
    /// `need_weights`, the attention weights (after dropout, as PyTorch).
    ///
    /// Errors: inputs not of rank 3, feature sizes not E, batch sizes or key
    /// and value lengths that differ, masks of other shapes.
    pub fn attend(
        &self,
        query: &Var<T>,
        key: &Var<T>,
        value: &Var<T>,
        opts: MhaOptions<'_, T>,
    ) -> Result<(Var<T>, Option<Var<T>>)> {
        let [q, k, v] = [query, key, value].map(|x| self.to_batch_first(x));
        let (q, k, v) = (q?, k?, v?);
        self.check_inputs(&q, &k, &v)?;
        let (n, l, s) = (q.shape()[0], q.shape()[1], k.shape()[1]);
        let (qh, kh, vh) = if query.same(key) && key.same(value) {
            let mut parts = self.heads(&self.project(&q, 0, 3)?, 3)?.into_iter();
            let mut next = || parts.next().expect("three parts");
            (next(), next(), next())
        } else {
            let one = |x: &Var<T>, which| -> Result<Var<T>> {
                Ok(self.heads(&self.project(x, which, 1)?, 1)?.remove(0))
            };
            (one(&q, 0)?, one(&k, 1)?, one(&v, 2)?)
        };
        let mask = self.combined_mask(&opts, n, l, s)?;
        let training = self.dropout.is_training() && self.dropout.p() > 0.0;
        let dropout = training.then(|| self.dropout.mask::<T>(&[n, self.num_heads, l, s]));
        let attn = AttentionOptions {
            mask: mask.as_ref().map(AttentionMask::Additive),
            is_causal: opts.is_causal && mask.is_none(),
            dropout_mask: dropout.as_ref(),
            scale: None,
        };
        let (heads, weights) = qh.scaled_dot_product_attention_with_weights(&kh, &vh, attn)?;
        let e = self.embed_dim();
        let merged = heads.permute(&[0, 2, 1, 3])?.reshape(&[n, l, e])?;
        let out = self.out_proj.forward(&merged)?;
        let out = if self.batch_first {
            out
        } else {
            out.transpose(0, 1)?
        };
        let weights = match (opts.need_weights, opts.average_attn_weights) {
            (false, _) => None,
            (true, true) => Some(weights.mean_axes(&[1], false)?),
            (true, false) => Some(weights),
        };
        Ok((out, weights))
    }

    fn to_batch_first(&self, x: &Var<T>) -> Result<Var<T>> {
        if x.ndim() != 3 {
            return Err(NnError::InvalidArgument {
                op: "MultiheadAttention",
                name: "input",
                value: format!("shape {:?}", x.shape()),
                reason: "must be [L, N, E] ([N, L, E] with batch_first)".into(),
            });
        }
        Ok(if self.batch_first {
            x.clone()
        } else {
            x.transpose(0, 1)?
        })
    }

    fn check_inputs(&self, q: &Var<T>, k: &Var<T>, v: &Var<T>) -> Result<()> {
        let e = self.embed_dim();
        let fits = [q, k, v]
            .iter()
            .all(|x| x.shape()[2] == e && x.shape()[0] == q.shape()[0])
            && k.shape()[1] == v.shape()[1];
        if fits {
            return Ok(());
        }
        Err(NnError::InvalidArgument {
            op: "MultiheadAttention",
            name: "query, key, value",
            value: format!("shapes {:?}, {:?}, {:?}", q.shape(), k.shape(), v.shape()),
            reason: format!("need E = {e}, one batch size, and as many values as keys"),
        })
    }

    /// The attention mask and the key padding as one additive mask
    /// `[N, 1 or H, L, S]` (or `[L, S]`), or `None` when neither is given.
    fn combined_mask(
        &self,
        opts: &MhaOptions<'_, T>,
        n: usize,
        l: usize,
        s: usize,
    ) -> Result<Option<Var<T>>> {
        if opts.is_causal && opts.attn_mask.is_some() {
            return Err(NnError::InvalidArgument {
                op: "MultiheadAttention",
                name: "is_causal",
                value: "true".into(),
                reason: "not together with attn_mask".into(),
            });
        }
        let minus_inf = |forbid: bool| if forbid { T::NEG_INFINITY } else { T::ZERO };
        let attn = match opts.attn_mask {
            None if opts.is_causal && opts.key_padding_mask.is_some() => {
                let data = (0..l * s).map(|k| minus_inf(k % s > k / s)).collect();
                Some(Var::constant(Tensor::from_vec(data, &[l, s])?))
            }
            None => None,
            Some(AttentionMask::Additive(m)) => Some(m.clone()),
            Some(AttentionMask::Allow(a)) => {
                Some(Var::constant(a.map(|v| minus_inf(v == T::ZERO))))
            }
        };
        let padding = match opts.key_padding_mask {
            None => None,
            Some(p) if p.shape() != [n, s] => {
                return Err(NnError::InvalidArgument {
                    op: "MultiheadAttention",
                    name: "key_padding_mask",
                    value: format!("shape {:?}", p.shape()),
                    reason: format!("must be [N, S] = [{n}, {s}]"),
                });
            }
            Some(p) => Some(Var::constant(
                p.map(|v| minus_inf(v != T::ZERO)).reshape(&[n, 1, 1, s])?,
            )),
        };
        Ok(match (attn, padding) {
            (Some(a), Some(p)) => Some(a.add(&p)?),
            (a, p) => a.or(p),
        })
    }
}

impl<T: Float> Module<T> for MultiheadAttention<T> {
    /// Self-attention of `x` without masks.
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        Ok(self.attend(x, x, x, MhaOptions::default())?.0)
    }

    fn visit_own_parameters(&self, visit: &mut dyn FnMut(&str, &Var<T>)) {
        visit("in_proj_weight", &self.in_proj_weight);
        if let Some(b) = &self.in_proj_bias {
            visit("in_proj_bias", b);
        }
    }

    fn visit_children(&self, visit: &mut dyn FnMut(&str, &dyn Module<T>)) {
        visit("out_proj", &self.out_proj);
        visit("dropout", &self.dropout);
    }
}

debug_as_module!(MultiheadAttention);
