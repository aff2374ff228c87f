//! Shape ops on the tape: permute, transpose, t, squeeze, unsqueeze, flatten,
//! concat, stack, narrow, index_select and gather, with the adjoints their
//! gradients need: pad_axis (of narrow), index_add (of index_select) and
//! scatter_add (of gather). Each pair is closed under differentiation (the
//! gradient of one is the other), so rules of every order stay within them.

use smallvec::smallvec;

use super::elementwise::single;
use super::{Ctx, Grads};
use crate::error::{Result, TapeError};
use crate::float::Float;
use crate::shape::{self, Shape, normalize_axis};
use crate::tensor::Tensor;
use crate::var::Var;

impl<T: Float> Var<T> {
    /// The axes reordered: output axis d is input axis `perm[d]`, as
    /// `torch.permute`. ∂x = permute(g, perm⁻¹). Errors unless `perm` lists each
    /// axis once.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::<f64>::arange(6).reshape(&[1, 2, 3]).unwrap());
    /// let y = x.permute(&[2, 0, 1]).unwrap();
    /// assert_eq!(y.shape(), &[3, 1, 2]);
    /// assert_eq!(y.value().data(), &[0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    /// ```
    pub fn permute(&self, perm: &[usize]) -> Result<Var<T>> {
        check_permutation("permute", perm, self.shape())?;
        if perm.iter().enumerate().all(|(d, &p)| d == p) {
            return Ok(self.clone());
        }
        let value = self.with_value(|v| v.permute_kernel(perm));
        let mut inverse = vec![0; perm.len()];
        for (d, &p) in perm.iter().enumerate() {
            inverse[p] = d;
        }
        Var::try_from_op(
            "permute",
            value,
            &[self],
            move |c: &Ctx<'_, T>| -> Result<Grads<T>> { single(c.grad.permute(&inverse)?) },
        )
    }

