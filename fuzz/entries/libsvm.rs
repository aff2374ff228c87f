//! Fuzz entry point for the LIBSVM reader, shared by `fuzz_targets/libsvm.rs`
//! and the replay test `crates/data/tests/fuzz_corpus.rs`.
//!
//! Every input must give `Ok` or `Err`, never a panic, and what is read must be
//! consistent: `rows × width` features, one label and one target per row,
//! labels below the class count, the given width and label map kept.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use tapegrad_data::{LabelMap, Libsvm, LibsvmReader};
use tapegrad_tape::Float;

/// The reader's budget under the fuzzer (see `idx::MAX_BYTES`).
pub const MAX_BYTES: u64 = 64 << 20;

/// The first byte holds options: bit 0 reads `f64` (else `f32`), bit 1 fixes
/// the width at 8 features, bit 2 gives the label map {-1, +1}, bit 3
/// compresses the rest first; the rest is the file.
pub fn run(data: &[u8]) {
    let Some((&options, text)) = data.split_first() else {
        return;
    };
    let mut reader = LibsvmReader::new().max_bytes(MAX_BYTES);
    let width = (options & 2 != 0).then_some(8);
    if let Some(width) = width {
        reader = reader.num_features(width);
    }
    let map = (options & 4 != 0).then(|| LabelMap::new(vec![-1.0, 1.0]).expect("finite labels"));
    if let Some(map) = &map {
        reader = reader.label_map(map.clone());
    }
    let file = if options & 8 != 0 {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(text).expect("writing to a Vec");
        encoder.finish().expect("writing to a Vec")
    } else {
        text.to_vec()
    };
    if options & 1 != 0 {
        check(reader.read::<f64, _>(&file[..]), width, map.as_ref());
    } else {
        check(reader.read::<f32, _>(&file[..]), width, map.as_ref());
    }
}

fn check<T: Float>(
    read: tapegrad_data::Result<Libsvm<T>>,
    width: Option<usize>,
    map: Option<&LabelMap>,
) {
    let Ok(file) = read else {
        return;
    };
    let ds = &file.dataset;
    let shape = ds.features().shape();
    assert_eq!(shape.len(), 2);
    assert_eq!(shape[0], ds.len());
    assert_eq!(file.targets.len(), ds.len());
    if let Some(width) = width {
        assert_eq!(shape[1], width);
    }
    if let Some(map) = map {
        assert_eq!(&file.label_map, map);
    }
    assert_eq!(ds.num_classes(), file.label_map.len());
    for (&label, &target) in ds.labels().iter().zip(&file.targets) {
        assert_eq!(file.label_map.class_of(target), Some(label));
    }
    assert!(ds.features().data().iter().all(|x| x.to_f64().is_finite()));
}
