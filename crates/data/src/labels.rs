//! `LabelMap`: the sorted distinct label values of a file, and their class indices.

use crate::error::{DataError, Result};

/// Class index `k` stands for the k-th smallest distinct label value.
///
/// A LIBSVM file writes labels as numbers (`-1`/`+1`, `1`/`2`/`3`, `1.0`); the
/// map turns them into class indices `0..K`. Read a test file with the
/// training file's map so both agree on the indices.
///
/// ```
/// use tapegrad_data::LabelMap;
/// let map = LabelMap::new(vec![1.0, -1.0, 1.0]).unwrap();
/// assert_eq!(map.values(), &[-1.0, 1.0]);
/// assert_eq!(map.class_of(1.0), Some(1));
/// assert_eq!(map.class_of(0.5), None);
/// assert_eq!(map.value_of(0), Some(-1.0));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LabelMap {
    values: Vec<f64>,
}

impl LabelMap {
    /// The map of the distinct values among `values`, sorted ascending. Errors
    /// on a NaN or infinite value.
    pub fn new(mut values: Vec<f64>) -> Result<Self> {
        if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
            return Err(DataError::InvalidArgument {
                op: "LabelMap::new",
                name: "values",
                value: bad.to_string(),
                reason: "labels must be finite".into(),
            });
        }
        // -0 and +0 are one label; total_cmp alone would keep both.
        values
            .iter_mut()
            .filter(|v| **v == 0.0)
            .for_each(|v| *v = 0.0);
        values.sort_by(f64::total_cmp);
        values.dedup();
        Ok(Self { values })
    }

    /// The label values, ascending; class `k` is `values()[k]`.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The number of classes K.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The class index of a label value, if it is in the map.
    pub fn class_of(&self, value: f64) -> Option<usize> {
        let value = if value == 0.0 { 0.0 } else { value };
        self.values.binary_search_by(|v| v.total_cmp(&value)).ok()
    }

    /// The label value of a class index.
    pub fn value_of(&self, class: usize) -> Option<f64> {
        self.values.get(class).copied()
    }
}
