//! Scaled dot-product attention, as PyTorch's
//! `F.scaled_dot_product_attention`, composed of differentiable ops (batched
//! products, a softmax, selections), so every order differentiates.

use crate::error::{Result, TapeError};
use crate::float::Float;
use crate::tensor::Tensor;
use crate::var::Var;

/// A mask on the attention scores `[…, L, S]` (broadcast to them).
#[derive(Clone, Copy)]
pub enum AttentionMask<'a, T: Float> {
    /// Added to the scores (−∞ forbids a pair; a learned bias may be a
    /// parameter and gets its gradient).
    Additive(&'a Var<T>),
    /// A nonzero entry lets the query attend to the key, 0 forbids it
    /// (PyTorch's boolean `attn_mask`, True = take part).
    Allow(&'a Tensor<T>),
}

/// The options of [`Var::scaled_dot_product_attention`], PyTorch's defaults
/// by `Default`: no mask, not causal, no dropout, scale 1/√E.
#[derive(Clone, Copy)]
pub struct AttentionOptions<'a, T: Float> {
    /// A mask on the scores.
    pub mask: Option<AttentionMask<'a, T>>,
    /// Query i attends to keys j ≤ i only (a mask may not be given too).
    pub is_causal: bool,
    /// Multiplies the attention weights after the softmax: 0 or 1/(1 − p)
    /// per element, drawn by the caller (the layer's generator), of the
    /// weights' shape `[…, L, S]`.
    pub dropout_mask: Option<&'a Tensor<T>>,
    /// The factor on Q Kᵀ; `None` for 1/√E.
    pub scale: Option<f64>,
}

impl<T: Float> Default for AttentionOptions<'_, T> {
    fn default() -> Self {
        Self {
            mask: None,
            is_causal: false,
            dropout_mask: None,
            scale: None,
        }
    }
}

/// 0 where a pair may attend and −∞ where it may not, from an allow mask,
/// broadcast to `shape` (a query with no key allowed is handled by the
/// caller).
fn forbidden_as_minus_inf<T: Float>(allow: &Tensor<T>, shape: &[usize]) -> Result<Tensor<T>> {
    Ok(allow.broadcast_to(shape)?.map(|a| {
        if a == T::ZERO {
            T::NEG_INFINITY
        } else {
            T::ZERO
        }
    }))
}

/// The causal allow mask `[L, S]`: 1 where j ≤ i.
fn causal<T: Float>(l: usize, s: usize) -> Tensor<T> {
    let data = (0..l * s)
        .map(|k| if k % s <= k / s { T::ONE } else { T::ZERO })
        .collect();
    Tensor::from_vec(data, &[l, s]).expect("L·S values")
}

/// 1 for each row of `scores` (`[…, S]` lanes) holding a finite value, 0
/// for a row that is −∞ throughout (a query allowed no key), shaped `[…, 1]`.
fn rows_with_a_key<T: Float>(scores: &Tensor<T>) -> Tensor<T> {
    let s = *scores.shape().last().unwrap_or(&1);
    let rows: Vec<T> = (scores.data().chunks(s.max(1)))
        .map(|row| {
            if row.iter().any(|&v| v != T::NEG_INFINITY) {
                T::ONE
            } else {
                T::ZERO
            }
        })
        .collect();
    let mut shape = scores.shape().to_vec();
    if let Some(last) = shape.last_mut() {
        *last = 1;
    }
    Tensor::from_vec(rows, &shape).expect("one value per row")
}

impl<T: Float> Var<T> {
    /// Attention of the queries `self` `[…, L, E]` over keys `[…, S, E]` and
    /// values `[…, S, Ev]`, as PyTorch's `F.scaled_dot_product_attention`:
    ///
    /// `A = softmax(scale · Q Kᵀ + M)`, `out = (A ⊙ D) V`, `[…, L, Ev]`,
    ///
    /// with M the additive mask (an allow mask or `is_causal` as 0 / −∞), D the
    /// dropout mask and scale 1/√E by default; batch axes broadcast. A query
    /// allowed no key gets weights 0 and output 0 (PyTorch's safe softmax),
    /// and no gradient.
    ///
    /// Gradients are those of the composition (`matmul_t`, `softmax`, `mul`,
    /// `where_cond`), each differentiable again.
    ///
    /// Errors: ranks below 2, E or S that differ between the operands, a mask
    /// that does not broadcast to `[…, L, S]`, a mask together with
    /// `is_causal`, a dropout mask of another shape, a scale not finite.
    ///
    /// ```
    /// use tapegrad_tape::{AttentionOptions, Tensor, Var};
    /// let q = Var::constant(Tensor::<f64>::zeros(&[1, 2, 4]));
    /// let k = Var::constant(Tensor::<f64>::ones(&[1, 3, 4]));
    /// let v = Var::constant(Tensor::<f64>::arange(6).reshape(&[1, 3, 2]).unwrap());
    /// // Equal scores: each query averages the values.
    /// let out = q.scaled_dot_product_attention(&k, &v, AttentionOptions::default()).unwrap();
    /// assert_eq!(out.value().data(), &[2.0, 3.0, 2.0, 3.0]);
    /// let causal = AttentionOptions { is_causal: true, ..Default::default() };
    /// let out = q.scaled_dot_product_attention(&k, &v, causal).unwrap();
    /// assert_eq!(out.value().data(), &[0.0, 1.0, 1.0, 2.0]); // query 0 sees key 0 only
    /// ```
    pub fn scaled_dot_product_attention(
        &self,
        key: &Var<T>,
        value: &Var<T>,
        options: AttentionOptions<'_, T>,
    ) -> Result<Var<T>> {
        Ok(self
            .scaled_dot_product_attention_with_weights(key, value, options)?
            .0)
    }

