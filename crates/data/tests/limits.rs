//! What a file may make the readers allocate, and how much of it an error quotes.

mod common;

use std::io::Read;

use tapegrad_data::error::QUOTE_CHARS;
use tapegrad_data::{
    DEFAULT_MAX_BYTES, DataError, IdxArray, IdxData, IdxReader, LabelMap, LibsvmReader, Position,
};

/// A reader that counts the bytes taken from it.
struct Counting<'a> {
    inner: &'a [u8],
    taken: usize,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.taken += n;
        Ok(n)
    }
}

/// An IDX header of `dtype` with extents `dims`, and no elements.
fn idx_header(dtype: u8, dims: &[u32]) -> Vec<u8> {
    let mut bytes = vec![0, 0, dtype, dims.len() as u8];
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes
}

#[test]
fn libsvm_a_huge_index_on_a_short_line_is_refused_at_that_line() {
    for text in ["1 1000000000:1", "-1 3333333331:1"] {
        let err = LibsvmReader::new()
            .read_named::<f32, _>(text.as_bytes(), "big.svm")
            .unwrap_err();
        let DataError::OverLimit {
            ref file,
            position,
            limit,
            raise,
            ..
        } = err
        else {
            panic!("{text}: {err}");
        };
        assert_eq!(
            (file.as_str(), position, limit, raise),
            (
                "big.svm",
                Position::Line(1),
                DEFAULT_MAX_BYTES,
                "LibsvmReader::max_bytes"
            )
        );
    }
}

#[test]
fn libsvm_the_error_names_the_line_that_crosses_the_budget() {
    // Width 100 from line 2 on: 4 · 100 · rows + 16 · (rows + values).
    let text = "1 1:1\n1 100:1\n1 2:1\n1 3:1\n";
    let reader = LibsvmReader::new().max_bytes(1300);
    let err = reader.read::<f32, _>(text.as_bytes()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::OverLimit {
                position: Position::Line(4),
                needed: 1728,
                limit: 1300,
                ..
            }
        ),
        "{err}"
    );
    // f64 elements take twice the room: line 2 already crosses.
    let err = reader.read::<f64, _>(text.as_bytes()).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::OverLimit {
                position: Position::Line(2),
                ..
            }
        ),
        "{err}"
    );
    let file = LibsvmReader::new()
        .max_bytes(1728)
        .read::<f32, _>(text.as_bytes())
        .unwrap();
    assert_eq!(file.dataset.features().shape(), &[4, 100]);
}

