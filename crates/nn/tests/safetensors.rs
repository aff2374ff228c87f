//! Saving and loading weights: round trips, the exact byte format, and a
//! distinct error for each kind of bad file.

mod common;

use std::path::{Path, PathBuf};

use common::fixture_path;
use rand::{SeedableRng, rngs::StdRng};
use tapegrad_nn::{
    Conv2d, Flatten, Linear, LoadProblem, MaxPool2d, Module, NnError, Relu, Sequential,
    load_safetensors, save_safetensors,
};
use tapegrad_tape::Float;

/// A fresh empty directory under the system's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("tapegrad-nn-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The PyTorch fixture's architecture.
fn cnn<T: Float>(seed: u64) -> Sequential<T> {
    let mut rng = StdRng::seed_from_u64(seed);
    Sequential::new()
        .push(Conv2d::new(1, 8, 3, &mut rng))
        .push(Relu)
        .push(MaxPool2d::new(2))
        .push(Flatten)
        .push(Linear::new(1352, 10, &mut rng))
}

fn values<T: Float>(m: &dyn Module<T>) -> Vec<Vec<T>> {
    m.parameters()
        .iter()
        .map(|p| p.value().into_vec())
        .collect()
}

#[test]
fn round_trip_restores_every_parameter_f32_and_f64() {
    let dir = TempDir::new("roundtrip");
    let (a, b) = (cnn::<f32>(1), cnn::<f32>(2));
    assert_ne!(values(&a), values(&b));
    save_safetensors(&a, dir.file("m32.safetensors")).unwrap();
    load_safetensors(&b, dir.file("m32.safetensors")).unwrap();
    assert_eq!(values(&a), values(&b));

    let (c, d) = (cnn::<f64>(3), cnn::<f64>(4));
    save_safetensors(&c, dir.file("m64.safetensors")).unwrap();
    let before = d.parameters()[0].version();
    load_safetensors(&d, dir.file("m64.safetensors")).unwrap();
    assert_eq!(values(&c), values(&d));
    assert_eq!(
        d.parameters()[0].version(),
        before + 1,
        "loading bumps the version"
    );
    // No temporary file is left beside the results.
    assert_eq!(dir.entries(), ["m32.safetensors", "m64.safetensors"]);
}

