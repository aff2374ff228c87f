//! The IDX reader and writer on small arrays and on corrupt inputs.

mod common;

use tapegrad_data::{DataError, Dataset, IdxArray, IdxData, IdxDtype, IdxReader, Position};

fn u8_array(dims: &[usize]) -> IdxArray {
    let n = dims.iter().product();
    IdxArray::new(
        dims,
        IdxData::U8((0..n).map(|i| (i * 7 % 256) as u8).collect()),
    )
    .unwrap()
}

#[test]
fn every_dtype_round_trips_raw_and_gzipped() {
    let arrays = [
        IdxData::U8(vec![0, 1, 255, 128, 7, 9]),
        IdxData::I8(vec![-128, -1, 0, 1, 127, 5]),
        IdxData::I16(vec![-32768, -2, 0, 300, 32767, 1]),
        IdxData::I32(vec![i32::MIN, -70000, 0, 1, 70000, i32::MAX]),
        IdxData::F32(vec![-1.5, 0.0, 1e-30, 3.25, f32::MAX, -0.0]),
        IdxData::F64(vec![-1.5e300, 0.1, 2.0, 1e-310, -7.0, 0.5]),
    ];
    for data in arrays {
        let array = IdxArray::new(&[2, 3], data.clone()).unwrap();
        for gzip in [false, true] {
            let mut bytes = Vec::new();
            array.write(&mut bytes, gzip).unwrap();
            assert_eq!(bytes[..2] == [0x1f, 0x8b], gzip);
            let back = IdxArray::read(&bytes[..]).unwrap();
            assert_eq!(back.dims(), &[2, 3]);
            assert_eq!(back.data(), &data);
            assert_eq!(back.source(), "<stream>");
        }
    }
}

#[test]
fn multi_byte_elements_are_big_endian() {
    let bytes = [
        0, 0, 0x0C, 1, 0, 0, 0, 2, 0x00, 0x00, 0x01, 0x02, 0xff, 0xff, 0xff, 0xfe,
    ];
    let array = IdxArray::read(&bytes[..]).unwrap();
    assert_eq!(array.dtype(), IdxDtype::I32);
    assert_eq!(array.data(), &IdxData::I32(vec![258, -2]));
    let f = [0, 0, 0x0D, 1, 0, 0, 0, 1, 0x3f, 0xc0, 0, 0];
    assert_eq!(
        IdxArray::read(&f[..]).unwrap().data(),
        &IdxData::F32(vec![1.5])
    );
}

#[test]
fn zero_dimensional_and_empty_arrays_are_valid() {
    let scalar = IdxArray::read(&[0u8, 0, 0x08, 0, 42][..]).unwrap();
    assert_eq!(scalar.dims(), &[] as &[usize]);
    assert_eq!(scalar.data(), &IdxData::U8(vec![42]));
    let empty = IdxArray::read(&[0u8, 0, 0x08, 2, 0, 0, 0, 0, 0, 0, 0, 5][..]).unwrap();
    assert_eq!(empty.dims(), &[0, 5]);
    assert!(empty.data().is_empty());
}

#[test]
fn truncated_header_names_the_offset() {
    let err = IdxArray::read_named(&[0u8, 0, 0x08, 3, 0, 0, 0, 2, 0, 0][..], "imgs").unwrap_err();
    assert!(matches!(
        err,
        DataError::Truncated {
            offset: 10,
            missing: 6,
            what: "the IDX dimensions",
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "imgs: truncated at byte 10: needed 6 more byte(s) of the IDX dimensions"
    );
    let empty = IdxArray::read(&[][..]).unwrap_err();
    assert!(matches!(
        empty,
        DataError::Truncated {
            offset: 0,
            missing: 4,
            ..
        }
    ));
}

#[test]
fn truncated_data_names_the_offset_raw_and_gzipped() {
    let mut bytes = u8_array(&[3, 4, 4]).to_bytes();
    bytes.truncate(bytes.len() - 5);
    for input in [bytes.clone(), common::gzip(&bytes)] {
        let err = IdxArray::read_named(&input[..], "t.idx").unwrap_err();
        assert!(
            matches!(
                err,
                DataError::Truncated {
                    offset: 59,
                    missing: 5,
                    what: "the IDX elements",
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string().starts_with("t.idx: truncated at byte 59"),
            "{err}"
        );
    }
}

#[test]
fn a_cut_gzip_stream_is_a_read_error_with_the_offset_reached() {
    let gz = common::gzip(&u8_array(&[100, 10, 10]).to_bytes());
    let cut = &gz[..gz.len() / 2];
    let err = IdxArray::read_named(cut, "cut.gz").unwrap_err();
    match &err {
        DataError::ReadFailed {
            file,
            position: Position::Byte(offset),
            ..
        } => {
            assert_eq!(file, "cut.gz");
            assert!(*offset < 10_016, "{err}");
        }
        DataError::Truncated { file, .. } => assert_eq!(file, "cut.gz"),
        other => panic!("unexpected error {other}"),
    }
    assert!(err.to_string().starts_with("cut.gz: "), "{err}");
}

#[test]
fn wrong_magic_and_unsupported_dtype_are_rejected() {
    // A text file, a little-endian magic, and an IDX with dtype 0x0A.
    let err = IdxArray::read_named(&b"P5\n28 28\n255\n"[..], "x.pgm").unwrap_err();
    assert!(matches!(
        err,
        DataError::BadMagic {
            found: [b'P', b'5', b'\n', b'2'],
            ..
        }
    ));
    assert!(
        err.to_string()
            .starts_with("x.pgm: byte 0: bad IDX magic number"),
        "{err}"
    );
    let little = [0x03u8, 0x08, 0, 0];
    assert!(matches!(
        IdxArray::read(&little[..]),
        Err(DataError::BadMagic { .. })
    ));
    let err = IdxArray::read_named(&[0u8, 0, 0x0A, 1, 0, 0, 0, 1, 0][..], "y").unwrap_err();
    assert!(matches!(
        err,
        DataError::UnsupportedDtype { dtype: 0x0A, .. }
    ));
    assert_eq!(err.to_string(), "y: byte 2: unsupported IDX dtype 0x0a");
}

#[test]
fn trailing_bytes_are_rejected_at_their_offset() {
    let mut bytes = u8_array(&[2, 2]).to_bytes();
    bytes.extend_from_slice(&[1, 2, 3]);
    let err = IdxArray::read(&bytes[..]).unwrap_err();
    assert!(
        matches!(err, DataError::TrailingData { offset: 16, .. }),
        "{err}"
    );
}

#[test]
fn a_header_claiming_a_huge_array_fails_without_allocating_it() {
    // 4 × 2³² − 1 elements of f64: more than the address space on 32-bit, and
    // far more than the input on 64-bit, which must end as a truncation.
    let mut bytes = vec![0u8, 0, 0x0E, 4];
    for _ in 0..4 {
        bytes.extend_from_slice(&u32::MAX.to_be_bytes());
    }
    bytes.extend_from_slice(&[0; 64]);
    let err = IdxArray::read(&bytes[..]).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::BadHeader { offset: 4, .. } | DataError::TooLarge { .. }
        ),
        "{err}"
    );
    bytes[3] = 1;
    bytes.truncate(8 + 64);
    // 8 × (2³² − 1) bytes: over the default limit, refused from the header.
    let err = IdxArray::read(&bytes[..]).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::OverLimit {
                needed: 34_359_738_360,
                ..
            }
        ),
        "{err}"
    );
    // With the limit lifted, the input runs out long before the claim.
    let err = IdxReader::new()
        .max_bytes(u64::MAX)
        .read(&bytes[..])
        .unwrap_err();
    assert!(
        matches!(err, DataError::Truncated { offset: 72, .. }),
        "{err}"
    );
}

