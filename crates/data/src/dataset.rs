//! `Dataset`: a feature tensor `[N, ...]` with one class label per sample.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use tapegrad_tape::{Float, Tensor};

use crate::error::{DataError, Result};

/// N samples: features of shape `[N, ...]` and labels in `0..num_classes`.
///
/// Image data sets come as `[N, H, W]`; [`Dataset::with_channel_dim`] gives the
/// `[N, 1, H, W]` a convolution wants and [`Dataset::flatten`] the `[N, H·W]` an
/// MLP wants. Both share the buffer (no copy).
///
/// ```
/// use tapegrad_data::Dataset;
/// use tapegrad_tape::Tensor;
/// let x = Tensor::<f32>::arange(12).reshape(&[3, 2, 2]).unwrap();
/// let ds = Dataset::new(x, vec![0, 1, 1], 2).unwrap();
/// assert_eq!(ds.len(), 3);
/// assert_eq!(ds.sample_shape(), &[2, 2]);
/// assert_eq!(ds.class_counts(), vec![1, 2]);
/// assert_eq!(ds.with_channel_dim().unwrap().features().shape(), &[3, 1, 2, 2]);
/// assert_eq!(ds.flatten().features().shape(), &[3, 4]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset<T: Float = f32> {
    features: Tensor<T>,
    labels: Vec<usize>,
    num_classes: usize,
}

impl<T: Float> Dataset<T> {
    /// A dataset over `features` (`[N, ...]`, rank ≥ 1) and `labels` (N of them,
    /// each `< num_classes`).
    pub fn new(features: Tensor<T>, labels: Vec<usize>, num_classes: usize) -> Result<Self> {
        let invalid = |name, value: String, reason: String| DataError::InvalidArgument {
            op: "Dataset::new",
            name,
            value,
            reason,
        };
        let Some(&n) = features.shape().first() else {
            return Err(invalid(
                "features",
                "a 0-d tensor".into(),
                "need shape [N, ...]".into(),
            ));
        };
        if labels.len() != n {
            return Err(invalid(
                "labels",
                format!("{} labels", labels.len()),
                format!("features hold {n} samples"),
            ));
        }
        if let Some(bad) = labels.iter().find(|&&l| l >= num_classes) {
            return Err(invalid(
                "labels",
                format!("label {bad}"),
                format!("labels must be < num_classes = {num_classes}"),
            ));
        }
        Ok(Self {
            features,
            labels,
            num_classes,
        })
    }

    /// The features, `[N, ...]`.
    pub fn features(&self) -> &Tensor<T> {
        &self.features
    }

    /// The class index of each sample.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// The number of classes K (labels lie in `0..K`).
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// The number of samples N.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The shape of one sample: the feature shape without its first axis.
    pub fn sample_shape(&self) -> &[usize] {
        &self.features.shape()[1..]
    }

    /// The number of elements in one sample.
    pub fn sample_len(&self) -> usize {
        self.sample_shape().iter().product()
    }

    /// `(features, labels, num_classes)`.
    pub fn into_parts(self) -> (Tensor<T>, Vec<usize>, usize) {
        (self.features, self.labels, self.num_classes)
    }

