//! MNIST through the IDX reader, on the real files in shared/data/mnist.

mod common;

use std::path::Path;

use tapegrad_data::{Dataset, IdxArray, IdxDtype, mnist};

#[test]
fn mnist_train_and_test_sets_decode_to_the_published_contents() {
    let Some(dir) = common::shared("mnist") else {
        return;
    };
    let (train, test) = mnist(&dir).unwrap();
    assert_eq!(train.features().shape(), &[60000, 28, 28]);
    assert_eq!(test.features().shape(), &[10000, 28, 28]);
    assert_eq!(train.num_classes(), 10);
    assert_eq!(train.labels()[..10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    assert_eq!(test.labels()[..10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    assert_eq!(
        train.class_counts(),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        test.class_counts(),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    // Sums of all decoded pixel bytes, computed once from the decompressed files.
    assert_eq!(common::sum_f64(train.features().data()), 1_567_298_545.0);
    assert_eq!(common::sum_f64(test.features().data()), 264_923_200.0);
    let max = train
        .features()
        .data()
        .iter()
        .cloned()
        .fold(0.0f32, f32::max);
    assert_eq!(max, tapegrad_data::MNIST_MAX_VALUE);
}

#[test]
fn mnist_image_file_header_and_first_image() {
    let Some(path) = common::shared("mnist/t10k-images-idx3-ubyte.gz") else {
        return;
    };
    let images = IdxArray::from_path(&path).unwrap();
    assert_eq!(images.dtype(), IdxDtype::U8);
    assert_eq!(images.dims(), &[10000, 28, 28]);
    assert_eq!(images.source(), path.display().to_string());
    let first = images.to_tensor::<f32>().unwrap();
    // The first test image is a 7: its top rows are blank and it has ink.
    let pixels = &first.data()[..784];
    assert!(pixels[..28 * 6].iter().all(|&p| p == 0.0));
    assert!(pixels.iter().filter(|&&p| p > 0.0).count() > 50);
}

#[test]
fn mnist_accepts_raw_files_and_dotted_names() {
    let Some(src) = common::shared("mnist") else {
        return;
    };
    let dir = common::temp_dir("mnist-raw");
    // Raw (decompressed) train files under the dashed name, test files gzipped
    // under the dotted name stored in their gzip headers.
    for (name, out, gzip) in [
        (
            "train-images-idx3-ubyte.gz",
            "train-images-idx3-ubyte",
            false,
        ),
        (
            "train-labels-idx1-ubyte.gz",
            "train-labels-idx1-ubyte",
            false,
        ),
        (
            "t10k-images-idx3-ubyte.gz",
            "t10k-images.idx3-ubyte.gz",
            true,
        ),
        (
            "t10k-labels-idx1-ubyte.gz",
            "t10k-labels.idx1-ubyte.gz",
            true,
        ),
    ] {
        IdxArray::from_path(src.join(name))
            .unwrap()
            .write_path(dir.join(out), gzip)
            .unwrap();
    }
    let raw_len = std::fs::metadata(dir.join("train-images-idx3-ubyte"))
        .unwrap()
        .len();
    assert_eq!(raw_len, 47_040_016);
    let (train, test) = mnist(&dir).unwrap();
    let (train_ref, test_ref) = mnist(&src).unwrap();
    assert_eq!(train, train_ref);
    assert_eq!(test, test_ref);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mnist_names_the_missing_file() {
    let err = mnist(Path::new("/nonexistent-dir")).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("/nonexistent-dir: none of"),
        "{message}"
    );
    assert!(message.contains("train-images-idx3-ubyte.gz"), "{message}");
    assert!(message.contains("train-images.idx3-ubyte"), "{message}");
}

#[test]
fn from_idx_paths_rejects_a_train_test_count_mismatch() {
    let Some(dir) = common::shared("mnist") else {
        return;
    };
    let err = Dataset::<f32>::from_idx_paths(
        dir.join("t10k-images-idx3-ubyte.gz"),
        dir.join("train-labels-idx1-ubyte.gz"),
        10,
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("t10k-images-idx3-ubyte.gz holds 10000 items"),
        "{message}"
    );
    assert!(
        message.contains("train-labels-idx1-ubyte.gz holds 60000 labels"),
        "{message}"
    );
}
