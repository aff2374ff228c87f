//! Saving and loading a module's parameters in the safetensors format, keyed by
//! their dotted names, so weights cross between tapegrad and PyTorch.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use safetensors::tensor::{Dtype, SafeTensorError, SafeTensors, View};
use tapegrad_tape::{Float, Tensor, Var};

use crate::error::{LoadProblem, NnError, Result};
use crate::module::Module;

/// The safetensors limit on the header, in bytes.
const MAX_HEADER_BYTES: u64 = 100_000_000;

/// Writes every parameter of `module` to `path` in the safetensors format: an
/// 8-byte little-endian header length, a JSON header mapping each name of
/// [`Module::named_parameters`] to its dtype (`F32`/`F64`), shape and byte range,
/// then the little-endian data of each tensor, contiguous.
///
/// The bytes go to a temporary file in the same directory, which is synced and
/// then renamed over `path`: a crash leaves the old file or the new one, never
/// half of one.
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapegrad_nn::{load_safetensors, save_safetensors, Linear, Module};
/// let mut rng = StdRng::seed_from_u64(0);
/// let a = Linear::<f32>::new(3, 2, &mut rng);
/// let b = Linear::<f32>::new(3, 2, &mut rng);
/// let path = std::env::temp_dir().join(format!("tapegrad-doc-{}.safetensors", std::process::id()));
/// save_safetensors(&a, &path).unwrap();
/// load_safetensors(&b, &path).unwrap();
/// assert_eq!(a.weight().value(), b.weight().value());
/// std::fs::remove_file(&path).unwrap();
/// ```
pub fn save_safetensors<T, M>(module: &M, path: impl AsRef<Path>) -> Result<()>
where
    T: Float,
    M: Module<T> + ?Sized,
{
    let path = path.as_ref();
    let tensors = encode_parameters(module)?;
    let bytes = safetensors::tensor::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), None)
        .map_err(|e| NnError::Serialize {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    write_atomically(path, &bytes)
}

/// Reads a safetensors file written by this crate or by PyTorch into the
/// parameters of `module`, matched by dotted name.
///
/// Every name, dtype and shape is checked before anything is written: a file
/// that does not match gives [`NnError::StateMismatch`] listing all the missing
/// names, unexpected names, wrong shapes and wrong dtypes at once, and leaves
/// the module unchanged. A file cut short gives [`NnError::TruncatedFile`]; one
/// that is not valid safetensors, [`NnError::CorruptFile`].
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapegrad_nn::{load_safetensors, save_safetensors, Linear, NnError};
/// let mut rng = StdRng::seed_from_u64(0);
/// let path = std::env::temp_dir().join(format!("tapegrad-doc-mismatch-{}.safetensors", std::process::id()));
/// save_safetensors(&Linear::<f32>::new(3, 2, &mut rng), &path).unwrap();
/// let err = load_safetensors(&Linear::<f32>::new(4, 2, &mut rng).without_bias(), &path).unwrap_err();
/// let NnError::StateMismatch { problems, .. } = err else { panic!() };
/// assert_eq!(problems.len(), 2); // weight [2, 3] ≠ [2, 4]; bias unexpected
/// std::fs::remove_file(&path).unwrap();
/// ```
pub fn load_safetensors<T, M>(module: &M, path: impl AsRef<Path>) -> Result<()>
where
    T: Float,
    M: Module<T> + ?Sized,
{
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|source| NnError::Io {
        op: "load_safetensors",
        path: path.to_path_buf(),
        source,
    })?;
    let file = parse(&bytes, path)?;
    let params = module.named_parameters();
    let mut problems = Vec::new();
    let mut values = Vec::with_capacity(params.len());
    for (name, param) in &params {
        match file.tensor(name) {
            Ok(view) => match decode::<T>(name, param, &view) {
                Ok(value) => values.push((param, value)),
                Err(mut found) => problems.append(&mut found),
            },
            Err(_) => problems.push(LoadProblem::Missing { name: name.clone() }),
        }
    }
    let known: HashSet<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
    let mut unexpected: Vec<&str> = file
        .names()
        .into_iter()
        .filter(|n| !known.contains(n))
        .collect();
    unexpected.sort_unstable();
    problems.extend(
        unexpected
            .into_iter()
            .map(|name| LoadProblem::Unexpected { name: name.into() }),
    );
    if !problems.is_empty() {
        return Err(NnError::StateMismatch {
            path: path.to_path_buf(),
            problems,
        });
    }
    for (param, value) in values {
        param.set_value(value)?;
    }
    Ok(())
}

/// The safetensors dtype of `T`.
fn dtype_of<T: Float>() -> Dtype {
    if T::NAME == "f32" {
        Dtype::F32
    } else {
        Dtype::F64
    }
}

