//! Image/label IDX pairs: MNIST, Fashion-MNIST and anything laid out like them.

use std::path::{Path, PathBuf};

use tapegrad_tape::Float;

use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::idx::IdxArray;

/// The largest MNIST pixel value: `scale(1.0 / MNIST_MAX_VALUE)` maps pixels to [0, 1].
pub const MNIST_MAX_VALUE: f32 = 255.0;

impl<T: Float> Dataset<T> {
    /// A dataset from an IDX image array `[N, ...]` and an IDX label array `[N]`
    /// whose integer labels lie in `0..num_classes`.
    ///
    /// ```
    /// use tapegrad_data::{DataError, Dataset, IdxArray, IdxData};
    /// let images = IdxArray::new(&[2, 1, 2], IdxData::U8(vec![0, 255, 7, 8])).unwrap();
    /// let labels = IdxArray::new(&[2], IdxData::U8(vec![1, 0])).unwrap();
    /// let ds = Dataset::<f32>::from_idx(&images, &labels, 2).unwrap();
    /// assert_eq!(ds.features().shape(), &[2, 1, 2]);
    /// let three = IdxArray::new(&[3], IdxData::U8(vec![1, 0, 1])).unwrap();
    /// let err = Dataset::<f32>::from_idx(&images, &three, 2).unwrap_err();
    /// assert!(matches!(err, DataError::CountMismatch { image_count: 2, label_count: 3, .. }));
    /// ```
    pub fn from_idx(images: &IdxArray, labels: &IdxArray, num_classes: usize) -> Result<Self> {
        if images.dims().is_empty() {
            return Err(DataError::BadHeader {
                file: images.source().to_owned(),
                offset: 3,
                reason: "images need at least one axis (the item count)".into(),
            });
        }
        if labels.dims().len() != 1 {
            return Err(DataError::BadHeader {
                file: labels.source().to_owned(),
                offset: 3,
                reason: format!("labels need one axis, found dimensions {:?}", labels.dims()),
            });
        }
        if images.count() != labels.count() {
            return Err(DataError::CountMismatch {
                images: images.source().to_owned(),
                labels: labels.source().to_owned(),
                image_count: images.count(),
                label_count: labels.count(),
            });
        }
        Dataset::new(
            images.to_tensor()?,
            labels.to_labels(num_classes)?,
            num_classes,
        )
    }

    /// [`Dataset::from_idx`] on the IDX files at two paths (raw or gzipped).
    pub fn from_idx_paths(
        images: impl AsRef<Path>,
        labels: impl AsRef<Path>,
        num_classes: usize,
    ) -> Result<Self> {
        Self::from_idx(
            &IdxArray::from_path(images)?,
            &IdxArray::from_path(labels)?,
            num_classes,
        )
    }
}

/// MNIST (or Fashion-MNIST) from `dir`: `(train, test)`, 60000 and 10000 images
/// of shape `[N, 28, 28]`, pixel values 0..=255 as `f32`, 10 classes.
///
/// Each file may be raw or gzipped, under its official name with either a
/// dash or a dot before `idx`: `train-images-idx3-ubyte`,
/// `train-images-idx3-ubyte.gz`, `train-images.idx3-ubyte`,
/// `train-images.idx3-ubyte.gz` (the first that exists is used), and likewise
/// `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`.
///
/// ```no_run
/// let (train, test) = tapegrad_data::mnist("data/mnist").unwrap();
/// let train = train.scale(1.0 / tapegrad_data::MNIST_MAX_VALUE).with_channel_dim().unwrap();
/// assert_eq!(train.features().shape(), &[60000, 1, 28, 28]);
/// assert_eq!(test.len(), 10000);
/// ```
pub fn mnist(dir: impl AsRef<Path>) -> Result<(Dataset, Dataset)> {
    let dir = dir.as_ref();
    let split = |prefix: &str| -> Result<Dataset> {
        let images = find(dir, &format!("{prefix}-images"), "idx3-ubyte")?;
        let labels = find(dir, &format!("{prefix}-labels"), "idx1-ubyte")?;
        Dataset::from_idx_paths(images, labels, 10)
    };
    Ok((split("train")?, split("t10k")?))
}

/// The first existing file among the four accepted spellings of `stem`/`kind`.
fn find(dir: &Path, stem: &str, kind: &str) -> Result<PathBuf> {
    let tried: Vec<String> = ["-", "."]
        .iter()
        .flat_map(|sep| ["", ".gz"].map(|gz| format!("{stem}{sep}{kind}{gz}")))
        .collect();
    tried
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| DataError::MissingFile {
            dir: dir.display().to_string(),
            tried,
        })
}
