//! The embedded UCI digits, and their equality with the CSV they were made from.

mod common;
#[path = "../examples/support/digits_csv.rs"]
mod digits_csv;

use std::io::Read;

use tapegrad_data::{
    DIGITS_IMAGES_IDX_GZ, DIGITS_LABELS_IDX_GZ, DIGITS_MAX_VALUE, IdxArray, digits,
};

#[test]
fn embedded_digits_have_the_published_shape_and_class_counts() {
    let ds = digits().unwrap();
    assert_eq!(ds.features().shape(), &[1797, 8, 8]);
    assert_eq!(ds.num_classes(), 10);
    assert_eq!(
        ds.class_counts(),
        vec![178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    );
    let data = ds.features().data();
    assert!(
        data.iter()
            .all(|&v| v.fract() == 0.0 && (0.0..=DIGITS_MAX_VALUE).contains(&v))
    );
    assert_eq!(
        data.iter().cloned().fold(0.0f32, f32::max),
        DIGITS_MAX_VALUE
    );
    // The first image of scikit-learn's load_digits() (a 0), first two rows.
    assert_eq!(
        data[..16],
        [
            0., 0., 5., 13., 9., 1., 0., 0., 0., 0., 13., 15., 10., 15., 5., 0.
        ]
    );
}

#[test]
fn embedded_files_are_byte_equal_to_the_idx_encoding_of_the_csv() {
    let Some(csv) = common::shared("digits/digits.csv.gz") else {
        return;
    };
    let (images, labels) = digits_csv::digits_from_csv(&csv).unwrap();
    assert_eq!(images.dims(), &[1797, 8, 8]);
    for (embedded, expected) in [
        (DIGITS_IMAGES_IDX_GZ, &images),
        (DIGITS_LABELS_IDX_GZ, &labels),
    ] {
        assert_eq!(&embedded[..2], &[0x1f, 0x8b], "stored gzipped");
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(embedded)
            .read_to_end(&mut raw)
            .unwrap();
        assert_eq!(raw, expected.to_bytes());
        assert_eq!(IdxArray::read(embedded).unwrap().data(), expected.data());
    }
}
