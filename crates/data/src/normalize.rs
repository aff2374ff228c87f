//! Standardization fitted on a training set and applied to any set.

use tapegrad_tape::{Float, Tensor};

use crate::dataset::Dataset;
use crate::error::{DataError, Result};

/// `x ← (x − μ) / σ` with μ and σ measured on a training set.
///
/// Fit on the training data only and apply the same statistics to the test
/// data, so no test information leaks into training. σ is the population
/// standard deviation (divisor N, as scikit-learn's `StandardScaler`), computed
/// in `f64`; a σ that is 0 up to rounding (σ ≤ 10·ε·|μ|) is replaced by 1, so a
/// constant feature becomes 0 instead of NaN.
///
/// ```
/// use tapegrad_data::{Dataset, Standardizer};
/// use tapegrad_tape::Tensor;
/// let train = Dataset::new(Tensor::from_vec(vec![1.0f64, 10.0, 3.0, 10.0], &[2, 2]).unwrap(), vec![0, 1], 2).unwrap();
/// let s = Standardizer::fit_per_feature(&train).unwrap();
/// assert_eq!(s.mean().data(), &[2.0, 10.0]);
/// assert_eq!(s.std().data(), &[1.0, 1.0]); // feature 2 is constant: σ = 0 → 1
/// assert_eq!(s.apply(&train).unwrap().features().data(), &[-1.0, 0.0, 1.0, 0.0]);
/// let g = Standardizer::fit_global(&train).unwrap();
/// assert_eq!(g.mean().data(), &[6.0]); // one μ over every element
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer<T: Float = f32> {
    mean: Tensor<T>,
    std: Tensor<T>,
}

impl<T: Float> Standardizer<T> {
    /// One μ and σ per feature (element of the sample shape), over the N samples.
    pub fn fit_per_feature(train: &Dataset<T>) -> Result<Self> {
        let n = non_empty(train)?;
        let width = train.sample_len();
        let rows = || train.features().data().chunks_exact(width.max(1));
        let mut mean = vec![0.0f64; width];
        rows().for_each(|row| add_row(&mut mean, row));
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut var = vec![0.0f64; width];
        for row in rows() {
            for ((v, &x), &m) in var.iter_mut().zip(row).zip(&mean) {
                *v += (x.to_f64() - m).powi(2);
            }
        }
        let std: Vec<f64> = var
            .iter()
            .zip(&mean)
            .map(|(&v, &m)| safe_std(v / n as f64, m))
            .collect();
        Self::from_f64(mean, std, train.sample_shape())
    }

    /// One μ and σ over every element of every sample (the usual choice for
    /// images, e.g. MNIST's μ ≈ 0.1307, σ ≈ 0.3081 after scaling to [0, 1]).
    pub fn fit_global(train: &Dataset<T>) -> Result<Self> {
        non_empty(train)?;
        let data = train.features().data();
        let count = data.len().max(1) as f64;
        let mean = data.iter().map(|x| x.to_f64()).sum::<f64>() / count;
        let var = data
            .iter()
            .map(|x| (x.to_f64() - mean).powi(2))
            .sum::<f64>()
            / count;
        Self::from_f64(vec![mean], vec![safe_std(var, mean)], &[1])
    }

    fn from_f64(mean: Vec<f64>, std: Vec<f64>, shape: &[usize]) -> Result<Self> {
        let to_t = |v: Vec<f64>| Tensor::from_vec(v.into_iter().map(T::from_f64).collect(), shape);
        Ok(Self {
            mean: to_t(mean)?,
            std: to_t(std)?,
        })
    }

    /// μ: the sample shape for [`Standardizer::fit_per_feature`], `[1]` for
    /// [`Standardizer::fit_global`].
    pub fn mean(&self) -> &Tensor<T> {
        &self.mean
    }

    /// σ (zeros replaced by 1), same shape as [`Standardizer::mean`].
    pub fn std(&self) -> &Tensor<T> {
        &self.std
    }

    /// `dataset` with `(x − μ) / σ` applied to every sample. Errors when a
    /// per-feature fit meets a different sample shape.
    pub fn apply(&self, dataset: &Dataset<T>) -> Result<Dataset<T>> {
        let global = self.mean.shape() == [1];
        if !global && self.mean.shape() != dataset.sample_shape() {
            return Err(DataError::InvalidArgument {
                op: "Standardizer::apply",
                name: "dataset",
                value: format!("sample shape {:?}", dataset.sample_shape()),
                reason: format!("fitted on sample shape {:?}", self.mean.shape()),
            });
        }
        let mut features = dataset.features().clone();
        let (mean, std) = (self.mean.data(), self.std.data());
        let width = mean.len();
        for (i, x) in features.data_mut().iter_mut().enumerate() {
            let j = i % width;
            *x = (*x - mean[j]) / std[j];
        }
        Dataset::new(features, dataset.labels().to_vec(), dataset.num_classes())
    }
}

fn non_empty<T: Float>(train: &Dataset<T>) -> Result<usize> {
    if train.is_empty() {
        return Err(DataError::InvalidArgument {
            op: "Standardizer::fit",
            name: "train",
            value: "0 samples".into(),
            reason: "need at least one sample".into(),
        });
    }
    Ok(train.len())
}

fn add_row<T: Float>(sum: &mut [f64], row: &[T]) {
    for (s, &x) in sum.iter_mut().zip(row) {
        *s += x.to_f64();
    }
}

/// √var, or 1 when it is zero up to the rounding of the mean.
fn safe_std(var: f64, mean: f64) -> f64 {
    let std = var.sqrt();
    if std <= 10.0 * f64::EPSILON * mean.abs() || std == 0.0 {
        1.0
    } else {
        std
    }
}
