//! Loading the data set of a run and shaping it for its model.

use std::path::Path;

use tapegrad_data::{Dataset, LibsvmReader, Standardizer, digits, mnist};

use super::config::{DataSource, ModelKind};
use super::error::{Result, TrainError};

/// The fraction of samples held out for testing when a source has no test split.
pub const TEST_FRACTION: f64 = 0.2;

/// A run's training and test sets, standardized and shaped for the model.
#[derive(Debug, Clone)]
pub struct Splits {
    /// Training samples: `[N, 1, H, W]` for a CNN or a ViT, `[N, H, W]` for
    /// an LSTM, `[N, D]` for an MLP.
    pub train: Dataset,
    /// Test samples, shaped as `train`.
    pub test: Dataset,
}

impl Splits {
    /// The shape of one input sample (without the batch axis).
    pub fn sample_shape(&self) -> &[usize] {
        self.train.sample_shape()
    }

    /// The number of classes K.
    pub fn num_classes(&self) -> usize {
        self.train.num_classes().max(self.test.num_classes())
    }
}

/// Reads `source` and returns standardized `(train, test)` sets shaped for `model`.
///
/// The digits and LIBSVM files are split 80/20 by `seed`; an MNIST folder keeps
/// its official 60000/10000 split. Images get one μ and σ over all training
/// pixels, LIBSVM vectors one per feature, both fitted on the training set only.
///
/// ```
/// use tapegrad_train::{DataSource, ModelKind, load_splits};
/// let s = load_splits(&DataSource::Digits, ModelKind::Cnn, 0).unwrap();
/// assert_eq!(s.train.features().shape(), &[1437, 1, 8, 8]);
/// assert_eq!(s.test.len(), 360);
/// ```
pub fn load_splits(source: &DataSource, model: ModelKind, seed: u64) -> Result<Splits> {
    let (train, test, images) = match source {
        DataSource::Digits => {
            let (train, test) = digits()?.train_test_split(seed, TEST_FRACTION)?;
            (train, test, true)
        }
        DataSource::Path(path) => read_path(path, seed)?,
    };
    let norm = if images {
        Standardizer::fit_global(&train)?
    } else {
        Standardizer::fit_per_feature(&train)?
    };
    let (train, test) = (norm.apply(&train)?, norm.apply(&test)?);
    Ok(Splits {
        train: shape_for(model, &train, source)?,
        test: shape_for(model, &test, source)?,
    })
}

/// A folder is MNIST-format IDX files; a file is LIBSVM. Returns `(train, test, images?)`.
fn read_path(path: &Path, seed: u64) -> Result<(Dataset, Dataset, bool)> {
    let meta = std::fs::metadata(path).map_err(TrainError::io(path))?;
    if meta.is_dir() {
        let (train, test) = mnist(path)?;
        return Ok((train, test, true));
    }
    let file = LibsvmReader::new().from_path::<f32>(path)?;
    let (train, test) = file.dataset.train_test_split(seed, TEST_FRACTION)?;
    Ok((train, test, false))
}

/// `[N, H, W]` images become `[N, 1, H, W]` for a CNN or a ViT and stay rows
/// for an LSTM; anything becomes `[N, D]` for an MLP.
fn shape_for(model: ModelKind, set: &Dataset, source: &DataSource) -> Result<Dataset> {
    let images = set.sample_shape().len() == 2;
    match model {
        ModelKind::Mlp => Ok(set.flatten()),
        ModelKind::Cnn | ModelKind::Vit if images => Ok(set.with_channel_dim()?),
        ModelKind::Lstm if images => Ok(set.clone()),
        other => Err(TrainError::InvalidArgument {
            name: "--model",
            value: crate::checkpoint::value_name(&other),
            reason: format!(
                "{source} holds vectors of {} features, not images; use --model mlp",
                set.sample_len()
            ),
        }),
    }
}
