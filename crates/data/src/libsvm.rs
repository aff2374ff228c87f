//! The LIBSVM / svmlight text format, read into dense features.

use std::io::{BufRead, Read};
use std::path::Path;

use tapegrad_tape::{Float, Tensor};

use crate::dataset::Dataset;
use crate::error::{DataError, Position, Result, STREAM, excerpt};
use crate::gzip::{maybe_gunzip, open};
use crate::labels::LabelMap;
use crate::limit::DEFAULT_MAX_BYTES;

/// A LIBSVM file read as a classification dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Libsvm<T: Float = f32> {
    /// Features `[N, F]` and class indices (label values mapped by `label_map`).
    pub dataset: Dataset<T>,
    /// Label value ↔ class index: the reader's map if one was given, else the
    /// sorted distinct labels of this file.
    pub label_map: LabelMap,
    /// The label values as written (e.g. a regression target), one per sample.
    pub targets: Vec<f64>,
}

/// Reads the LIBSVM / svmlight text format into dense features; configured by
/// builder methods, `LibsvmReader::new()` infers everything.
///
/// One sample per line: `<label> [qid:<n>] <index>:<value> ...`, indices
/// 1-based and strictly increasing, absent features 0. `#` starts a comment
/// that runs to the end of the line; blank and comment-only lines are skipped;
/// items may be separated by any run of spaces and tabs; CRLF line ends work.
///
/// Compared with scikit-learn's `load_svmlight_file` (defaults), on the
/// edge-case files it ships:
/// - `svmlight_classification.txt`: the same 6 × 21 matrix and labels;
/// - `svmlight_multilabel.txt`: rejected at line 2 (`1,0`), as scikit-learn
///   does without `multilabel=True`; multilabel data is not supported;
/// - `svmlight_invalid.txt`: rejected at line 1 (label `python`), as scikit-learn;
/// - `svmlight_invalid_order.txt`: rejected at line 1 (`2:` after `5:`), as
///   scikit-learn ("indices should be sorted and unique"); a repeated index is
///   rejected the same way.
///
/// Where they differ: index 0 is always an error here (indices are 1-based, as
/// LIBSVM requires), while scikit-learn's `zero_based="auto"` would silently
/// re-read the whole file as 0-based; a line whose first item is a feature (no
/// label) is an error here; `qid:<n>` is checked to be an integer and then
/// ignored; NaN and infinite labels or values are rejected.
///
/// The features come out dense, `rows × F` elements for a file that may store
/// a few of them: a 15-byte line `1 1000000000:1` asks for 4 GB of `f32`. So
/// the reader keeps a budget, [`LibsvmReader::max_bytes`] (default
/// [`DEFAULT_MAX_BYTES`], 1 GiB): after each line, and every 1024 values
/// within one, the dense matrix the lines so far describe
/// (`rows × F × size_of::<T>()`) plus the sparse rows it holds while parsing
/// (16 bytes per value and per row) must fit in it, and one line of text may
/// not be longer than it; the first line that crosses the budget is refused
/// with [`DataError::OverLimit`], before the matrix is allocated. A gzipped
/// file is inflated line by line under the same budget. The reader's peak
/// memory is thus about the budget plus one line of text.
///
/// ```
/// use tapegrad_data::LibsvmReader;
/// let text = "+1 1:0.5 3:-1 # a comment\n\n-1 2:2\n";
/// let file = LibsvmReader::new().read::<f32, _>(text.as_bytes()).unwrap();
/// assert_eq!(file.dataset.features().shape(), &[2, 3]);
/// assert_eq!(file.dataset.features().data(), &[0.5, 0.0, -1.0, 0.0, 2.0, 0.0]);
/// assert_eq!(file.dataset.labels(), &[1, 0]); // -1 → 0, +1 → 1
/// assert_eq!(file.label_map.values(), &[-1.0, 1.0]);
///
/// // A test file read with the training file's width and label map.
/// let test = LibsvmReader::new()
///     .num_features(5)
///     .label_map(file.label_map.clone())
///     .read::<f64, _>("-1 4:1\n".as_bytes())
///     .unwrap();
/// assert_eq!(test.dataset.features().shape(), &[1, 5]);
/// assert_eq!(test.dataset.num_classes(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct LibsvmReader {
    num_features: Option<usize>,
    label_map: Option<LabelMap>,
    max_bytes: u64,
}

