//! Saving and loading a module's parameters and buffers in the safetensors format, keyed by
//! their dotted names, so weights cross between tapegrad and PyTorch.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use safetensors::tensor::{Dtype, Metadata, TensorInfo, View};
use tapegrad_tape::{Float, Tensor, Var};

use crate::buffer::{Buffer, BufferValue};
use crate::error::{LoadProblem, NnError, Result};
use crate::module::Module;

/// The safetensors limit on the header, in bytes.
const MAX_HEADER_BYTES: u64 = 100_000_000;

/// Writes every parameter and buffer of `module` to `path` in the safetensors
/// format: an 8-byte little-endian header length, a JSON header mapping each
/// name of [`Module::named_parameters`] and [`Module::named_buffers`] to its
/// dtype (`F32`/`F64`, `I64` for a count), shape and byte range, then the
/// little-endian data of each tensor, contiguous: PyTorch's `state_dict`.
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
    let tensors = encode_entries(&state_entries(module))?;
    let bytes = safetensors::tensor::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), None)
        .map_err(|e| NnError::Serialize {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    write_atomically(path, &bytes)
}

/// Reads a safetensors file written by this crate or by PyTorch into the
/// parameters and buffers of `module`, matched by dotted name.
///
/// Only the header is read first, and every name, dtype and shape is checked
/// before any tensor data is read or anything is written: a file that does not
/// match gives [`NnError::StateMismatch`] listing all the missing names,
/// unexpected names, wrong shapes and wrong dtypes at once, and leaves the
/// module unchanged. So the data read is never more than the module's own
/// parameters, whatever the header claims. A file cut short gives
/// [`NnError::TruncatedFile`]; one that is not valid safetensors,
/// [`NnError::CorruptFile`]. Text the errors quote from the file (a name, a
/// JSON token) is cut at 64 characters, marked with `…`.
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
    let io_error = |source| NnError::Io {
        op: "load_safetensors",
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io_error)?;
    let len = file.metadata().map_err(io_error)?.len();
    let header = read_header(&mut file, len, path)?;
    let entries = state_entries(module);
    check_entries(&header, &entries, path)?;
    let data = read_data(&mut file, header.data_len(), path)?;
    let mut values = Vec::with_capacity(entries.len());
    for (name, entry) in &entries {
        let info = header
            .info(name)
            .expect("every entry was found in the header");
        values.push(entry.decode(&data, info)?);
    }
    for ((_, entry), value) in entries.iter().zip(values) {
        entry.assign(value)?;
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

/// One tensor of a module's state: a parameter or a buffer.
enum Entry<T: Float> {
    Parameter(Var<T>),
    Buffer(Buffer<T>),
}

/// The parameters, then the buffers, with their dotted names.
fn state_entries<T: Float, M: Module<T> + ?Sized>(module: &M) -> Vec<(String, Entry<T>)> {
    let params = module.named_parameters().into_iter();
    let buffers = module.named_buffers().into_iter();
    params
        .map(|(n, p)| (n, Entry::Parameter(p)))
        .chain(buffers.map(|(n, b)| (n, Entry::Buffer(b))))
        .collect()
}

impl<T: Float> Entry<T> {
    fn dtype(&self) -> Dtype {
        match self {
            Entry::Buffer(b) if matches!(*b.read(), BufferValue::Count(_)) => Dtype::I64,
            _ => dtype_of::<T>(),
        }
    }

    fn shape(&self) -> Vec<usize> {
        match self {
            Entry::Parameter(p) => p.shape().to_vec(),
            Entry::Buffer(b) => b.shape(),
        }
    }

    /// The little-endian bytes of the value.
    fn encode(&self) -> Vec<u8> {
        match self {
            Entry::Parameter(p) => p.with_value(float_bytes),
            Entry::Buffer(b) => match &*b.read() {
                BufferValue::Float(t) => float_bytes(t),
                BufferValue::Count(c) => c.to_le_bytes().to_vec(),
            },
        }
    }

    /// The value at `info`'s offsets in `data` (its dtype and shape already
    /// checked against this entry's).
    fn decode(&self, data: &[u8], info: &TensorInfo) -> Result<BufferValue<T>> {
        let (start, end) = info.data_offsets;
        let bytes = &data[start..end];
        if self.dtype() == Dtype::I64 {
            let count = i64::from_le_bytes(bytes.try_into().expect("one 8-byte integer"));
            return Ok(BufferValue::Count(count));
        }
        Ok(BufferValue::Float(decode_floats(bytes, &info.shape)?))
    }

    fn assign(&self, value: BufferValue<T>) -> Result<()> {
        match (self, value) {
            (Entry::Parameter(p), BufferValue::Float(t)) => Ok(p.set_value(t)?),
            (Entry::Buffer(b), value) => b.set(value),
            (Entry::Parameter(_), BufferValue::Count(_)) => unreachable!("decoded by dtype"),
        }
    }
}

/// The elements of `t` as little-endian bytes of `T`'s width.
fn float_bytes<T: Float>(t: &Tensor<T>) -> Vec<u8> {
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
}

/// One state tensor's bytes, ready for the writer.
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

/// The entries as little-endian bytes, refusing duplicate names (a file can
/// hold each name once).
fn encode_entries<T: Float>(
    entries: &[(String, Entry<T>)],
) -> Result<Vec<(String, EncodedTensor)>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (name, entry) in entries {
        if !seen.insert(name.clone()) {
            return Err(NnError::InvalidArgument {
                op: "save_safetensors",
                name: "module",
                value: name.clone(),
                reason: "two parameters or buffers have this name".into(),
            });
        }
        let tensor = EncodedTensor {
            dtype: entry.dtype(),
            shape: entry.shape(),
            data: entry.encode(),
        };
        out.push((name.clone(), tensor));
    }
    Ok(out)
}

/// Every way the header disagrees with the entries: missing names, wrong
/// dtypes and shapes in the module's order, then the unexpected names sorted.
fn check_entries<T: Float>(
    header: &Metadata,
    entries: &[(String, Entry<T>)],
    path: &Path,
) -> Result<()> {
    let mut problems = Vec::new();
    for (name, entry) in entries {
        match header.info(name) {
            Some(info) => problems.extend(mismatches(name, entry, info)),
            None => problems.push(LoadProblem::Missing { name: name.clone() }),
        }
    }
    let known: HashSet<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    let mut unexpected: Vec<String> = header
        .tensors()
        .into_keys()
        .filter(|n| !known.contains(n.as_str()))
        .collect();
    unexpected.sort_unstable();
    problems.extend(unexpected.into_iter().map(|name| LoadProblem::Unexpected {
        name: excerpt(&name, QUOTE_CHARS),
    }));
    if problems.is_empty() {
        return Ok(());
    }
    Err(NnError::StateMismatch {
        path: path.to_path_buf(),
        problems,
    })
}

/// The dtype and shape problems of one tensor of the file.
fn mismatches<T: Float>(name: &str, entry: &Entry<T>, info: &TensorInfo) -> Vec<LoadProblem> {
    let mut problems = Vec::new();
    if info.dtype != entry.dtype() {
        problems.push(LoadProblem::WrongDtype {
            name: name.into(),
            expected: entry.dtype().to_string(),
            found: info.dtype.to_string(),
        });
    }
    let shape = entry.shape();
    if info.shape != shape {
        problems.push(LoadProblem::WrongShape {
            name: name.into(),
            expected: shape,
            found: info.shape.clone(),
        });
    }
    problems
}

/// Little-endian floats of `T`'s width as a `Tensor<T>` of `shape`.
fn decode_floats<T: Float>(bytes: &[u8], shape: &[usize]) -> Result<Tensor<T>> {
    let width = std::mem::size_of::<T>();
    let values: Vec<T> = bytes
        .chunks_exact(width)
        .map(|b| {
            if width == 4 {
                T::from_f64(f32::from_le_bytes(b.try_into().expect("4 bytes")) as f64)
            } else {
                T::from_f64(f64::from_le_bytes(b.try_into().expect("8 bytes")))
            }
        })
        .collect();
    Ok(Tensor::from_vec(values, shape)?)
}

/// Reads the length and the JSON header of a file of `len` bytes and checks that
/// the data it announces is exactly what follows, telling a file cut short from
/// one that is malformed. Leaves `file` at the start of the data.
fn read_header(file: &mut File, len: u64, path: &Path) -> Result<Metadata> {
    let truncated = |reason: String| NnError::TruncatedFile {
        path: path.to_path_buf(),
        reason,
    };
    let corrupt = |reason: String| NnError::CorruptFile {
        path: path.to_path_buf(),
        reason,
    };
    if len < 8 {
        return Err(truncated(format!(
            "{len} bytes, fewer than the 8 of the header length"
        )));
    }
    let mut length_bytes = [0u8; 8];
    read_exact(file, &mut length_bytes, path)?;
    let header_len = u64::from_le_bytes(length_bytes);
    let after_length = len - 8;
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
    let mut json = vec![0u8; header_len as usize];
    read_exact(file, &mut json, path)?;
    let header: Metadata = serde_json::from_slice(&json)
        .map_err(|e| corrupt(shorten(&format!("invalid header: {e}"))))?;
    let available = after_length - header_len;
    let declared = header.data_len() as u64;
    if declared > available {
        return Err(truncated(format!(
            "the header announces {declared} bytes of tensor data but {available} follow it"
        )));
    }
    if declared < available {
        return Err(corrupt(format!(
            "{} bytes follow the last tensor's data",
            available - declared
        )));
    }
    Ok(header)
}

/// The `n` bytes of tensor data that follow the header.
fn read_data(file: &mut File, n: usize, path: &Path) -> Result<Vec<u8>> {
    let mut data = Vec::new();
    data.try_reserve_exact(n)
        .map_err(|_| NnError::CorruptFile {
            path: path.to_path_buf(),
            reason: format!("{n} bytes of tensor data cannot be allocated"),
        })?;
    file.take(n as u64)
        .read_to_end(&mut data)
        .map_err(|source| NnError::Io {
            op: "load_safetensors",
            path: path.to_path_buf(),
            source,
        })?;
    if data.len() < n {
        return Err(NnError::TruncatedFile {
            path: path.to_path_buf(),
            reason: format!(
                "the file ended {} bytes into its {n} of tensor data",
                data.len()
            ),
        });
    }
    Ok(data)
}

/// Fills `buf` from `file`, a file that was long enough when its length was read.
fn read_exact(file: &mut File, buf: &mut [u8], path: &Path) -> Result<()> {
    file.read_exact(buf).map_err(|source| NnError::Io {
        op: "load_safetensors",
        path: path.to_path_buf(),
        source,
    })
}

/// The most characters of file content an error quotes; longer text ends in `…`.
const QUOTE_CHARS: usize = 64;

/// The most characters of a message from the JSON parser an error carries.
const MESSAGE_CHARS: usize = 256;

/// `text` cut to `max` characters, with `…` when something was cut.
fn excerpt(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// A parser's message with every stretch between backticks or double quotes
/// (a token copied from the file) cut to [`QUOTE_CHARS`] characters, and the
/// whole to [`MESSAGE_CHARS`].
fn shorten(message: &str) -> String {
    let mut out = String::new();
    let mut quote: Option<(char, usize)> = None;
    for c in message.chars() {
        quote = match quote {
            Some((delimiter, _)) if c == delimiter => {
                out.push(c);
                None
            }
            Some((delimiter, n)) => {
                if n < QUOTE_CHARS {
                    out.push(c);
                } else if n == QUOTE_CHARS {
                    out.push('…');
                }
                Some((delimiter, n + 1))
            }
            None => {
                out.push(c);
                matches!(c, '`' | '"').then_some((c, 0))
            }
        };
    }
    excerpt(&out, MESSAGE_CHARS)
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