    /// Swaps two axes (negative axes count from the end; a 0-d input takes 0 or
    /// −1 and is returned as is). ∂x = transpose(g, a0, a1).
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::<f64>::zeros(&[2, 3, 4]));
    /// assert_eq!(x.transpose(0, -1).unwrap().shape(), &[4, 3, 2]);
    /// ```
    pub fn transpose(&self, axis0: isize, axis1: isize) -> Result<Var<T>> {
        let ndim = self.ndim().max(1);
        let a = normalize_axis("transpose", axis0, ndim)?;
        let b = normalize_axis("transpose", axis1, ndim)?;
        if self.ndim() == 0 {
            return Ok(self.clone());
        }
        let mut perm: Vec<usize> = (0..self.ndim()).collect();
        perm.swap(a, b);
        self.permute(&perm)
    }

    /// The transpose of a matrix; 0-d and 1-d inputs are returned as they are
    /// (as `torch.t`). Errors for 3 or more axes. ∂x = gᵀ.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::<f64>::arange(6).reshape(&[2, 3]).unwrap());
    /// assert_eq!(x.t().unwrap().value().data(), &[0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    /// ```
    pub fn t(&self) -> Result<Var<T>> {
        match self.ndim() {
            0 | 1 => Ok(self.clone()),
            2 => self.transpose(0, 1),
            _ => Err(TapeError::InvalidShape {
                op: "t",
                shape: self.shape().into(),
                reason: "t() takes at most 2 axes; use transpose or permute".into(),
            }),
        }
    }

    /// Removes `axis` if its extent is 1, else returns the input unchanged (as
    /// `torch.squeeze(dim)`). A reshape: ∂x = g reshaped back.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::<f64>::zeros(&[2, 1, 3]));
    /// assert_eq!(x.squeeze(1).unwrap().shape(), &[2, 3]);
    /// assert_eq!(x.squeeze(0).unwrap().shape(), &[2, 1, 3]);
    /// ```
    pub fn squeeze(&self, axis: isize) -> Result<Var<T>> {
        let ax = normalize_axis("squeeze", axis, self.ndim().max(1))?;
        if self.ndim() == 0 || self.shape()[ax] != 1 {
            return Ok(self.clone());
        }
        let mut shape: Shape = self.shape().into();
        shape.remove(ax);
        self.reshape(&shape)
    }

    /// Inserts an axis of extent 1 at position `axis` of the result
    /// (`-ndim-1..=ndim`). A reshape: ∂x = g reshaped back.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::<f64>::zeros(&[2, 3]));
    /// assert_eq!(x.unsqueeze(-1).unwrap().shape(), &[2, 3, 1]);
    /// assert_eq!(x.unsqueeze(0).unwrap().shape(), &[1, 2, 3]);
    /// ```
    pub fn unsqueeze(&self, axis: isize) -> Result<Var<T>> {
        let ax = normalize_axis("unsqueeze", axis, self.ndim() + 1)?;
        let mut shape: Shape = self.shape().into();
        shape.insert(ax, 1);
        self.reshape(&shape)
    }

    /// Merges axes `start..=end` into one (as `torch.flatten(start_dim,
    /// end_dim)`; `flatten(1, -1)` keeps a batch axis). A 0-d input becomes
    /// `[1]`. A reshape: ∂x = g reshaped back.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::<f64>::zeros(&[2, 3, 4, 5]));
    /// assert_eq!(x.flatten(1, -1).unwrap().shape(), &[2, 60]);
    /// assert_eq!(x.flatten(1, 2).unwrap().shape(), &[2, 12, 5]);
    /// ```
    pub fn flatten(&self, start: isize, end: isize) -> Result<Var<T>> {
        let ndim = self.ndim().max(1);
        let s = normalize_axis("flatten", start, ndim)?;
        let e = normalize_axis("flatten", end, ndim)?;
        if s > e {
            return Err(TapeError::InvalidArgument {
                op: "flatten",
                name: "start",
                value: start.to_string(),
                reason: format!("start axis {s} comes after end axis {e}"),
            });
        }
        if self.ndim() == 0 {
            return self.reshape(&[1]);
        }
        let dims = self.shape();
        let merged: Shape = dims[..s]
            .iter()
            .copied()
            .chain(std::iter::once(shape::numel(&dims[s..=e])))
            .chain(dims[e + 1..].iter().copied())
            .collect();
        self.reshape(&merged)
    }

    /// Joins `parts` along `axis` (as `torch.cat`); their shapes must agree on
    /// every other axis. ∂partᵢ = narrow(g, axis, offsetᵢ, extentᵢ).
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let a = Var::constant(Tensor::<f64>::zeros(&[2, 1]));
    /// let b = Var::constant(Tensor::<f64>::ones(&[2, 2]));
    /// let c = Var::concat(&[&a, &b], -1).unwrap();
    /// assert_eq!(c.value().data(), &[0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
    /// ```
    pub fn concat(parts: &[&Var<T>], axis: isize) -> Result<Var<T>> {
        let first = first_part("concat", parts)?;
        let ax = normalize_axis("concat", axis, first.ndim())?;
        let fits = |p: &Var<T>| {
            p.ndim() == first.ndim()
                && (0..first.ndim()).all(|d| d == ax || p.shape()[d] == first.shape()[d])
        };
        if let Some(p) = parts.iter().find(|p| !fits(p)) {
            return Err(TapeError::ShapeMismatch {
                op: "concat",
                lhs: first.shape().into(),
                rhs: p.shape().into(),
            });
        }
        let values: Vec<Tensor<T>> = parts.iter().map(|p| p.value()).collect();
        let value = Tensor::concat_kernel(&values, ax);
        let extents: Vec<usize> = parts.iter().map(|p| p.shape()[ax]).collect();
        Var::try_from_op(
            "concat",
            value,
            parts,
            move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
                let mut grads = Grads::with_capacity(extents.len());
                let mut start = 0;
                for (i, &n) in extents.iter().enumerate() {
                    let needed = c.needs(i);
                    grads.push(if needed {
                        Some(c.grad.narrow(ax as isize, start, n)?)
                    } else {
                        None
                    });
                    start += n;
                }
                Ok(grads)
            },
        )
    }

    /// Stacks `parts`, all of one shape, along a new axis `axis`
    /// (`-ndim-1..=ndim`), as `torch.stack`: concat of the parts unsqueezed, so
    /// ∂partᵢ = slice i of g along `axis`.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let a = Var::constant(Tensor::<f64>::zeros(&[3]));
    /// let b = Var::constant(Tensor::<f64>::ones(&[3]));
    /// assert_eq!(Var::stack(&[&a, &b], 0).unwrap().shape(), &[2, 3]);
    /// assert_eq!(Var::stack(&[&a, &b], -1).unwrap().value().data(), &[0.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
    /// ```
    pub fn stack(parts: &[&Var<T>], axis: isize) -> Result<Var<T>> {
        let first = first_part("stack", parts)?;
        let ax = normalize_axis("stack", axis, first.ndim() + 1)?;
        if let Some(p) = parts.iter().find(|p| p.shape() != first.shape()) {
            return Err(TapeError::ShapeMismatch {
                op: "stack",
                lhs: first.shape().into(),
                rhs: p.shape().into(),
            });
        }
        let unsqueezed = parts
            .iter()
            .map(|p| p.unsqueeze(ax as isize))
            .collect::<Result<Vec<_>>>()?;
        Var::concat(&unsqueezed.iter().collect::<Vec<_>>(), ax as isize)
    }

    /// Elements `start..start + len` along `axis` (as `torch.narrow`).
    /// ∂x = pad_axis(g, axis, start, n − start − len): zeros elsewhere.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::<f64>::arange(6).reshape(&[2, 3]).unwrap());
    /// assert_eq!(x.narrow(1, 1, 2).unwrap().value().data(), &[1.0, 2.0, 4.0, 5.0]);
    /// assert!(x.narrow(1, 2, 2).is_err());
    /// ```
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Result<Var<T>> {
        let ax = normalize_axis("narrow", axis, self.ndim())?;
        let n = self.shape()[ax];
        if start > n {
            return Err(TapeError::IndexOutOfRange {
                op: "narrow",
                index: start,
                size: n,
            });
        }
        if len > n - start {
            return Err(TapeError::InvalidArgument {
                op: "narrow",
                name: "len",
                value: len.to_string(),
                reason: format!(
                    "start {start} + len {len} exceeds the extent {n} of axis {ax} of shape {:?}",
                    self.shape()
                ),
            });
        }
        if len == n {
            return Ok(self.clone());
        }
        let value = self.with_value(|v| v.narrow_kernel(ax, start, len));
        let after = n - start - len;
        Var::try_from_op(
            "narrow",
            value,
            &[self],
            move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
                single(c.grad.pad_axis(ax as isize, start, after)?)
            },
        )
    }

    /// `before` zeros, then the elements, then `after` zeros along `axis` (a
    /// one-axis `torch.nn.functional.pad`). The adjoint of [`Var::narrow`]:
    /// ∂x = narrow(g, axis, before, n).
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::<f64>::ones(&[2]));
    /// assert_eq!(x.pad_axis(0, 1, 2).unwrap().value().data(), &[0.0, 1.0, 1.0, 0.0, 0.0]);
    /// ```
    pub fn pad_axis(&self, axis: isize, before: usize, after: usize) -> Result<Var<T>> {
        let ax = normalize_axis("pad_axis", axis, self.ndim())?;
        if before == 0 && after == 0 {
            return Ok(self.clone());
        }
        let value = self.with_value(|v| v.pad_kernel(ax, before, after));
        let n = self.shape()[ax];
        Var::try_from_op(
            "pad_axis",
            value,
            &[self],
            move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
                single(c.grad.narrow(ax as isize, before, n)?)
            },
        )
    }
}

