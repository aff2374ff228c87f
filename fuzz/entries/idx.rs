//! Fuzz entry points for the IDX reader, shared by `fuzz_targets/idx_*.rs` and
//! the replay test `crates/data/tests/fuzz_corpus.rs`.
//!
//! Every input must give `Ok` or `Err`, never a panic; what is read must
//! encode back to the very bytes it came from (the format has one encoding per
//! array), and convert to a tensor and to labels without panicking.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use tapegrad_data::{Dataset, IdxArray, IdxReader};

/// The reader's limit under the fuzzer: small enough that no input can reach
/// the 2 GB RSS limit, large enough that no input of a few kilobytes inflates
/// past it except a deliberate bomb.
pub const MAX_BYTES: u64 = 64 << 20;

/// The input is the file, read as a raw IDX stream (a leading `1f 8b` still
/// switches to gzip, as the reader does for any input).
pub fn raw(data: &[u8]) {
    let read = IdxReader::new().max_bytes(MAX_BYTES).read(data);
    if let Ok(array) = read {
        if !data.starts_with(&[0x1f, 0x8b]) {
            assert_eq!(array.to_bytes(), data, "a raw file re-encodes to itself");
        }
        exercise(&array);
    }
}

/// The first byte chooses: even, the rest is the gzip file as stored (corrupt
/// streams, several members, bombs); odd, the rest is an IDX file that is
/// compressed here first, so the fuzzer steers the decompressed content.
pub fn gzip(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let file = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(rest).expect("writing to a Vec");
        encoder.finish().expect("writing to a Vec")
    };
    let read = IdxReader::new().max_bytes(MAX_BYTES).read(&file[..]);
    if let Ok(array) = read {
        if mode % 2 == 1 {
            assert_eq!(
                array.to_bytes(),
                rest,
                "the inflated file re-encodes to itself"
            );
        }
        exercise(&array);
    }
}

/// The conversions a caller makes of a decoded array.
fn exercise(array: &IdxArray) {
    let tensor = array
        .to_tensor::<f32>()
        .expect("an array read has consistent dims");
    assert_eq!(tensor.shape(), array.dims());
    let _ = array.to_labels(10);
    let _ = Dataset::<f64>::from_idx(array, array, 256);
}
