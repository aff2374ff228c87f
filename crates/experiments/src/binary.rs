//! The two-class data sets of the convergence experiment.

use std::fmt;
use std::path::PathBuf;

use tapegrad_data::{DIGITS_MAX_VALUE, LibsvmReader, digits};

use super::error::Result;
use super::logreg::BinarySet;

/// Where `../shared/data/<relative>` is, if it exists.
///
/// ```
/// assert!(tapegrad_experiments::shared_data("no/such/file").is_none());
/// ```
pub fn shared_data(relative: &str) -> Option<PathBuf> {
    let path =
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")).join(relative);
    path.exists().then_some(path)
}

/// A two-class problem: `(train, test)` [`BinarySet`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinarySource {
    /// LIBSVM a9a (UCI Adult): 32561 training and 16281 test samples, 123
    /// binary features; +1 is income > 50K.
    A9a,
    /// LIBSVM heart_scale: 270 samples, 13 features in [−1, 1], split 80/20 by seed 0.
    HeartScale,
    /// The embedded 8×8 digits, features / 16, classes 0–4 (−1) against 5–9
    /// (+1), split 80/20 by seed 0. Needs no files.
    Digits,
}

impl BinarySource {
    /// `preferred` if its files are under `../shared/data`, else [`BinarySource::Digits`].
    pub fn available(preferred: BinarySource) -> BinarySource {
        let needed = match preferred {
            BinarySource::A9a => ["libsvm/a9a", "libsvm/a9a.t"].as_slice(),
            BinarySource::HeartScale => ["libsvm/heart_scale"].as_slice(),
            BinarySource::Digits => [].as_slice(),
        };
        if needed.iter().all(|f| shared_data(f).is_some()) {
            preferred
        } else {
            BinarySource::Digits
        }
    }

    /// Reads the training and test sets.
    ///
    /// ```
    /// use tapegrad_experiments::BinarySource;
    /// let (train, test) = BinarySource::Digits.load().unwrap();
    /// assert_eq!((train.len(), test.len(), train.dim()), (1437, 360, 65));
    /// ```
    pub fn load(self) -> Result<(BinarySet, BinarySet)> {
        let positive = |c: usize| c == 1;
        match self {
            BinarySource::A9a => {
                let path = |f| shared_data(f).unwrap_or_else(|| PathBuf::from(f));
                let train = LibsvmReader::new()
                    .num_features(123)
                    .from_path::<f64>(path("libsvm/a9a"))?;
                let test = LibsvmReader::new()
                    .num_features(123)
                    .label_map(train.label_map.clone())
                    .from_path::<f64>(path("libsvm/a9a.t"))?;
                Ok((
                    BinarySet::new(&train.dataset, positive)?,
                    BinarySet::new(&test.dataset, positive)?,
                ))
            }
            BinarySource::HeartScale => {
                let path = shared_data("libsvm/heart_scale")
                    .unwrap_or_else(|| PathBuf::from("libsvm/heart_scale"));
                let all = LibsvmReader::new().from_path::<f64>(path)?.dataset;
                let (train, test) = all.train_test_split(0, 0.2)?;
                Ok((
                    BinarySet::new(&train, positive)?,
                    BinarySet::new(&test, positive)?,
                ))
            }
            BinarySource::Digits => {
                let all = digits()?.scale(1.0 / DIGITS_MAX_VALUE).cast::<f64>();
                let (train, test) = all.train_test_split(0, 0.2)?;
                let high = |c: usize| c >= 5;
                Ok((BinarySet::new(&train, high)?, BinarySet::new(&test, high)?))
            }
        }
    }
}

impl fmt::Display for BinarySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BinarySource::A9a => "a9a",
            BinarySource::HeartScale => "heart_scale",
            BinarySource::Digits => "digits 0-4 vs 5-9",
        })
    }
}