impl Default for LibsvmReader {
    fn default() -> Self {
        Self {
            num_features: None,
            label_map: None,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

impl LibsvmReader {
    /// Infers the feature count (the largest index) and the label map (the
    /// sorted distinct labels); the memory budget is [`DEFAULT_MAX_BYTES`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the memory budget: the most bytes the dense features and the
    /// parsed rows may take, and the longest a line may be.
    ///
    /// ```
    /// use tapegrad_data::{DataError, LibsvmReader};
    /// let text = "1 1:1\n1 300:1\n";
    /// let err = LibsvmReader::new().max_bytes(1000).read::<f32, _>(text.as_bytes()).unwrap_err();
    /// // 2 rows × 300 features × 4 bytes, + 16 for each of 2 values and 2 rows
    /// assert!(matches!(err, DataError::OverLimit { needed: 2464, limit: 1000, .. }));
    /// assert!(LibsvmReader::new().max_bytes(4000).read::<f32, _>(text.as_bytes()).is_ok());
    /// ```
    pub fn max_bytes(self, max_bytes: u64) -> Self {
        Self { max_bytes, ..self }
    }

    /// Fixes the feature count F: an index above it is an error, and every
    /// row is F wide even if the file never uses the last indices.
    pub fn num_features(self, num_features: usize) -> Self {
        Self {
            num_features: Some(num_features),
            ..self
        }
    }

    /// Maps labels with `map` (e.g. the training file's); a label not in it is an error.
    pub fn label_map(self, map: LabelMap) -> Self {
        Self {
            label_map: Some(map),
            ..self
        }
    }

    /// Reads from `reader` (plain or gzipped text); errors name it `<stream>`.
    pub fn read<T: Float, R: Read>(&self, reader: R) -> Result<Libsvm<T>> {
        self.read_named(reader, STREAM)
    }

    /// Reads from `reader` (plain or gzipped text); errors name it `name`.
    pub fn read_named<T: Float, R: Read>(&self, reader: R, name: &str) -> Result<Libsvm<T>> {
        let mut input = maybe_gunzip(reader, name)?;
        let sparse = self.parse::<T>(&mut input, name)?;
        self.densify(sparse, name)
    }

    /// Reads the file at `path` (plain or gzipped text); errors name the path.
    pub fn from_path<T: Float>(&self, path: impl AsRef<Path>) -> Result<Libsvm<T>> {
        let (file, name) = open(path.as_ref())?;
        self.read_named(file, &name)
    }

    fn parse<T: Float>(&self, input: &mut dyn BufRead, file: &str) -> Result<Sparse> {
        let mut sparse = Sparse::default();
        let mut buf = Vec::new();
        let mut line = 0;
        loop {
            buf.clear();
            line += 1;
            // One byte past the budget tells a line that is too long.
            let read = input
                .take(self.max_bytes.saturating_add(1))
                .read_until(b'\n', &mut buf);
            if read.map_err(|source| DataError::ReadFailed {
                file: file.to_owned(),
                position: Position::Line(line),
                source,
            })? == 0
            {
                return Ok(sparse);
            }
            if buf.len() as u64 > self.max_bytes {
                return Err(self.over_limit(
                    file,
                    line,
                    "the text of one line".into(),
                    buf.len() as u128,
                ));
            }
            let text = std::str::from_utf8(&buf).map_err(|e| DataError::BadLine {
                file: file.to_owned(),
                line,
                reason: format!("not UTF-8 text ({e})"),
            })?;
            let mut parser = LineParser {
                file,
                line,
                reader: self,
                fits: |x| T::from_f64(x).is_finite(),
                element_type: T::NAME,
                element_size: std::mem::size_of::<T>(),
            };
            parser.parse(text, &mut sparse)?;
        }
    }

    fn over_limit(&self, file: &str, line: usize, what: String, needed: u128) -> DataError {
        DataError::OverLimit {
            file: file.to_owned(),
            position: Position::Line(line),
            what,
            needed,
            limit: self.max_bytes,
            raise: "LibsvmReader::max_bytes",
        }
    }

    fn densify<T: Float>(&self, sparse: Sparse, file: &str) -> Result<Libsvm<T>> {
        let width = self.num_features.unwrap_or(sparse.max_index);
        let rows = sparse.targets.len();
        let too_large = || DataError::TooLarge {
            file: file.to_owned(),
            what: "the dense feature matrix",
            elements: rows as u128 * width as u128,
        };
        let numel = rows.checked_mul(width).ok_or_else(too_large)?;
        let mut dense = Vec::new();
        dense.try_reserve_exact(numel).map_err(|_| too_large())?;
        dense.resize(numel, T::ZERO);
        let mut start = 0;
        for (row, &end) in sparse.row_ends.iter().enumerate() {
            for k in start..end {
                dense[row * width + sparse.columns[k]] = T::from_f64(sparse.values[k]);
            }
            start = end;
        }
        let label_map = match &self.label_map {
            Some(map) => map.clone(),
            None => LabelMap::new(sparse.targets.clone())?,
        };
        // Every target was checked finite (and, with a given map, present) by the parser.
        let labels = sparse
            .targets
            .iter()
            .map(|&t| label_map.class_of(t).unwrap_or(0))
            .collect();
        let features = Tensor::from_vec(dense, &[rows, width])?;
        Ok(Libsvm {
            dataset: Dataset::new(features, labels, label_map.len())?,
            label_map,
            targets: sparse.targets,
        })
    }
}

/// Rows in compressed sparse row form (0-based columns).
#[derive(Default)]
struct Sparse {
    targets: Vec<f64>,
    row_ends: Vec<usize>,
    columns: Vec<usize>,
    values: Vec<f64>,
    max_index: usize,
}

/// The checks of one line, with what its errors need to say where they are.
struct LineParser<'a> {
    file: &'a str,
    line: usize,
    reader: &'a LibsvmReader,
    /// Whether a finite `f64` stays finite in the element type.
    fits: fn(f64) -> bool,
    element_type: &'static str,
    element_size: usize,
}

/// How many items of one line are parsed between two checks of the budget.
const ITEMS_PER_CHECK: usize = 1024;

impl LineParser<'_> {
    fn parse(&mut self, text: &str, sparse: &mut Sparse) -> Result<()> {
        let content = text.split('#').next().unwrap_or("");
        let mut items = content.split_ascii_whitespace().peekable();
        let Some(label) = items.next() else {
            return Ok(());
        };
        let target = self.label(label)?;
        if let Some(qid) = items.next_if(|item| item.starts_with("qid:")) {
            self.qid(qid)?;
        }
        let mut previous = 0;
        for (k, item) in items.enumerate() {
            let (index, value) = self.feature(item, previous)?;
            sparse.columns.push(index - 1);
            sparse.values.push(value);
            previous = index;
            if (k + 1) % ITEMS_PER_CHECK == 0 {
                let rows = sparse.targets.len() + 1;
                self.check_budget(sparse, rows, sparse.max_index.max(previous))?;
            }
        }
        sparse.max_index = sparse.max_index.max(previous);
        sparse.targets.push(target);
        sparse.row_ends.push(sparse.columns.len());
        self.check_budget(sparse, sparse.targets.len(), sparse.max_index)
    }

    /// Whether `rows` rows as wide as `max_index` (or the given feature
    /// count) fit the budget: their dense matrix, plus the sparse rows held
    /// until it is built.
    fn check_budget(&self, sparse: &Sparse, rows: usize, max_index: usize) -> Result<()> {
        let rows = rows as u128;
        let width = self.reader.num_features.unwrap_or(max_index) as u128;
        let dense = rows * width * self.element_size as u128;
        let held = 16 * (rows + sparse.values.len() as u128);
        if dense + held <= u128::from(self.reader.max_bytes) {
            return Ok(());
        }
        let what = format!(
            "a dense {rows} × {width} {} matrix and the parsed values",
            self.element_type
        );
        Err(self
            .reader
            .over_limit(self.file, self.line, what, dense + held))
    }

    fn label(&self, token: &str) -> Result<f64> {
        let bad = |reason: String| DataError::BadLabel {
            file: self.file.to_owned(),
            line: self.line,
            token: excerpt(token),
            reason,
        };
        if token.contains(',') {
            return Err(bad(
                "multilabel (comma-separated) labels are not supported".into()
            ));
        }
        if token.contains(':') {
            return Err(bad(
                "the line has no label (it starts with a feature)".into()
            ));
        }
        let value: f64 = token.parse().map_err(|_| bad("not a number".into()))?;
        if !value.is_finite() {
            return Err(bad("labels must be finite".into()));
        }
        match &self.reader.label_map {
            Some(map) if map.class_of(value).is_none() => Err(bad(format!(
                "not one of the label map's {} values {}",
                map.len(),
                excerpt(&format!("{:?}", map.values()))
            ))),
            _ => Ok(value),
        }
    }

    fn qid(&self, token: &str) -> Result<()> {
        match token["qid:".len()..].parse::<i64>() {
            Ok(_) => Ok(()),
            Err(_) => Err(self.bad_feature(token, "qid must be an integer".into())),
        }
    }

    fn feature(&self, token: &str, previous: usize) -> Result<(usize, f64)> {
        if token.starts_with("qid:") {
            return Err(self.bad_feature(token, "qid must come right after the label".into()));
        }
        let Some((index, value)) = token.split_once(':') else {
            return Err(self.bad_feature(token, "expected index:value".into()));
        };
        let index: usize = index.parse().map_err(|_| {
            self.bad_feature(token, "the index is not a non-negative integer".into())
        })?;
        let value: f64 = value
            .parse()
            .map_err(|_| self.bad_feature(token, "the value is not a number".into()))?;
        let reason = if index == 0 {
            "index 0: indices are 1-based".to_owned()
        } else if index <= previous {
            format!("indices must be strictly increasing (previous index {previous})")
        } else if let Some(count) = self.reader.num_features.filter(|&f| index > f) {
            format!("index exceeds the feature count {count}")
        } else if !value.is_finite() {
            "values must be finite".to_owned()
        } else if !(self.fits)(value) {
            format!("the value overflows {}", self.element_type)
        } else {
            return Ok((index, value));
        };
        Err(self.bad_feature(token, reason))
    }

    fn bad_feature(&self, token: &str, reason: String) -> DataError {
        DataError::BadFeature {
            file: self.file.to_owned(),
            line: self.line,
            token: excerpt(token),
            reason,
        }
    }
}