#[test]
fn written_file_follows_the_format_byte_for_byte() {
    let dir = TempDir::new("format");
    let model = cnn::<f64>(5);
    let path = dir.file("m.safetensors");
    save_safetensors(&model, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!((8 + n) % 8, 0, "the data starts 8-byte aligned");
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let header = header.as_object().unwrap();
    assert_eq!(header.len(), 4, "exactly the four parameters, no metadata");
    let data = &bytes[8 + n..];
    let mut ranges = Vec::new();
    for (name, param) in model.named_parameters() {
        let info = &header[&name];
        assert_eq!(info["dtype"], "F64", "{name}");
        let shape: Vec<usize> = info["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(shape, param.shape(), "{name}");
        let (start, end) = (
            info["data_offsets"][0].as_u64().unwrap() as usize,
            info["data_offsets"][1].as_u64().unwrap() as usize,
        );
        let expected: Vec<u8> = param
            .value()
            .data()
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        assert_eq!(&data[start..end], expected.as_slice(), "{name}");
        ranges.push((start, end));
    }
    ranges.sort_unstable();
    let mut at = 0;
    for (start, end) in ranges {
        assert_eq!(start, at, "data is contiguous");
        at = end;
    }
    assert_eq!(at, data.len(), "the data ends the file");
}

#[test]
fn saving_replaces_an_existing_file_whole() {
    let dir = TempDir::new("replace");
    let path = dir.file("m.safetensors");
    std::fs::write(&path, b"old contents").unwrap();
    let model = cnn::<f32>(6);
    save_safetensors(&model, &path).unwrap();
    let other = cnn::<f32>(7);
    load_safetensors(&other, &path).unwrap();
    assert_eq!(values(&model), values(&other));
    assert_eq!(dir.entries(), ["m.safetensors"]);
}

#[test]
fn a_failed_save_leaves_no_temporary_file() {
    let dir = TempDir::new("failed-save");
    // The target is a directory: the final rename fails after the data was written.
    std::fs::create_dir(dir.file("taken")).unwrap();
    let err = save_safetensors(&cnn::<f32>(0), dir.file("taken")).unwrap_err();
    assert!(
        matches!(
            err,
            NnError::Io {
                op: "save_safetensors",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(dir.entries(), ["taken"]);
    let missing_dir = dir.file("no-such-dir").join("m.safetensors");
    assert!(matches!(
        save_safetensors(&cnn::<f32>(0), missing_dir),
        Err(NnError::Io { .. })
    ));
}

/// Saves the f64 CNN and returns the file's bytes.
fn saved_bytes(dir: &TempDir) -> Vec<u8> {
    let path = dir.file("good.safetensors");
    save_safetensors(&cnn::<f64>(8), &path).unwrap();
    std::fs::read(path).unwrap()
}

fn load_bytes(dir: &TempDir, bytes: &[u8]) -> NnError {
    let path = dir.file("bad.safetensors");
    std::fs::write(&path, bytes).unwrap();
    let model = cnn::<f64>(9);
    let before = values(&model);
    let err = load_safetensors(&model, &path).unwrap_err();
    assert_eq!(values(&model), before, "a failed load changes nothing");
    err
}

#[test]
fn truncated_files_are_reported_as_truncated() {
    let dir = TempDir::new("truncated");
    let bytes = saved_bytes(&dir);
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    for cut in [0, 5, 8 + n / 2, 8 + n + 100, bytes.len() - 1] {
        let err = load_bytes(&dir, &bytes[..cut]);
        assert!(
            matches!(err, NnError::TruncatedFile { .. }),
            "cut at {cut}: {err}"
        );
    }
    let err = load_bytes(&dir, &bytes[..bytes.len() - 8]);
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn corrupt_files_are_reported_as_corrupt() {
    let dir = TempDir::new("corrupt");
    let bytes = saved_bytes(&dir);
    let mut bad_json = bytes.clone();
    bad_json[8] = b'[';
    let mut bad_offsets = bytes.clone();
    let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = String::from_utf8(bytes[8..header_end].to_vec()).unwrap();
    let swapped = header.replacen("\"F64\"", "\"F32\"", 1);
    bad_offsets[8..header_end].copy_from_slice(swapped.as_bytes());
    let mut trailing = bytes.clone();
    trailing.extend_from_slice(&[0; 16]);
    let mut huge_header = bytes.clone();
    huge_header[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    let cases: [(&str, &[u8]); 4] = [
        ("invalid JSON", &bad_json),
        ("dtype that disagrees with the offsets", &bad_offsets),
        ("bytes after the last tensor", &trailing),
        ("absurd header length", &huge_header),
    ];
    for (what, file) in cases {
        let err = load_bytes(&dir, file);
        assert!(matches!(err, NnError::CorruptFile { .. }), "{what}: {err}");
    }
}

#[test]
fn every_mismatch_is_reported_at_once() {
    let dir = TempDir::new("mismatch");
    let mut rng = StdRng::seed_from_u64(0);
    // In the file: 0.weight [8, 1, 3, 3] (ok), 0.bias, 4.weight [10, 1000] (wrong), 9.weight (extra);
    // no 4.bias.
    let file_model: Sequential<f64> = Sequential::new()
        .push(Conv2d::new(1, 8, 3, &mut rng))
        .push(Relu)
        .push(Relu)
        .push(Relu)
        .push(Linear::new(1000, 10, &mut rng).without_bias())
        .push(Relu)
        .push(Relu)
        .push(Relu)
        .push(Relu)
        .push(Linear::new(2, 2, &mut rng).without_bias());
    let path = dir.file("m.safetensors");
    save_safetensors(&file_model, &path).unwrap();
    let model = cnn::<f64>(1);
    let before = values(&model);
    let err = load_safetensors(&model, &path).unwrap_err();
    let NnError::StateMismatch { problems, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(
        problems,
        &[
            LoadProblem::WrongShape {
                name: "4.weight".into(),
                expected: vec![10, 1352],
                found: vec![10, 1000]
            },
            LoadProblem::Missing {
                name: "4.bias".into()
            },
            LoadProblem::Unexpected {
                name: "9.weight".into()
            },
        ]
    );
    let message = err.to_string();
    assert!(
        message.contains("`4.bias` is missing") && message.contains("`9.weight`"),
        "{message}"
    );
    assert_eq!(
        values(&model),
        before,
        "nothing is loaded when anything mismatches"
    );
}

#[test]
fn wrong_dtype_is_reported_per_parameter() {
    let dir = TempDir::new("dtype");
    let path = dir.file("m.safetensors");
    save_safetensors(&cnn::<f64>(0), &path).unwrap();
    let err = load_safetensors(&cnn::<f32>(0), &path).unwrap_err();
    let NnError::StateMismatch { problems, .. } = err else {
        panic!("{err}")
    };
    assert_eq!(problems.len(), 4);
    assert!(problems.iter().all(|p| matches!(p, LoadProblem::WrongDtype { expected, found, .. } if expected == "F32" && found == "F64")));
}

#[test]
fn missing_file_is_an_io_error() {
    let err =
        load_safetensors(&cnn::<f32>(0), Path::new("/nonexistent/m.safetensors")).unwrap_err();
    assert!(matches!(
        err,
        NnError::Io {
            op: "load_safetensors",
            ..
        }
    ));
    assert!(
        err.to_string().contains("/nonexistent/m.safetensors"),
        "{err}"
    );
}

#[test]
fn pytorch_written_files_load_by_name() {
    for (file, dtype) in [
        ("torch_cnn_f32.safetensors", "f32"),
        ("torch_cnn_f64.safetensors", "f64"),
    ] {
        let path = fixture_path(file);
        if dtype == "f32" {
            let model = cnn::<f32>(0);
            load_safetensors(&model, &path).unwrap();
            assert_eq!(model.parameters()[3].shape(), &[10]);
        } else {
            let model = cnn::<f64>(0);
            load_safetensors(&model, &path).unwrap();
            // Written back, the same bytes come out (PyTorch also writes no metadata).
            let dir = TempDir::new("torch-rewrite");
            save_safetensors(&model, dir.file("m.safetensors")).unwrap();
            assert_eq!(
                std::fs::read(dir.file("m.safetensors")).unwrap(),
                std::fs::read(&path).unwrap()
            );
        }
    }
}
