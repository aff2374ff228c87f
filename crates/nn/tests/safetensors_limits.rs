//! Loading weights from hostile files: what a header may make the loader read
//! or allocate, and how much of the file an error quotes.

use std::path::PathBuf;

use rand::{SeedableRng, rngs::StdRng};
use tapegrad_nn::{Linear, LoadProblem, Module, NnError, load_safetensors, save_safetensors};

/// A file in the temp dir holding `bytes`, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, bytes: &[u8]) -> Self {
        let path = std::env::temp_dir().join(format!(
            "tapegrad-nn-limits-{name}-{}.safetensors",
            std::process::id()
        ));
        std::fs::write(&path, bytes).unwrap();
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A safetensors file: the length, `header` padded to 8 bytes, then `data`.
fn file_bytes(header: &str, data: &[u8]) -> Vec<u8> {
    let mut json = header.as_bytes().to_vec();
    json.resize(json.len().div_ceil(8) * 8, b' ');
    let mut bytes = (json.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&json);
    bytes.extend_from_slice(data);
    bytes
}

fn linear() -> Linear<f32> {
    Linear::new(3, 2, &mut StdRng::seed_from_u64(0))
}

fn load(name: &str, bytes: &[u8]) -> NnError {
    let file = TempFile::new(name, bytes);
    let model = linear();
    let before: Vec<_> = model.parameters().iter().map(|p| p.value()).collect();
    let err = load_safetensors(&model, &file.0).unwrap_err();
    let after: Vec<_> = model.parameters().iter().map(|p| p.value()).collect();
    assert_eq!(before, after, "a failed load changes nothing");
    err
}

#[test]
fn a_header_claiming_a_huge_tensor_is_truncated_not_allocated() {
    let header = r#"{"weight":{"dtype":"F32","shape":[2000000000],"data_offsets":[0,8000000000]}}"#;
    let err = load("huge", &file_bytes(header, &[0; 64]));
    assert!(
        matches!(&err, NnError::TruncatedFile { reason, .. }
            if reason == "the header announces 8000000000 bytes of tensor data but 64 follow it"),
        "{err}"
    );
}

#[test]
fn a_shape_whose_size_overflows_is_corrupt() {
    let header =
        r#"{"weight":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}}"#;
    let err = load("overflow", &file_bytes(header, &[]));
    assert!(matches!(err, NnError::CorruptFile { .. }), "{err}");
}

#[test]
fn a_file_that_does_not_match_is_refused_from_its_header() {
    // 4 MB of a tensor the module does not have: refused as a mismatch, and
    // the same file with its data cut is still a truncation first.
    let data = vec![0u8; 4 << 20];
    let header = r#"{"other":{"dtype":"F32","shape":[1048576],"data_offsets":[0,4194304]}}"#;
    let bytes = file_bytes(header, &data);
    let NnError::StateMismatch { problems, .. } = load("other", &bytes) else {
        panic!("expected a mismatch")
    };
    assert_eq!(problems.len(), 3, "{problems:?}");
    let err = load("other-cut", &bytes[..bytes.len() - 1]);
    assert!(matches!(err, NnError::TruncatedFile { .. }), "{err}");
}

#[test]
fn zero_extents_beside_huge_ones_are_a_shape_mismatch() {
    let header = r#"{"weight":{"dtype":"F32","shape":[0,4611686018427387904,4],"data_offsets":[0,0]},
        "bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    let NnError::StateMismatch { problems, .. } = load("zero", &file_bytes(header, &[0; 8])) else {
        panic!("expected a mismatch")
    };
    assert_eq!(
        problems,
        [LoadProblem::WrongShape {
            name: "weight".into(),
            expected: vec![2, 3],
            found: vec![0, 4611686018427387904, 4],
        }]
    );
}

#[test]
fn errors_quote_at_most_a_few_dozen_characters_of_the_file() {
    let long = "w".repeat(100_000);
    let model = linear();
    let good = TempFile::new("good", &[]);
    save_safetensors(&model, &good.0).unwrap();
    let saved = std::fs::read(&good.0).unwrap();
    let n = u64::from_le_bytes(saved[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&saved[8..8 + n]).unwrap().trim_end();
    // An extra zero-sized tensor with a long name.
    let extra = format!(
        r#"{},"{long}":{{"dtype":"F32","shape":[0],"data_offsets":[32,32]}}}}"#,
        &header[..header.len() - 1]
    );
    let err = load("long-name", &file_bytes(&extra, &saved[8 + n..]));
    let NnError::StateMismatch { problems, .. } = &err else {
        panic!("{err}")
    };
    let [LoadProblem::Unexpected { name }] = problems.as_slice() else {
        panic!("{problems:?}")
    };
    assert_eq!(name.chars().count(), 65);
    assert!(name.ends_with('…'));
    assert!(err.to_string().len() < 300, "{err}");
    // A dtype the format does not know, copied by the JSON parser's message.
    let bad_dtype =
        format!(r#"{{"weight":{{"dtype":"{long}","shape":[2,3],"data_offsets":[0,24]}}}}"#);
    let err = load("long-dtype", &file_bytes(&bad_dtype, &[0; 24]));
    let NnError::CorruptFile { reason, .. } = &err else {
        panic!("{err}")
    };
    assert!(reason.contains("unknown variant `wwww"), "{reason}");
    assert!(reason.contains("…`"), "{reason}");
    assert!(reason.chars().count() <= 257, "{reason}");
}
