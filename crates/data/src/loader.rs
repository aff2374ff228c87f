//! Minibatches: one pass (epoch) over a dataset, optionally shuffled.

use rand::Rng;
use rand::seq::SliceRandom;
use tapegrad_tape::{Float, Tensor};

use crate::dataset::{Dataset, gather_rows};
use crate::error::{DataError, Result};

/// One epoch of minibatches over `dataset`: `(features [B, ...], labels)`.
///
/// With `shuffle` the sample order is a fresh permutation drawn from `rng`
/// (`SliceRandom::shuffle`), so successive calls with the same generator give
/// different epochs and the same seed gives the same sequence of epochs;
/// without it the order is 0..N and `rng` is not touched. Every sample appears
/// exactly once per epoch, except that `drop_last` drops the final batch when it
/// is shorter than `batch_size` (PyTorch's `DataLoader` semantics).
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// let ds = tapegrad_data::digits().unwrap();
/// let mut rng = StdRng::seed_from_u64(0);
/// let mut seen = 0;
/// for (x, y) in tapegrad_data::batches(&ds, 100, true, false, &mut rng).unwrap() {
///     assert_eq!(x.shape()[1..], [8, 8]);
///     assert_eq!(x.shape()[0], y.len());
///     seen += y.len();
/// }
/// assert_eq!(seen, 1797);
/// let kept = tapegrad_data::batches(&ds, 100, true, true, &mut rng).unwrap();
/// assert_eq!(kept.len(), 17);
/// ```
pub fn batches<'a, T: Float, R: Rng + ?Sized>(
    dataset: &'a Dataset<T>,
    batch_size: usize,
    shuffle: bool,
    drop_last: bool,
    rng: &mut R,
) -> Result<Batches<'a, T>> {
    check_batch_size(batch_size)?;
    Ok(epoch(dataset, batch_size, shuffle, drop_last, rng))
}

/// [`batches`] for a batch size already known to be ≥ 1.
fn epoch<'a, T: Float, R: Rng + ?Sized>(
    dataset: &'a Dataset<T>,
    batch_size: usize,
    shuffle: bool,
    drop_last: bool,
    rng: &mut R,
) -> Batches<'a, T> {
    let mut order: Vec<usize> = (0..dataset.len()).collect();
    if shuffle {
        order.shuffle(rng);
    }
    let end = if drop_last {
        order.len() - order.len() % batch_size
    } else {
        order.len()
    };
    Batches {
        dataset,
        order,
        batch_size,
        next: 0,
        end,
    }
}

fn check_batch_size(batch_size: usize) -> Result<()> {
    if batch_size == 0 {
        return Err(DataError::InvalidArgument {
            op: "batches",
            name: "batch_size",
            value: "0".into(),
            reason: "need at least 1".into(),
        });
    }
    Ok(())
}

/// The iterator returned by [`batches`] and [`Loader::epoch`].
#[derive(Debug, Clone)]
pub struct Batches<'a, T: Float = f32> {
    dataset: &'a Dataset<T>,
    order: Vec<usize>,
    batch_size: usize,
    next: usize,
    end: usize,
}

impl<T: Float> Batches<'_, T> {
    /// The sample order of this epoch (all N indices, including any dropped at the end).
    pub fn order(&self) -> &[usize] {
        &self.order
    }
}

impl<T: Float> Iterator for Batches<'_, T> {
    type Item = (Tensor<T>, Vec<usize>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let stop = (self.next + self.batch_size).min(self.end);
        let indices = &self.order[self.next..stop];
        self.next = stop;
        let mut shape = self.dataset.features().shape().to_vec();
        shape[0] = indices.len();
        let features = gather_rows(self.dataset.features(), indices, &shape);
        let labels = indices.iter().map(|&i| self.dataset.labels()[i]).collect();
        Some((features, labels))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.end - self.next).div_ceil(self.batch_size);
        (left, Some(left))
    }
}

impl<T: Float> ExactSizeIterator for Batches<'_, T> {}

/// A reusable batching configuration over one dataset; each [`Loader::epoch`]
/// is one call to [`batches`].
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapegrad_data::Loader;
/// let ds = tapegrad_data::digits().unwrap().flatten();
/// let loader = Loader::new(&ds, 64).unwrap().shuffle(true).drop_last(true);
/// assert_eq!(loader.num_batches(), 28);
/// let mut rng = StdRng::seed_from_u64(1);
/// let (x, y) = loader.epoch(&mut rng).next().unwrap();
/// assert_eq!(x.shape(), &[64, 64]);
/// assert_eq!(y.len(), 64);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Loader<'a, T: Float = f32> {
    dataset: &'a Dataset<T>,
    batch_size: usize,
    shuffle: bool,
    drop_last: bool,
}

impl<'a, T: Float> Loader<'a, T> {
    /// Batches of `batch_size` (≥ 1) in dataset order, keeping a short last batch.
    pub fn new(dataset: &'a Dataset<T>, batch_size: usize) -> Result<Self> {
        check_batch_size(batch_size)?;
        Ok(Self {
            dataset,
            batch_size,
            shuffle: false,
            drop_last: false,
        })
    }

    /// Whether each epoch draws a new permutation.
    pub fn shuffle(self, shuffle: bool) -> Self {
        Self { shuffle, ..self }
    }

    /// Whether a short last batch is dropped.
    pub fn drop_last(self, drop_last: bool) -> Self {
        Self { drop_last, ..self }
    }

    /// The dataset batched.
    pub fn dataset(&self) -> &'a Dataset<T> {
        self.dataset
    }

    /// The number of batches per epoch.
    pub fn num_batches(&self) -> usize {
        let n = self.dataset.len();
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    /// One epoch of batches, shuffled from `rng` if so configured.
    pub fn epoch<R: Rng + ?Sized>(&self, rng: &mut R) -> Batches<'a, T> {
        epoch(
            self.dataset,
            self.batch_size,
            self.shuffle,
            self.drop_last,
            rng,
        )
    }
}