/// Indexed ops: each takes plain `usize` indices; gather and scatter_add take
/// the index as row-major data plus its shape.
impl<T: Float> Var<T> {
    /// The slices `indices[j]` along `axis`, in that order (repeats allowed), as
    /// `torch.index_select`. ∂x = index_add(0, axis, indices, g): each slice's
    /// gradient added back where it came from.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::<f64>::arange(6).reshape(&[3, 2]).unwrap());
    /// let y = x.index_select(0, &[2, 0, 2]).unwrap();
    /// assert_eq!(y.value().data(), &[4.0, 5.0, 0.0, 1.0, 4.0, 5.0]);
    /// ```
    pub fn index_select(&self, axis: isize, indices: &[usize]) -> Result<Var<T>> {
        let ax = normalize_axis("index_select", axis, self.ndim())?;
        check_indices("index_select", indices, self.shape()[ax])?;
        let value = self.with_value(|v| v.index_select_kernel(ax, indices));
        let indices = indices.to_vec();
        let from: Shape = self.shape().into();
        Var::try_from_op(
            "index_select",
            value,
            &[self],
            move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
                let zeros = Var::constant(Tensor::zeros(&from));
                single(zeros.index_add(ax as isize, &indices, c.grad)?)
            },
        )
    }

    /// `self` with slice j of `source` added to slice `indices[j]` along `axis`
    /// (repeated indices accumulate), as `torch.index_add`. `source` has the
    /// shape of `self` except along `axis`, where its extent is `indices.len()`.
    /// ∂self = g, ∂source = index_select(g, axis, indices).
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::<f64>::zeros(&[3]));
    /// let s = Var::constant(Tensor::from_vec(vec![1.0, 2.0, 5.0], &[3]).unwrap());
    /// assert_eq!(x.index_add(0, &[2, 0, 2], &s).unwrap().value().data(), &[2.0, 0.0, 6.0]);
    /// ```
    pub fn index_add(&self, axis: isize, indices: &[usize], source: &Var<T>) -> Result<Var<T>> {
        let ax = normalize_axis("index_add", axis, self.ndim())?;
        let fits = source.ndim() == self.ndim()
            && (0..self.ndim()).all(|d| d == ax || source.shape()[d] == self.shape()[d]);
        if !fits {
            return Err(TapeError::ShapeMismatch {
                op: "index_add",
                lhs: self.shape().into(),
                rhs: source.shape().into(),
            });
        }
        if source.shape()[ax] != indices.len() {
            return Err(TapeError::InvalidArgument {
                op: "index_add",
                name: "indices",
                value: format!("{} indices", indices.len()),
                reason: format!(
                    "source of shape {:?} has {} slices along axis {ax}",
                    source.shape(),
                    source.shape()[ax]
                ),
            });
        }
        check_indices("index_add", indices, self.shape()[ax])?;
        let value = self.with_value(|v| source.with_value(|s| v.index_add_kernel(ax, indices, s)));
        let indices = indices.to_vec();
        Var::try_from_op(
            "index_add",
            value,
            &[self, source],
            move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
                let to_source = if c.needs(1) {
                    Some(c.grad.index_select(ax as isize, &indices)?)
                } else {
                    None
                };
                Ok(smallvec![Some(c.grad.clone()), to_source])
            },
        )
    }

    /// Picks along `axis` by an index tensor, as `torch.gather`: with the index
    /// given as row-major `index` data of shape `index_shape` (same rank as
    /// `self`, no longer along the other axes), `out[p] = self[p with coordinate
    /// axis replaced by index[p]]`, and `out` has shape `index_shape`.
    /// ∂x = scatter_add(0, axis, index, g).
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// // Pick one class score per row: the pattern of a cross-entropy loss.
    /// let logits = Var::constant(Tensor::<f64>::arange(6).reshape(&[2, 3]).unwrap());
    /// let picked = logits.gather(1, &[2, 0], &[2, 1]).unwrap();
    /// assert_eq!(picked.shape(), &[2, 1]);
    /// assert_eq!(picked.value().data(), &[2.0, 3.0]);
    /// ```
    pub fn gather(&self, axis: isize, index: &[usize], index_shape: &[usize]) -> Result<Var<T>> {
        let ax = normalize_axis("gather", axis, self.ndim())?;
        check_gather_index("gather", self.shape(), ax, index, index_shape)?;
        let value = self.with_value(|v| v.gather_kernel(ax, index, index_shape));
        let (index, index_shape) = (index.to_vec(), Shape::from(index_shape));
        let from: Shape = self.shape().into();
        Var::try_from_op(
            "gather",
            value,
            &[self],
            move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
                let zeros = Var::constant(Tensor::zeros(&from));
                single(zeros.scatter_add(ax as isize, &index, &index_shape, c.grad)?)
            },
        )
    }

    /// `self` with `src[p]` added at `p` with coordinate `axis` replaced by
    /// `index[p]` (repeated targets accumulate), as `torch.scatter_add`; the
    /// index is given as for [`Var::gather`], and `src` must have the index's
    /// shape. ∂self = g, ∂src = gather(g, axis, index).
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::<f64>::zeros(&[2, 3]));
    /// let src = Var::constant(Tensor::from_vec(vec![1.0, 2.0, 4.0], &[1, 3]).unwrap());
    /// let y = x.scatter_add(0, &[1, 0, 1], &[1, 3], &src).unwrap();
    /// assert_eq!(y.value().data(), &[0.0, 2.0, 0.0, 1.0, 0.0, 4.0]);
    /// ```
    pub fn scatter_add(
        &self,
        axis: isize,
        index: &[usize],
        index_shape: &[usize],
        src: &Var<T>,
    ) -> Result<Var<T>> {
        let ax = normalize_axis("scatter_add", axis, self.ndim())?;
        check_gather_index("scatter_add", self.shape(), ax, index, index_shape)?;
        if src.shape() != index_shape {
            return Err(TapeError::ShapeMismatch {
                op: "scatter_add",
                lhs: index_shape.into(),
                rhs: src.shape().into(),
            });
        }
        let value = self
            .with_value(|v| src.with_value(|s| v.scatter_add_kernel(ax, index, index_shape, s)));
        let (index, index_shape) = (index.to_vec(), Shape::from(index_shape));
        Var::try_from_op(
            "scatter_add",
            value,
            &[self, src],
            move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
                let to_src = if c.needs(1) {
                    Some(c.grad.gather(ax as isize, &index, &index_shape)?)
                } else {
                    None
                };
                Ok(smallvec![Some(c.grad.clone()), to_src])
            },
        )
    }
}

