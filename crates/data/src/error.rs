//! The one error type of the data crate.

use tapegrad_tape::TapeError;

/// The name used in errors for data read from a plain [`std::io::Read`].
pub const STREAM: &str = "<stream>";

/// Everything that can go wrong while reading, converting or batching data.
///
/// Every variant about corrupt input names the file (its path, or `<stream>`
/// for a bare reader) and where in it the problem is: a byte offset for IDX
/// (counted in the decompressed bytes when the file is gzipped), a 1-based line
/// number for LIBSVM. Text quoted from the input (a token, a list of values)
/// is cut at [`QUOTE_CHARS`] characters and marked with `…`, so a corrupt
/// 200 MB line gives a short message.
///
/// ```
/// use tapegrad_data::{DataError, IdxArray};
/// let err = IdxArray::read(&[0u8, 0, 0x08][..]).unwrap_err();
/// assert!(matches!(err, DataError::Truncated { offset: 3, .. }));
/// assert_eq!(
///     err.to_string(),
///     "<stream>: truncated at byte 3: needed 1 more byte(s) of the IDX magic number"
/// );
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// Opening, writing or renaming a file failed.
    #[error("{file}: {source}")]
    Io {
        /// The file being read or written.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Reading failed part-way (an I/O error, or a corrupt or cut-off gzip stream).
    #[error("{file}: {position}: read failed: {source}")]
    ReadFailed {
        /// The file being read.
        file: String,
        /// How far the reader got (decompressed bytes for IDX, lines for LIBSVM).
        position: Position,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The input ended before a complete header or data block.
    #[error("{file}: truncated at byte {offset}: needed {missing} more byte(s) of {what}")]
    Truncated {
        /// The file being read.
        file: String,
        /// Where the input ended.
        offset: u64,
        /// How many more bytes the block needed.
        missing: u64,
        /// Which block was cut short.
        what: &'static str,
    },
    /// The first two bytes of an IDX file were not zero.
    #[error("{file}: byte 0: bad IDX magic number {found:02x?} (expected 00 00 <dtype> <ndim>)")]
    BadMagic {
        /// The file being read.
        file: String,
        /// The four magic bytes found.
        found: [u8; 4],
    },
    /// An IDX dtype byte other than 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E.
    #[error("{file}: byte 2: unsupported IDX dtype 0x{dtype:02x}")]
    UnsupportedDtype {
        /// The file being read.
        file: String,
        /// The dtype byte found.
        dtype: u8,
    },
    /// IDX dimensions that cannot describe an array in memory, or an array the
    /// caller cannot use (wrong rank, wrong element type).
    #[error("{file}: byte {offset}: {reason}")]
    BadHeader {
        /// The file being read.
        file: String,
        /// Offset of the offending header field.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// Bytes left over after the last IDX element.
    #[error("{file}: byte {offset}: unexpected data after the last element")]
    TrailingData {
        /// The file being read.
        file: String,
        /// Offset of the first extra byte.
        offset: u64,
    },
    /// An image file and a label file that hold different numbers of items.
    #[error("{images} holds {image_count} items but {labels} holds {label_count} labels")]
    CountMismatch {
        /// The image (features) file.
        images: String,
        /// The label file.
        labels: String,
        /// Items in the image file.
        image_count: usize,
        /// Items in the label file.
        label_count: usize,
    },
    /// A label in an IDX label file outside `0..num_classes`.
    #[error("{file}: byte {offset}: label {label} is outside 0..{num_classes}")]
    LabelOutOfRange {
        /// The label file.
        file: String,
        /// Offset of the label.
        offset: u64,
        /// The label found.
        label: i64,
        /// The number of classes allowed.
        num_classes: usize,
    },
    /// A LIBSVM line that cannot be decoded (not UTF-8).
    #[error("{file}: line {line}: {reason}")]
    BadLine {
        /// The file being read.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A LIBSVM label that is not a finite number, or not in a given label map.
    #[error("{file}: line {line}: bad label {token:?}: {reason}")]
    BadLabel {
        /// The file being read.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The label text, cut at [`QUOTE_CHARS`] characters.
        token: String,
        /// What is wrong.
        reason: String,
    },
    /// A LIBSVM `index:value` item that is malformed, has index 0, is not after
    /// the previous index, is past the given feature count, or has a non-finite
    /// value.
    #[error("{file}: line {line}: bad feature {token:?}: {reason}")]
    BadFeature {
        /// The file being read.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The item text, cut at [`QUOTE_CHARS`] characters.
        token: String,
        /// What is wrong.
        reason: String,
    },
    /// Input that would make the reader hold more than its memory limit
    /// (`IdxReader::max_bytes`, `LibsvmReader::max_bytes`); refused before that
    /// much is allocated.
    ///
    /// ```
    /// use tapegrad_data::{DataError, LibsvmReader};
    /// let err = LibsvmReader::new().read::<f32, _>("1 1000000000:1".as_bytes()).unwrap_err();
    /// assert!(matches!(err, DataError::OverLimit { limit: 1073741824, .. }));
    /// assert_eq!(
    ///     err.to_string(),
    ///     "<stream>: line 1: a dense 1 × 1000000000 f32 matrix and the parsed values \
    ///      need 4000000032 bytes, over the limit of 1073741824 bytes \
    ///      (raise it with LibsvmReader::max_bytes)"
    /// );
    /// ```
    #[error(
        "{file}: {position}: {what} need {needed} bytes, over the limit of {limit} bytes (raise it with {raise})"
    )]
    OverLimit {
        /// The file being read.
        file: String,
        /// Where the limit was crossed: the IDX dimensions, or the LIBSVM line.
        position: Position,
        /// What would have been held.
        what: String,
        /// The bytes it would take.
        needed: u128,
        /// The limit in force.
        limit: u64,
        /// The setting that raises the limit.
        raise: &'static str,
    },
    /// Data that would need more memory than can be allocated.
    #[error("{file}: {what} needs {elements} elements, more than can be allocated")]
    TooLarge {
        /// The file being read.
        file: String,
        /// What was being built.
        what: &'static str,
        /// The number of elements requested.
        elements: u128,
    },
    /// None of the accepted names of a data file exists in a directory.
    #[error("{dir}: none of {tried:?} exists")]
    MissingFile {
        /// The directory searched.
        dir: String,
        /// The file names tried, in order.
        tried: Vec<String>,
    },
    /// An argument outside its valid range.
    #[error("{op}: invalid {name} = {value}: {reason}")]
    InvalidArgument {
        /// The function that was called.
        op: &'static str,
        /// The argument's name.
        name: &'static str,
        /// The value given.
        value: String,
        /// The valid range.
        reason: String,
    },
    /// A tensor operation failed.
    #[error(transparent)]
    Tape(#[from] TapeError),
}

/// A place in an input: a byte offset (IDX) or a 1-based line number (LIBSVM).
///
/// ```
/// use tapegrad_data::Position;
/// assert_eq!(Position::Byte(16).to_string(), "byte 16");
/// assert_eq!(Position::Line(3).to_string(), "line 3");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// Offset from the start of the (decompressed) input.
    Byte(u64),
    /// 1-based line number.
    Line(usize),
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Position::Byte(offset) => write!(f, "byte {offset}"),
            Position::Line(line) => write!(f, "line {line}"),
        }
    }
}

