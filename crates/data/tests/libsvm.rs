//! The LIBSVM reader on the real LIBSVM files, scikit-learn's edge cases, and
//! corrupt lines.

mod common;

use tapegrad_data::{DataError, LabelMap, Libsvm, LibsvmReader};

fn read_str(text: &str) -> tapegrad_data::Result<Libsvm<f64>> {
    LibsvmReader::new().read_named(text.as_bytes(), "mem.svm")
}

fn nonzeros(file: &Libsvm<f64>) -> usize {
    file.dataset
        .features()
        .data()
        .iter()
        .filter(|&&x| x != 0.0)
        .count()
}

#[test]
fn heart_scale() {
    let Some(path) = common::shared("libsvm/heart_scale") else {
        return;
    };
    let file = LibsvmReader::new().from_path::<f64>(&path).unwrap();
    let ds = &file.dataset;
    assert_eq!(ds.features().shape(), &[270, 13]);
    assert_eq!(file.label_map.values(), &[-1.0, 1.0]);
    assert_eq!(ds.class_counts(), vec![150, 120]);
    assert_eq!(ds.labels()[..2], [1, 0]); // +1, -1
    assert_eq!(nonzeros(&file), 3378);
    // Row 1: "+1 1:0.708333 2:1 ... 10:-0.225806 12:1 13:-1" (no feature 11).
    let row: Vec<f64> = ds.features().data()[..13].to_vec();
    assert_eq!(row[0], 0.708333);
    assert_eq!(row[9], -0.225806);
    assert_eq!(row[10], 0.0);
    assert_eq!(row[12], -1.0);
    let total: f64 = ds.features().data().iter().sum();
    assert!((total - -666.4008603).abs() < 1e-9, "{total}");
}

#[test]
fn a9a_train_and_test_share_width_and_labels() {
    let (Some(train_path), Some(test_path)) =
        (common::shared("libsvm/a9a"), common::shared("libsvm/a9a.t"))
    else {
        return;
    };
    let train = LibsvmReader::new().from_path::<f32>(&train_path).unwrap();
    assert_eq!(train.dataset.features().shape(), &[32561, 123]);
    assert_eq!(train.dataset.class_counts(), vec![24720, 7841]);
    assert_eq!(common::sum_f64(train.dataset.features().data()), 451_592.0);

    let inferred = LibsvmReader::new().from_path::<f32>(&test_path).unwrap();
    assert_eq!(inferred.dataset.features().shape(), &[16281, 122]);

    let test = LibsvmReader::new()
        .num_features(train.dataset.sample_len())
        .label_map(train.label_map.clone())
        .from_path::<f32>(&test_path)
        .unwrap();
    assert_eq!(test.dataset.features().shape(), &[16281, 123]);
    assert_eq!(test.dataset.class_counts(), vec![12435, 3846]);
    assert_eq!(common::sum_f64(test.dataset.features().data()), 225_731.0);
}

#[test]
fn iris_scale_has_three_balanced_classes() {
    let Some(path) = common::shared("libsvm/iris.scale") else {
        return;
    };
    let file = LibsvmReader::new().from_path::<f64>(&path).unwrap();
    assert_eq!(file.dataset.features().shape(), &[150, 4]);
    assert_eq!(file.label_map.values(), &[1.0, 2.0, 3.0]);
    assert_eq!(file.dataset.class_counts(), vec![50, 50, 50]);
    assert_eq!(
        file.dataset.features().data()[..4],
        [-0.555556, 0.25, -0.864407, -0.916667]
    );
    assert_eq!(nonzeros(&file), 587);
}

#[test]
fn housing_scale_keeps_the_real_valued_targets() {
    let Some(path) = common::shared("libsvm/housing_scale") else {
        return;
    };
    let file = LibsvmReader::new().from_path::<f64>(&path).unwrap();
    assert_eq!(file.dataset.features().shape(), &[506, 13]);
    assert_eq!(file.targets.len(), 506);
    assert_eq!(file.targets[..2], [24.0, 21.6]);
    let (lo, hi) = file
        .targets
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &t| (a.min(t), b.max(t)));
    assert_eq!((lo, hi), (5.0, 50.0));
    assert_eq!(
        file.label_map.value_of(file.dataset.labels()[0]),
        Some(24.0)
    );
}