/// The first of the parts given to concat or stack; errors when there are none.
fn first_part<'a, T: Float>(op: &'static str, parts: &[&'a Var<T>]) -> Result<&'a Var<T>> {
    parts
        .first()
        .copied()
        .ok_or_else(|| TapeError::InvalidArgument {
            op,
            name: "parts",
            value: "[]".into(),
            reason: "at least one tensor is needed".into(),
        })
}

/// Checks that `perm` orders the axes `0..ndim`, each once.
pub(crate) fn check_permutation(op: &'static str, perm: &[usize], shape: &[usize]) -> Result<()> {
    let mut seen = vec![false; shape.len()];
    let valid = perm.len() == shape.len()
        && perm
            .iter()
            .all(|&p| p < seen.len() && !std::mem::replace(&mut seen[p], true));
    if valid {
        return Ok(());
    }
    Err(TapeError::InvalidArgument {
        op,
        name: "perm",
        value: format!("{perm:?}"),
        reason: format!(
            "not a permutation of the {} axes of shape {shape:?}",
            shape.len()
        ),
    })
}

/// Checks that every index is below `size`.
pub(crate) fn check_indices(op: &'static str, indices: &[usize], size: usize) -> Result<()> {
    match indices.iter().find(|&&i| i >= size) {
        Some(&index) => Err(TapeError::IndexOutOfRange { op, index, size }),
        None => Ok(()),
    }
}

/// Checks a gather/scatter index given as row-major `index` data of shape
/// `index_shape` against a tensor of shape `shape`: same rank, no longer than
/// `shape` along the other axes, entries below the extent of `axis`.
pub(crate) fn check_gather_index(
    op: &'static str,
    shape: &[usize],
    axis: usize,
    index: &[usize],
    index_shape: &[usize],
) -> Result<()> {
    let expected = shape::numel(index_shape);
    if index.len() != expected {
        return Err(TapeError::DataLength {
            op,
            shape: index_shape.into(),
            expected,
            got: index.len(),
        });
    }
    let fits = index_shape.len() == shape.len()
        && (0..shape.len()).all(|d| d == axis || index_shape[d] <= shape[d]);
    if !fits {
        return Err(TapeError::ShapeMismatch {
            op,
            lhs: shape.into(),
            rhs: index_shape.into(),
        });
    }
    check_indices(op, index, shape[axis])
}