#[test]
fn labels_are_checked_against_the_images_and_the_class_count() {
    let images = u8_array(&[3, 2, 2]);
    let labels = IdxArray::new(&[2], IdxData::U8(vec![0, 1])).unwrap();
    let err = Dataset::<f32>::from_idx(&images, &labels, 10).unwrap_err();
    assert!(matches!(
        err,
        DataError::CountMismatch {
            image_count: 3,
            label_count: 2,
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "<stream> holds 3 items but <stream> holds 2 labels"
    );

    let labels =
        IdxArray::read_named(&[0u8, 0, 0x09, 1, 0, 0, 0, 3, 1, 0xff, 2][..], "lab").unwrap();
    let err = Dataset::<f32>::from_idx(&images, &labels, 10).unwrap_err();
    assert_eq!(err.to_string(), "lab: byte 9: label -1 is outside 0..10");

    let float_labels = IdxArray::new(&[3], IdxData::F32(vec![0.0, 1.0, 2.0])).unwrap();
    let err = Dataset::<f32>::from_idx(&images, &float_labels, 10).unwrap_err();
    assert!(
        matches!(err, DataError::BadHeader { offset: 2, .. }),
        "{err}"
    );

    let two_d = u8_array(&[3, 1]);
    assert!(matches!(
        Dataset::<f32>::from_idx(&images, &two_d, 256),
        Err(DataError::BadHeader { offset: 3, .. })
    ));
}

#[test]
fn from_path_names_the_path_in_every_error() {
    let dir = common::temp_dir("idx-path");
    let path = dir.join("bad-magic.idx");
    std::fs::write(&path, [9u8, 9, 9, 9]).unwrap();
    let err = IdxArray::from_path(&path).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("{}: byte 0", path.display())),
        "{err}"
    );
    let missing = IdxArray::from_path(dir.join("absent.idx")).unwrap_err();
    assert!(matches!(missing, DataError::Io { .. }));
    assert!(missing.to_string().contains("absent.idx"), "{missing}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn write_path_replaces_atomically_and_leaves_no_temporary_file() {
    let dir = common::temp_dir("idx-write");
    let path = dir.join("a.idx.gz");
    u8_array(&[2, 3]).write_path(&path, true).unwrap();
    let second = u8_array(&[4, 5]);
    second.write_path(&path, true).unwrap();
    assert_eq!(IdxArray::from_path(&path).unwrap().data(), second.data());
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("a.idx.gz")]);
    // A directory in the way of the rename: the write fails, names the path and cleans up.
    let blocked = dir.join("blocked");
    std::fs::create_dir(&blocked).unwrap();
    std::fs::write(blocked.join("inner"), b"x").unwrap();
    let err = second.write_path(&blocked, false).unwrap_err();
    assert!(err.to_string().contains("blocked"), "{err}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn new_rejects_inconsistent_arrays() {
    assert!(IdxArray::new(&[2, 2], IdxData::U8(vec![1, 2, 3])).is_err());
    assert!(IdxArray::new(&[usize::MAX], IdxData::U8(vec![])).is_err());
    assert!(IdxArray::new(&[1; 256], IdxData::U8(vec![0])).is_err());
}
