//! The memory a reader may spend on what one file describes.

/// The default of [`IdxReader::max_bytes`](crate::IdxReader::max_bytes) and
/// [`LibsvmReader::max_bytes`](crate::LibsvmReader::max_bytes): 1 GiB, twenty
/// times MNIST's largest file (47 MB of pixels), small enough that a corrupt or
/// hostile header cannot take the machine's memory.
///
/// ```
/// assert_eq!(tapegrad_data::DEFAULT_MAX_BYTES, 1 << 30);
/// ```
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;