#[test]
fn sklearn_classification_fixture_matches_load_svmlight_file() {
    let Some(path) = common::shared("libsvm/sklearn-svmlight-fixtures/svmlight_classification.txt")
    else {
        return;
    };
    let file = LibsvmReader::new().from_path::<f64>(&path).unwrap();
    let x = file.dataset.features();
    // scikit-learn: X.shape == (6, 21), y == [1, 2, 3, 4, 1, 2].
    assert_eq!(x.shape(), &[6, 21]);
    assert_eq!(file.targets, vec![1.0, 2.0, 3.0, 4.0, 1.0, 2.0]);
    assert_eq!(file.dataset.labels(), &[0, 1, 2, 3, 0, 1]);
    let at = |r: usize, c: usize| x.get(&[r, c]).unwrap();
    assert_eq!((at(0, 2), at(0, 10), at(0, 15)), (2.5, -5.2, 1.5));
    assert_eq!((at(1, 5), at(1, 12)), (1.0, -3.0));
    assert_eq!(at(2, 20), 27.0);
    assert_eq!(at(3, 1), 1.234567890123456e10);
    assert!(x.data()[4 * 21..].iter().all(|&v| v == 0.0)); // rows 5, 6: no/zero features
    assert_eq!(nonzeros(&file), 7);
}

