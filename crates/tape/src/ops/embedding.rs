//! Embedding lookup: rows of a table picked by integer indices, as PyTorch's
//! `F.embedding`.

use crate::error::{Result, TapeError};
use crate::float::Float;
use crate::tensor::Tensor;
use crate::var::Var;

impl<T: Float> Var<T> {
    /// The rows `indices` of the table `self` `[num_embeddings, dim]`, shaped
    /// `index_shape + [dim]`, as PyTorch's `F.embedding(input, weight,
    /// padding_idx)`: `out[p, :] = W[indices[p], :]`.
    ///
    /// Gradient: `∂W[k, :] = Σ_{p : indices[p] = k} g[p, :]` (an index_add),
    /// except that the row `padding_idx` gets none: the positions that pick it
    /// pass no gradient, as in PyTorch (the row itself is read as it is).
    ///
    /// Errors: a table not of rank 2, `index_shape` not holding
    /// `indices.len()` elements, an index or `padding_idx` out of range.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let table = Var::parameter(Tensor::<f64>::arange(6).reshape(&[3, 2]).unwrap());
    /// let out = table.embedding(&[2, 0, 2, 1], &[2, 2], Some(1)).unwrap();
    /// assert_eq!(out.shape(), &[2, 2, 2]);
    /// assert_eq!(out.value().data(), &[4.0, 5.0, 0.0, 1.0, 4.0, 5.0, 2.0, 3.0]);
    /// out.sum().backward().unwrap();
    /// assert_eq!(table.grad().unwrap().data(), &[1.0, 1.0, 0.0, 0.0, 2.0, 2.0]);
    /// ```
    pub fn embedding(
        &self,
        indices: &[usize],
        index_shape: &[usize],
        padding_idx: Option<usize>,
    ) -> Result<Var<T>> {
        let op = "embedding";
        if self.ndim() != 2 {
            return Err(TapeError::InvalidShape {
                op,
                shape: self.shape().into(),
                reason: "the table must be [num_embeddings, embedding_dim]".into(),
            });
        }
        let (rows, dim) = (self.shape()[0], self.shape()[1]);
        if index_shape.iter().product::<usize>() != indices.len() {
            return Err(TapeError::DataLength {
                op,
                shape: index_shape.into(),
                expected: index_shape.iter().product(),
                got: indices.len(),
            });
        }
        if let Some(p) = padding_idx.filter(|&p| p >= rows) {
            return Err(TapeError::IndexOutOfRange {
                op,
                index: p,
                size: rows,
            });
        }
        let picked = self.index_select(0, indices)?;
        let picked = match padding_idx {
            Some(p) if indices.contains(&p) => {
                let keep: Vec<T> = (indices.iter())
                    .map(|&i| if i == p { T::ZERO } else { T::ONE })
                    .collect();
                let keep = Tensor::from_vec(keep, &[indices.len(), 1])?;
                picked.where_cond(&keep, &picked.detach())?
            }
            _ => picked,
        };
        let mut shape = index_shape.to_vec();
        shape.push(dim);
        picked.reshape(&shape)
    }
}