    /// How many samples each class has, indexed by class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes];
        for &label in &self.labels {
            counts[label] += 1;
        }
        counts
    }

    /// The samples at `indices`, in that order (repeats allowed).
    ///
    /// ```
    /// use tapegrad_data::Dataset;
    /// use tapegrad_tape::Tensor;
    /// let ds = Dataset::new(Tensor::<f64>::arange(3), vec![0, 1, 2], 3).unwrap();
    /// let sub = ds.select(&[2, 0]).unwrap();
    /// assert_eq!(sub.features().data(), &[2.0, 0.0]);
    /// assert_eq!(sub.labels(), &[2, 0]);
    /// assert!(ds.select(&[3]).is_err());
    /// ```
    pub fn select(&self, indices: &[usize]) -> Result<Self> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(DataError::InvalidArgument {
                op: "Dataset::select",
                name: "indices",
                value: bad.to_string(),
                reason: format!("the dataset has {} samples", self.len()),
            });
        }
        let mut shape = self.features.shape().to_vec();
        shape[0] = indices.len();
        Ok(Self {
            features: gather_rows(&self.features, indices, &shape),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            num_classes: self.num_classes,
        })
    }

    /// Images `[N, H, W]` as `[N, 1, H, W]` (one channel), for convolutions.
    pub fn with_channel_dim(&self) -> Result<Self> {
        let &[n, h, w] = self.features.shape() else {
            return Err(DataError::InvalidArgument {
                op: "Dataset::with_channel_dim",
                name: "features",
                value: format!("shape {:?}", self.features.shape()),
                reason: "need images of shape [N, H, W]".into(),
            });
        };
        self.reshaped(&[n, 1, h, w])
    }

    /// Features `[N, ...]` as `[N, D]` with D the product of the sample shape, for MLPs.
    pub fn flatten(&self) -> Self {
        let shape = [self.len(), self.sample_len()];
        Self {
            features: self
                .features
                .reshape(&shape)
                .expect("N times the sample size is the element count"),
            labels: self.labels.clone(),
            num_classes: self.num_classes,
        }
    }

    /// The same samples under another feature shape `[N, ...]` (no copy).
    pub fn reshaped(&self, shape: &[usize]) -> Result<Self> {
        if shape.first() != Some(&self.len()) {
            return Err(DataError::InvalidArgument {
                op: "Dataset::reshaped",
                name: "shape",
                value: format!("{shape:?}"),
                reason: format!("the first extent must stay N = {}", self.len()),
            });
        }
        Ok(Self {
            features: self.features.reshape(shape)?,
            labels: self.labels.clone(),
            num_classes: self.num_classes,
        })
    }

    /// Every feature multiplied by `factor`: `x ← factor·x`. Scaling by
    /// `1/max` maps pixel data to [0, 1], e.g. `1/255` for MNIST
    /// ([`crate::MNIST_MAX_VALUE`]) and `1/16` for the digits
    /// ([`crate::DIGITS_MAX_VALUE`]).
    ///
    /// ```
    /// let ds = tapegrad_data::digits().unwrap().scale(1.0 / tapegrad_data::DIGITS_MAX_VALUE);
    /// let data = ds.features().data();
    /// assert!(data.iter().all(|&x| (0.0..=1.0).contains(&x)));
    /// assert_eq!(data.iter().cloned().fold(0.0f32, f32::max), 1.0);
    /// ```
    pub fn scale(&self, factor: T) -> Self {
        Self {
            features: self.features.scale(factor),
            labels: self.labels.clone(),
            num_classes: self.num_classes,
        }
    }

    /// The features converted to another float type.
    pub fn cast<U: Float>(&self) -> Dataset<U> {
        Dataset {
            features: self.features.cast(),
            labels: self.labels.clone(),
            num_classes: self.num_classes,
        }
    }

    /// A random split into `(train, test)`, reproducible from `seed`.
    ///
    /// The sample indices are shuffled by a `StdRng` seeded with `seed`; the
    /// first `ceil(test_fraction · N)` of them form the test set and the rest the
    /// training set, each in shuffled order (the rule of scikit-learn's
    /// `train_test_split`, not its random stream). The split is not stratified:
    /// class proportions match only in expectation. `test_fraction` must lie in
    /// (0, 1) and leave both parts non-empty.
    ///
    /// ```
    /// let ds = tapegrad_data::digits().unwrap();
    /// let (train, test) = ds.train_test_split(7, 0.25).unwrap();
    /// assert_eq!((train.len(), test.len()), (1347, 450));
    /// let (train2, _) = ds.train_test_split(7, 0.25).unwrap();
    /// assert_eq!(train.labels(), train2.labels());
    /// ```
    pub fn train_test_split(&self, seed: u64, test_fraction: f64) -> Result<(Self, Self)> {
        let n = self.len();
        let n_test = (test_fraction * n as f64).ceil();
        if !(test_fraction > 0.0 && test_fraction < 1.0) || n_test >= n as f64 {
            return Err(DataError::InvalidArgument {
                op: "Dataset::train_test_split",
                name: "test_fraction",
                value: test_fraction.to_string(),
                reason: format!(
                    "need 0 < test_fraction < 1 leaving both parts of {n} samples non-empty"
                ),
            });
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut StdRng::seed_from_u64(seed));
        let (test, train) = order.split_at(n_test as usize);
        Ok((self.select(train)?, self.select(test)?))
    }
}

/// Copies rows (first-axis slices) `indices` of `source` into a new tensor of `shape`.
pub(crate) fn gather_rows<T: Float>(
    source: &Tensor<T>,
    indices: &[usize],
    shape: &[usize],
) -> Tensor<T> {
    let row: usize = source.shape()[1..].iter().product();
    let mut out = Tensor::zeros(shape);
    let dst = out.data_mut();
    for (k, &i) in indices.iter().enumerate() {
        dst[k * row..(k + 1) * row].copy_from_slice(&source.data()[i * row..(i + 1) * row]);
    }
    out
}