#[test]
fn sklearn_multilabel_fixture_is_rejected_at_line_2() {
    let Some(path) = common::shared("libsvm/sklearn-svmlight-fixtures/svmlight_multilabel.txt")
    else {
        return;
    };
    let err = LibsvmReader::new().from_path::<f32>(&path).unwrap_err();
    assert!(
        matches!(&err, DataError::BadLabel { line: 2, token, .. } if token == "1,0"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("svmlight_multilabel.txt: line 2: bad label \"1,0\": multilabel")
    );
}

#[test]
fn sklearn_invalid_fixture_is_rejected_at_line_1() {
    let Some(path) = common::shared("libsvm/sklearn-svmlight-fixtures/svmlight_invalid.txt") else {
        return;
    };
    let err = LibsvmReader::new().from_path::<f32>(&path).unwrap_err();
    assert!(
        matches!(&err, DataError::BadLabel { line: 1, token, .. } if token == "python"),
        "{err}"
    );
    assert!(
        err.to_string()
            .ends_with("svmlight_invalid.txt: line 1: bad label \"python\": not a number")
    );
}

#[test]
fn sklearn_invalid_order_fixture_is_rejected_at_line_1() {
    let Some(path) = common::shared("libsvm/sklearn-svmlight-fixtures/svmlight_invalid_order.txt")
    else {
        return;
    };
    let err = LibsvmReader::new().from_path::<f32>(&path).unwrap_err();
    assert!(
        matches!(&err, DataError::BadFeature { line: 1, token, .. } if token == "2:-5.2"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("strictly increasing (previous index 5)"),
        "{err}"
    );
}

#[test]
fn comments_blank_lines_tabs_crlf_and_qid() {
    let text = "# header\n\n  \n1 qid:3 2:0.5\t4:1 # tail\r\n-1 qid:3\r\n+1 1:2#x\n";
    let file = read_str(text).unwrap();
    assert_eq!(file.dataset.features().shape(), &[3, 4]);
    assert_eq!(
        file.dataset.features().data(),
        &[0.0, 0.5, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0]
    );
    assert_eq!(file.dataset.labels(), &[1, 0, 1]);
    // No trailing newline on the last line.
    assert_eq!(read_str("1 1:1\n2 2:2").unwrap().dataset.len(), 2);
    // An empty input is an empty dataset.
    let empty = read_str("# nothing\n").unwrap();
    assert_eq!(empty.dataset.features().shape(), &[0, 0]);
}

#[test]
fn gzipped_input_is_decompressed() {
    let gz = common::gzip(b"1 1:1 3:2\n0 2:5\n");
    let file = LibsvmReader::new().read::<f32, _>(&gz[..]).unwrap();
    assert_eq!(
        file.dataset.features().data(),
        &[1.0, 0.0, 2.0, 0.0, 5.0, 0.0]
    );
}

/// Each corrupt line gives its own error naming the source and the line.
#[test]
fn bad_lines_each_name_the_line() {
    let cases: [(&str, &str); 14] = [
        (
            "1 1:1\nabc 1:1\n",
            "mem.svm: line 2: bad label \"abc\": not a number",
        ),
        (
            "1 1:1\n\n1:1 2:2\n",
            "mem.svm: line 3: bad label \"1:1\": the line has no label",
        ),
        (
            "nan 1:1\n",
            "mem.svm: line 1: bad label \"nan\": labels must be finite",
        ),
        (
            "1 2:1 1:1\n",
            "mem.svm: line 1: bad feature \"1:1\": indices must be strictly increasing (previous index 2)",
        ),
        (
            "1 2:1 2:3\n",
            "mem.svm: line 1: bad feature \"2:3\": indices must be strictly increasing (previous index 2)",
        ),
        (
            "1 0:1\n",
            "mem.svm: line 1: bad feature \"0:1\": index 0: indices are 1-based",
        ),
        (
            "1 x:1\n",
            "mem.svm: line 1: bad feature \"x:1\": the index is not a non-negative integer",
        ),
        (
            "1 -3:1\n",
            "mem.svm: line 1: bad feature \"-3:1\": the index is not a non-negative integer",
        ),
        (
            "1 3:abc\n",
            "mem.svm: line 1: bad feature \"3:abc\": the value is not a number",
        ),
        (
            "1 3:\n",
            "mem.svm: line 1: bad feature \"3:\": the value is not a number",
        ),
        (
            "1 3\n",
            "mem.svm: line 1: bad feature \"3\": expected index:value",
        ),
        (
            "1 3:inf\n",
            "mem.svm: line 1: bad feature \"3:inf\": values must be finite",
        ),
        (
            "1 qid:x 1:1\n",
            "mem.svm: line 1: bad feature \"qid:x\": qid must be an integer",
        ),
        (
            "1 1:1 qid:2\n",
            "mem.svm: line 1: bad feature \"qid:2\": qid must come right after the label",
        ),
    ];
    for (text, message) in cases {
        let err = read_str(text).unwrap_err();
        assert!(err.to_string().starts_with(message), "{text:?}: {err}");
    }
    let not_utf8 = LibsvmReader::new()
        .read::<f32, _>(&b"1 1:1\n1 1:\xff\n"[..])
        .unwrap_err();
    assert!(
        matches!(not_utf8, DataError::BadLine { line: 2, .. }),
        "{not_utf8}"
    );
    assert!(
        not_utf8
            .to_string()
            .starts_with("<stream>: line 2: not UTF-8"),
        "{not_utf8}"
    );
}

#[test]
fn a_value_beyond_f32_is_rejected_for_f32_only() {
    let err = LibsvmReader::new()
        .read::<f32, _>("1 1:1e39\n".as_bytes())
        .unwrap_err();
    assert!(err.to_string().contains("the value overflows f32"), "{err}");
    assert!(
        LibsvmReader::new()
            .read::<f64, _>("1 1:1e39\n".as_bytes())
            .is_ok()
    );
}

#[test]
fn given_feature_count_and_label_map_are_enforced() {
    let err = LibsvmReader::new()
        .num_features(3)
        .read::<f32, _>("1 1:1\n1 4:1\n".as_bytes())
        .unwrap_err();
    assert!(
        err.to_string().starts_with(
            "<stream>: line 2: bad feature \"4:1\": index exceeds the feature count 3"
        )
    );
    let map = LabelMap::new(vec![-1.0, 1.0]).unwrap();
    let reader = LibsvmReader::new().label_map(map);
    let ok = reader
        .read::<f32, _>("+1 1:1\n-1.0 1:2\n1 2:1\n".as_bytes())
        .unwrap();
    assert_eq!(ok.dataset.labels(), &[1, 0, 1]);
    assert_eq!(ok.dataset.num_classes(), 2);
    let err = reader
        .read::<f32, _>("1 1:1\n2 1:1\n".as_bytes())
        .unwrap_err();
    assert!(matches!(err, DataError::BadLabel { line: 2, .. }), "{err}");
}

#[test]
fn a_huge_index_is_an_error_not_an_abort() {
    let text = format!("1 {}:1\n", usize::MAX);
    let err = read_str(&text).unwrap_err();
    assert!(matches!(err, DataError::OverLimit { .. }), "{err}");
    // With no budget, the allocation itself is refused.
    let err = LibsvmReader::new()
        .max_bytes(u64::MAX)
        .read::<f64, _>(format!("1 {}:1\n", 1u64 << 60).as_bytes())
        .unwrap_err();
    assert!(matches!(err, DataError::TooLarge { .. }), "{err}");
}