/// One parameter's bytes, ready for the writer.
struct EncodedTensor {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl View for &EncodedTensor {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

/// The parameters as little-endian bytes, refusing duplicate names (a file can
/// hold each name once).
fn encode_parameters<T, M>(module: &M) -> Result<Vec<(String, EncodedTensor)>>
where
    T: Float,
    M: Module<T> + ?Sized,
{
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (name, param) in module.named_parameters() {
        if !seen.insert(name.clone()) {
            return Err(NnError::InvalidArgument {
                op: "save_safetensors",
                name: "module",
                value: name,
                reason: "two parameters have this name".into(),
            });
        }
        let data = param.with_value(|t| {
            let mut bytes = Vec::with_capacity(t.numel() * std::mem::size_of::<T>());
            for &x in t.data() {
                // Through f64 and back is exact for both f32 and f64.
                if T::NAME == "f32" {
                    bytes.extend_from_slice(&(x.to_f64() as f32).to_le_bytes());
                } else {
                    bytes.extend_from_slice(&x.to_f64().to_le_bytes());
                }
            }
            bytes
        });
        let tensor = EncodedTensor {
            dtype: dtype_of::<T>(),
            shape: param.shape().to_vec(),
            data,
        };
        out.push((name, tensor));
    }
    Ok(out)
}

/// The file's tensor as a `Tensor<T>`, or the problems that prevent it.
fn decode<T: Float>(
    name: &str,
    param: &Var<T>,
    view: &safetensors::tensor::TensorView<'_>,
) -> std::result::Result<Tensor<T>, Vec<LoadProblem>> {
    let mut problems = Vec::new();
    if view.dtype() != dtype_of::<T>() {
        problems.push(LoadProblem::WrongDtype {
            name: name.into(),
            expected: dtype_of::<T>().to_string(),
            found: view.dtype().to_string(),
        });
    }
    if view.shape() != param.shape() {
        problems.push(LoadProblem::WrongShape {
            name: name.into(),
            expected: param.shape().to_vec(),
            found: view.shape().to_vec(),
        });
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let width = std::mem::size_of::<T>();
    let values: Vec<T> = view
        .data()
        .chunks_exact(width)
        .map(|b| {
            if width == 4 {
                T::from_f64(f32::from_le_bytes(b.try_into().expect("4 bytes")) as f64)
            } else {
                T::from_f64(f64::from_le_bytes(b.try_into().expect("8 bytes")))
            }
        })
        .collect();
    Tensor::from_vec(values, view.shape()).map_err(|_| {
        vec![LoadProblem::WrongShape {
            name: name.into(),
            expected: param.shape().to_vec(),
            found: view.shape().to_vec(),
        }]
    })
}

/// Parses the file, telling a file cut short (header or data missing at the end)
/// from one that is malformed.
fn parse<'a>(bytes: &'a [u8], path: &Path) -> Result<SafeTensors<'a>> {
    let truncated = |reason: String| NnError::TruncatedFile {
        path: path.to_path_buf(),
        reason,
    };
    let corrupt = |reason: String| NnError::CorruptFile {
        path: path.to_path_buf(),
        reason,
    };
    let Some(length_bytes) = bytes.get(..8) else {
        return Err(truncated(format!(
            "{} bytes, fewer than the 8 of the header length",
            bytes.len()
        )));
    };
    let header_len = u64::from_le_bytes(length_bytes.try_into().expect("8 bytes"));
    let after_length = (bytes.len() - 8) as u64;
    if header_len > MAX_HEADER_BYTES {
        return Err(corrupt(format!(
            "header length {header_len} exceeds the format's limit of {MAX_HEADER_BYTES} bytes"
        )));
    }
    if header_len > after_length {
        return Err(truncated(format!(
            "the header is {header_len} bytes but only {after_length} follow the length"
        )));
    }
    SafeTensors::deserialize(bytes).map_err(|e| match e {
        SafeTensorError::MetadataIncompleteBuffer => {
            let header = &bytes[8..8 + header_len as usize];
            let available = after_length - header_len;
            match declared_data_len(header) {
                Some(declared) if declared > available => truncated(format!(
                    "the header announces {declared} bytes of tensor data but {available} follow it"
                )),
                Some(declared) => corrupt(format!(
                    "{} bytes follow the last tensor's data",
                    available - declared
                )),
                None => corrupt(e.to_string()),
            }
        }
        other => corrupt(other.to_string()),
    })
}

/// The end of the last tensor's byte range announced by a header.
fn declared_data_len(header: &[u8]) -> Option<u64> {
    let json: serde_json::Value = serde_json::from_slice(header).ok()?;
    json.as_object()?
        .iter()
        .filter(|(name, _)| name.as_str() != "__metadata__")
        .map(|(_, info)| info.get("data_offsets")?.get(1)?.as_u64())
        .try_fold(0u64, |end, e| Some(end.max(e?)))
}

/// Writes to a fresh temporary file next to `path`, syncs it, then renames it
/// over `path` (atomic on one file system); the temporary file is removed if any
/// step fails.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let io_error = |at: &Path, source| NnError::Io {
        op: "save_safetensors",
        path: at.to_path_buf(),
        source,
    };
    let file_name = path.file_name().ok_or_else(|| NnError::InvalidArgument {
        op: "save_safetensors",
        name: "path",
        value: path.display().to_string(),
        reason: "does not name a file".into(),
    })?;
    let temp: PathBuf = path.with_file_name(format!(
        ".{}.{}-{}.tmp",
        file_name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        });
    if let Err(source) = written {
        let _ = fs::remove_file(&temp);
        return Err(io_error(&temp, source));
    }
    fs::rename(&temp, path).map_err(|source| {
        let _ = fs::remove_file(&temp);
        io_error(path, source)
    })
}
