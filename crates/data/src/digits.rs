//! The UCI optical digits (8×8), embedded in the crate.

use crate::dataset::Dataset;
use crate::error::Result;
use crate::idx::IdxArray;

/// The largest digits pixel value (a count of set pixels in a 4×4 block):
/// `scale(1.0 / DIGITS_MAX_VALUE)` maps features to [0, 1].
pub const DIGITS_MAX_VALUE: f32 = 16.0;

/// The embedded image file: gzipped IDX, `u8` `[1797, 8, 8]`.
pub const DIGITS_IMAGES_IDX_GZ: &[u8] = include_bytes!("../assets/digits-images-idx3-ubyte.gz");

/// The embedded label file: gzipped IDX, `u8` `[1797]`.
pub const DIGITS_LABELS_IDX_GZ: &[u8] = include_bytes!("../assets/digits-labels-idx1-ubyte.gz");

/// The UCI "Optical Recognition of Handwritten Digits" test split (the data of
/// scikit-learn's `load_digits`): 1797 images `[1797, 8, 8]` with values
/// 0..=16 as `f32`, 10 classes. Embedded in the binary, so it needs no files;
/// E. Alpaydin and C. Kaynak (1998), CC BY 4.0 (see `assets/README.md`).
///
/// ```
/// let ds = tapegrad_data::digits().unwrap();
/// assert_eq!(ds.features().shape(), &[1797, 8, 8]);
/// assert_eq!(ds.num_classes(), 10);
/// assert_eq!(ds.labels()[..5], [0, 1, 2, 3, 4]);
/// ```
pub fn digits() -> Result<Dataset> {
    let images = IdxArray::read_named(
        DIGITS_IMAGES_IDX_GZ,
        "<embedded digits-images-idx3-ubyte.gz>",
    )?;
    let labels = IdxArray::read_named(
        DIGITS_LABELS_IDX_GZ,
        "<embedded digits-labels-idx1-ubyte.gz>",
    )?;
    Dataset::from_idx(&images, &labels, 10)
}