#[test]
fn libsvm_a_given_feature_count_counts_against_the_budget() {
    let err = LibsvmReader::new()
        .num_features(1 << 40)
        .read::<f32, _>("1 1:1\n".as_bytes())
        .unwrap_err();
    assert!(
        matches!(
            err,
            DataError::OverLimit {
                position: Position::Line(1),
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn libsvm_rows_without_features_count_against_the_budget() {
    let text = "1\n".repeat(1000);
    let err = LibsvmReader::new()
        .max_bytes(16 * 100)
        .read::<f32, _>(text.as_bytes())
        .unwrap_err();
    assert!(
        matches!(
            err,
            DataError::OverLimit {
                position: Position::Line(101),
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn libsvm_a_line_longer_than_the_budget_is_refused_unread() {
    // Longer than the reader's 8 KiB buffer, so reading it all would show.
    let text = format!("1{}\n", " ".repeat(100_000));
    let mut input = Counting {
        inner: text.as_bytes(),
        taken: 0,
    };
    let err = LibsvmReader::new()
        .max_bytes(1000)
        .read::<f32, _>(&mut input)
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("<stream>: line 1: the text of one line need 1001 bytes"),
        "{err}"
    );
    assert!(input.taken < text.len(), "{}", input.taken);
}

#[test]
fn libsvm_a_long_line_is_stopped_part_way_when_its_values_cross_the_budget() {
    // 5000 values on one line: 5000 × (4 + 16) bytes and more, over 64 KiB
    // before the line ends; the check comes every 1024 values.
    let items: Vec<String> = (1..=5000).map(|i| format!("{i}:1")).collect();
    let text = format!("1 {}\n", items.join(" "));
    let err = LibsvmReader::new()
        .max_bytes(64 << 10)
        .read::<f32, _>(text.as_bytes())
        .unwrap_err();
    // At the fourth check: 1 × 4096 × 4 dense, 16 × (1 + 4096) held.
    assert!(
        matches!(
            err,
            DataError::OverLimit {
                position: Position::Line(1),
                needed: 81936,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn libsvm_a_gzip_bomb_is_inflated_only_up_to_the_budget() {
    let text = "1 1:1\n".repeat(10_000_000);
    let gz = common::gzip(text.as_bytes());
    let mut input = Counting {
        inner: &gz,
        taken: 0,
    };
    let err = LibsvmReader::new()
        .max_bytes(1 << 20)
        .read::<f32, _>(&mut input)
        .unwrap_err();
    // 36 bytes per line: 4 dense, 16 for the row, 16 for its value.
    let line = (1 << 20) / 36 + 1;
    assert!(
        matches!(err, DataError::OverLimit { position: Position::Line(l), .. } if l == line),
        "{err}"
    );
    assert!(
        input.taken < gz.len() / 4,
        "{} of {}",
        input.taken,
        gz.len()
    );
}

#[test]
fn idx_a_header_over_the_limit_is_refused_before_the_elements() {
    // 2 GiB of u8 announced, none present: refused for the claim, not as truncated.
    let header = idx_header(0x08, &[1 << 31]);
    for bytes in [header.clone(), common::gzip(&header)] {
        let err = IdxArray::read_named(&bytes[..], "big.idx").unwrap_err();
        assert_eq!(
            err.to_string(),
            "big.idx: byte 4: dimensions [2147483648] of U8 need 2147483648 bytes, \
             over the limit of 1073741824 bytes (raise it with IdxReader::max_bytes)"
        );
    }
    let err = IdxReader::new()
        .max_bytes(1 << 31)
        .read(&header[..])
        .unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Truncated {
                offset: 8,
                missing: 2147483648,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn idx_a_raw_file_claiming_more_than_it_holds_is_truncated_at_its_end() {
    let dir = common::temp_dir("limits-raw");
    let path = dir.join("short.idx");
    let mut bytes = idx_header(0x0D, &[100_000_000]);
    bytes.extend_from_slice(&[0; 12]);
    std::fs::write(&path, &bytes).unwrap();
    let err = IdxArray::from_path(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Truncated {
                offset: 20,
                missing: 399_999_988,
                ..
            }
        ),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn idx_a_gzip_bomb_is_inflated_only_as_far_as_the_header_promises() {
    let mut bytes = IdxArray::new(&[16], IdxData::U8(vec![7; 16]))
        .unwrap()
        .to_bytes();
    bytes.resize(bytes.len() + (64 << 20), 0);
    let gz = common::gzip(&bytes);
    let mut input = Counting {
        inner: &gz,
        taken: 0,
    };
    let err = IdxArray::read(&mut input).unwrap_err();
    assert!(
        matches!(err, DataError::TrailingData { offset: 24, .. }),
        "{err}"
    );
    assert!(
        input.taken < gz.len() / 2,
        "{} of {}",
        input.taken,
        gz.len()
    );
}

#[test]
fn idx_zero_extents_beside_huge_ones() {
    let empty = IdxArray::read(&idx_header(0x0E, &[0, 1 << 20, 1 << 20])[..]).unwrap();
    assert_eq!(empty.dims(), &[0, 1 << 20, 1 << 20]);
    assert_eq!(empty.to_tensor::<f32>().unwrap().numel(), 0);
    // The other extents must still multiply to an addressable size, so that
    // every stride of the array is one.
    let err =
        IdxArray::read(&idx_header(0x0E, &[0, u32::MAX, u32::MAX, u32::MAX])[..]).unwrap_err();
    assert!(
        matches!(err, DataError::BadHeader { offset: 4, .. }),
        "{err}"
    );
}

#[test]
fn errors_quote_at_most_a_few_dozen_characters_of_the_input() {
    let long = "7".repeat(1 << 20);
    let cases = [
        format!("1 1:{long}x\n"),
        format!("1 {long}x:1\n"),
        format!("{long}x 1:1\n"),
        format!("1 qid:{long}x 1:1\n"),
        format!("1 1:1 {}\n", "é".repeat(1000)),
    ];
    for text in &cases {
        let err = LibsvmReader::new()
            .max_bytes(u64::MAX)
            .read::<f64, _>(text.as_bytes())
            .unwrap_err();
        let token = match &err {
            DataError::BadFeature { token, .. } | DataError::BadLabel { token, .. } => token,
            other => panic!("{other}"),
        };
        assert_eq!(token.chars().count(), QUOTE_CHARS + 1, "{err}");
        assert!(token.ends_with('…'), "{err}");
        assert!(err.to_string().len() < 300, "{err}");
    }
    let map = LabelMap::new((0..1000).map(f64::from).collect()).unwrap();
    let err = LibsvmReader::new()
        .label_map(map)
        .read::<f32, _>("0.5 1:1\n".as_bytes())
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("not one of the label map's 1000 values [0.0, 1.0"),
        "{err}"
    );
    assert!(err.to_string().len() < 300, "{err}");
    let err = IdxArray::read(&idx_header(0x08, &[u32::MAX; 255])[..]).unwrap_err();
    assert!(
        matches!(err, DataError::BadHeader { offset: 4, .. }),
        "{err}"
    );
    assert!(err.to_string().len() < 200, "{err}");
}