/// The most characters of input text an error quotes; longer text is cut
/// there and ends with `…`.
pub const QUOTE_CHARS: usize = 64;

/// `text` cut to [`QUOTE_CHARS`] characters, with `…` when something was cut.
///
/// ```
/// use tapegrad_data::error::{QUOTE_CHARS, excerpt};
/// assert_eq!(excerpt("1:abc"), "1:abc");
/// let long = "9".repeat(1000);
/// let cut = excerpt(&long);
/// assert_eq!(cut.chars().count(), QUOTE_CHARS + 1);
/// assert!(cut.ends_with('…'));
/// ```
pub fn excerpt(text: &str) -> String {
    match text.char_indices().nth(QUOTE_CHARS) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// `Result` with [`DataError`].
pub type Result<T, E = DataError> = std::result::Result<T, E>;

/// Wraps an I/O error with the name of the file it came from.
pub(crate) fn io_error(file: &str) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io {
        file: file.to_owned(),
        source,
    }
}

/// Lets `?` turn a [`DataError`] into a [`TapeError`] inside a closure the tape
/// calls (a `gradcheck` function, say): a tape error comes back unchanged,
/// any other is carried by [`TapeError::External`] with its source chain.
impl From<DataError> for TapeError {
    fn from(error: DataError) -> Self {
        match error {
            DataError::Tape(inner) => inner,
            other => TapeError::External(tapegrad_tape::ExternalError::new(other)),
        }
    }
}
