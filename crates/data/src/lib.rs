//! # tapegrad-data
//!
//! Datasets for tapegrad: readers for the IDX format (MNIST, Fashion-MNIST) and
//! the LIBSVM/svmlight format, the UCI optical digits embedded in the crate,
//! train/test splitting, normalization, and a seeded minibatch loader.
//!
//! ```
//! use rand::{SeedableRng, rngs::StdRng};
//! use tapegrad_data::{Standardizer, batches, digits};
//! let all = digits().unwrap().scale(1.0 / tapegrad_data::DIGITS_MAX_VALUE);
//! let (train, test) = all.train_test_split(0, 0.2).unwrap();
//! let norm = Standardizer::fit_global(&train).unwrap();
//! let (train, test) = (norm.apply(&train).unwrap().flatten(), norm.apply(&test).unwrap().flatten());
//! let mut rng = StdRng::seed_from_u64(0);
//! for (x, y) in batches(&train, 32, true, false, &mut rng).unwrap() {
//!     assert_eq!(x.shape(), &[y.len(), 64]);
//! }
//! assert_eq!(test.len(), 360);
//! ```

mod dataset;
mod digits;
pub mod error;
pub mod gzip;
pub mod idx;
mod labels;
mod libsvm;
mod limit;
mod loader;
mod mnist;
mod normalize;

pub use dataset::Dataset;
pub use digits::{DIGITS_IMAGES_IDX_GZ, DIGITS_LABELS_IDX_GZ, DIGITS_MAX_VALUE, digits};
pub use error::{DataError, Position, Result, STREAM};
pub use idx::{IdxArray, IdxData, IdxDtype, IdxReader};
pub use labels::LabelMap;
pub use libsvm::{Libsvm, LibsvmReader};
pub use limit::DEFAULT_MAX_BYTES;
pub use loader::{Batches, Loader, batches};
pub use mnist::{MNIST_MAX_VALUE, mnist};
pub use normalize::Standardizer;