    /// [`Var::scaled_dot_product_attention`] that also returns the attention
    /// weights `[…, L, S]` (after dropout), as `MultiheadAttention` needs.
    pub fn scaled_dot_product_attention_with_weights(
        &self,
        key: &Var<T>,
        value: &Var<T>,
        options: AttentionOptions<'_, T>,
    ) -> Result<(Var<T>, Var<T>)> {
        let op = "scaled_dot_product_attention";
        check_operands(op, self, key, value)?;
        let e = *self.shape().last().expect("rank ≥ 2");
        let scale = options.scale.unwrap_or(1.0 / (e as f64).sqrt());
        if !scale.is_finite() {
            return Err(TapeError::InvalidArgument {
                op,
                name: "scale",
                value: scale.to_string(),
                reason: "must be finite".into(),
            });
        }
        let scores = self
            .matmul_t(key, false, true)?
            .mul_scalar(T::from_f64(scale));
        let shape = scores.shape().to_vec();
        let (l, s) = (shape[shape.len() - 2], shape[shape.len() - 1]);
        let scores = match (options.mask, options.is_causal) {
            (Some(_), true) => {
                return Err(TapeError::InvalidArgument {
                    op,
                    name: "is_causal",
                    value: "true".into(),
                    reason: "a mask may not be given with is_causal".into(),
                });
            }
            (None, false) => scores,
            (Some(AttentionMask::Additive(m)), false) => scores.add(m)?,
            (Some(AttentionMask::Allow(a)), false) => {
                scores.add(&Var::constant(forbidden_as_minus_inf(a, &shape)?))?
            }
            (None, true) => scores.add(&Var::constant(forbidden_as_minus_inf(
                &causal(l, s),
                &shape,
            )?))?,
        };
        let weights = safe_softmax(&scores)?;
        let weights = match options.dropout_mask {
            Some(d) if d.shape() != weights.shape() => {
                return Err(TapeError::ShapeMismatch {
                    op: "scaled_dot_product_attention (dropout_mask)",
                    lhs: weights.shape().into(),
                    rhs: d.shape().into(),
                });
            }
            Some(d) => weights.mul(&Var::constant(d.clone()))?,
            None => weights,
        };
        Ok((weights.matmul(value)?, weights))
    }
}

/// softmax over the last axis, with 0 for a row that is −∞ throughout: such
/// rows are replaced by zeros before the softmax (so nothing is NaN, in the
/// values or the gradients) and their weights set to 0 after.
fn safe_softmax<T: Float>(scores: &Var<T>) -> Result<Var<T>> {
    let has_key = scores.with_value(rows_with_a_key);
    if has_key.data().iter().all(|&k| k == T::ONE) {
        return scores.softmax(-1);
    }
    let zero = Var::scalar(T::ZERO);
    let finite = scores.where_cond(&has_key, &zero)?;
    finite.softmax(-1)?.where_cond(&has_key, &zero)
}

/// Refuses operands whose ranks, feature sizes or key counts disagree.
fn check_operands<T: Float>(op: &'static str, q: &Var<T>, k: &Var<T>, v: &Var<T>) -> Result<()> {
    let mismatch = |lhs: &Var<T>, rhs: &Var<T>| TapeError::ShapeMismatch {
        op,
        lhs: lhs.shape().into(),
        rhs: rhs.shape().into(),
    };
    if q.ndim() < 2 || k.ndim() < 2 || v.ndim() < 2 {
        return Err(TapeError::InvalidShape {
            op,
            shape: q.shape().into(),
            reason: "query, key and value must be [..., L, E], [..., S, E], [..., S, Ev]".into(),
        });
    }
    if q.shape().last() != k.shape().last() {
        return Err(mismatch(q, k));
    }
    if k.shape()[k.ndim() - 2] != v.shape()[v.ndim() - 2] {
        return Err(mismatch(k, v));
    }
    Ok(())
}
