//! A lookup table of learned vectors, as `torch.nn.Embedding`.

use rand::Rng;
use tapegrad_tape::{Float, Var};

use crate::error::{NnError, Result};
use crate::init;
use crate::module::Module;
use crate::norm::debug_as_module;

/// Maps integer indices to rows of a table W `[num_embeddings, embedding_dim]`
/// (`weight`, initialized from N(0, 1) as PyTorch):
///
/// ```text
/// y[p, :] = W[i_p, :]
/// ```
///
/// The output has the indices' shape with `embedding_dim` appended. With a
/// `padding_idx`, that row starts at zero and never receives a gradient.
///
/// As a [`Module`] the input is a var of integer values (PyTorch's `LongTensor`
/// held as floats, exact below 2²⁴ in f32); [`Embedding::lookup`] takes the
/// indices directly.
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapegrad_nn::{Embedding, Module};
/// use tapegrad_tape::{Tensor, Var};
/// let emb = Embedding::<f64>::new(10, 4, &mut StdRng::seed_from_u64(0)).padding_idx(0).unwrap();
/// let tokens = Var::constant(Tensor::from_vec(vec![3.0, 0.0, 9.0], &[1, 3]).unwrap());
/// let y = emb.forward(&tokens).unwrap();
/// assert_eq!(y.shape(), &[1, 3, 4]);
/// assert_eq!(&y.value().data()[4..8], &[0.0; 4]); // the padding row
/// assert_eq!(emb.lookup(&[3], &[1]).unwrap().value().data(), &y.value().data()[..4]);
/// ```
pub struct Embedding<T: Float = f32> {
    weight: Var<T>,
    padding_idx: Option<usize>,
}

impl<T: Float> Embedding<T> {
    /// A table of `num_embeddings` rows of `embedding_dim`, from N(0, 1).
    pub fn new<R: Rng + ?Sized>(num_embeddings: usize, embedding_dim: usize, rng: &mut R) -> Self {
        let w = init::normal(&[num_embeddings, embedding_dim], 1.0, rng);
        Self {
            weight: Var::parameter(w),
            padding_idx: None,
        }
    }

    /// A table over a given W `[num_embeddings, embedding_dim]` (PyTorch's
    /// `from_pretrained`); freeze it with [`Module::set_requires_grad`].
    pub fn from_parameters(weight: Var<T>) -> Result<Self> {
        if weight.ndim() != 2 {
            return Err(NnError::InvalidArgument {
                op: "Embedding",
                name: "weight",
                value: format!("shape {:?}", weight.shape()),
                reason: "must be [num_embeddings, embedding_dim]".into(),
            });
        }
        Ok(Self {
            weight,
            padding_idx: None,
        })
    }

    /// Makes row `index` the padding row: zeroed now and given no gradient.
    /// Errors when the table has no such row.
    pub fn padding_idx(mut self, index: usize) -> Result<Self> {
        let rows = self.weight.shape()[0];
        if index >= rows {
            return Err(NnError::InvalidArgument {
                op: "Embedding",
                name: "padding_idx",
                value: index.to_string(),
                reason: format!("the table has {rows} rows"),
            });
        }
        let dim = self.weight.shape()[1];
        self.weight
            .update(|w| w[index * dim..][..dim].fill(T::ZERO));
        self.padding_idx = Some(index);
        Ok(self)
    }

    /// The table W.
    pub fn weight(&self) -> &Var<T> {
        &self.weight
    }

    /// The rows `indices`, shaped `index_shape + [embedding_dim]`.
    pub fn lookup(&self, indices: &[usize], index_shape: &[usize]) -> Result<Var<T>> {
        Ok(self
            .weight
            .embedding(indices, index_shape, self.padding_idx)?)
    }
}

impl<T: Float> Module<T> for Embedding<T> {
    /// Errors when an element of `x` is not a whole number in
    /// [0, num_embeddings).
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        let rows = self.weight.shape()[0];
        let indices = x.with_value(|t| {
            (t.data().iter())
                .map(|&v| {
                    let f = v.to_f64();
                    let whole = f >= 0.0 && f.fract() == 0.0 && f < rows as f64;
                    whole.then_some(f as usize).ok_or(f)
                })
                .collect::<std::result::Result<Vec<usize>, f64>>()
        });
        let indices = indices.map_err(|bad| NnError::InvalidArgument {
            op: "Embedding",
            name: "input",
            value: bad.to_string(),
            reason: format!("indices must be whole numbers in [0, {rows})"),
        })?;
        self.lookup(&indices, x.shape())
    }

    fn visit_own_parameters(&self, visit: &mut dyn FnMut(&str, &Var<T>)) {
        visit("weight", &self.weight);
    }
}

debug_as_module!(Embedding);
