//! The state file: a small self-checking binary format, written atomically.
//!
//! Layout (little-endian):
//!
//! ```text
//! magic  b"TGOPTIM\x01"   8 bytes (the last byte is the format version)
//! length u64               bytes of payload
//! fnv1a  u64               FNV-1a 64 hash of the payload
//! payload:
//!   str optimizer, str dtype ("f32" | "f64")
//!   u32 n_options, then (str name, f64 value) each
//!   u32 n_groups, then each group: f64 lr, f64 weight_decay,
//!       u32 n_params, then each: u32 rank, u64 extents…
//!   then per group, per parameter: u8 present; if 1: u64 step, u32 n_buffers,
//!       then (str name, u64 len, len elements of dtype) each
//! str = u32 byte length + UTF-8 bytes
//! ```

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use tapegrad_tape::Float;

use crate::error::{OptimError, Result};
use crate::state::{GroupDict, ParamState, StateDict};

const MAGIC: &[u8; 8] = b"TGOPTIM\x01";
const HEADER: usize = 24;

/// The longest name (optimizer, dtype, option, buffer) the reader accepts:
/// they are identifiers chosen by code (`"Adam"`, `"exp_avg_sq"`), and a longer
/// one would only be copied into the error that refuses it.
const MAX_NAME_BYTES: usize = 256;

/// The largest step count the reader accepts, 2⁵³: more steps than any run
/// takes (a billion a second for 285 years), the last integer `f64` counts
/// exactly, and far enough from `u64::MAX` that the optimizers' `step += 1`
/// never overflows.
const MAX_STEP: u64 = 1 << 53;

/// The most characters of a name an error of the reader quotes.
const QUOTE_CHARS: usize = 64;

/// `text` cut to [`QUOTE_CHARS`] characters, with `…` when something was cut.
fn excerpt(text: &str) -> String {
    match text.char_indices().nth(QUOTE_CHARS) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

struct Writer(Vec<u8>);

impl Writer {
    fn u32(&mut self, x: usize) {
        self.0.extend_from_slice(&(x as u32).to_le_bytes());
    }
    fn u64(&mut self, x: u64) {
        self.0.extend_from_slice(&x.to_le_bytes());
    }
    fn f64(&mut self, x: f64) {
        self.0.extend_from_slice(&x.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
    /// Elements at their own width: f32 stays 4 bytes and round-trips exactly.
    fn elements<T: Float>(&mut self, xs: &[T]) {
        self.u64(xs.len() as u64);
        for &x in xs {
            if T::NAME == "f32" {
                self.0.extend_from_slice(&(x.to_f64() as f32).to_le_bytes());
            } else {
                self.f64(x.to_f64());
            }
        }
    }
}

/// The file's bytes for a state dict.
pub(crate) fn encode<T: Float>(sd: &StateDict<T>) -> Vec<u8> {
    let mut w = Writer(Vec::new());
    w.str(&sd.optimizer);
    w.str(T::NAME);
    w.u32(sd.options.len());
    for (name, value) in &sd.options {
        w.str(name);
        w.f64(*value);
    }
    w.u32(sd.groups.len());
    for g in &sd.groups {
        w.f64(g.lr);
        w.f64(g.weight_decay);
        w.u32(g.shapes.len());
        for shape in &g.shapes {
            w.u32(shape.len());
            shape.iter().for_each(|&e| w.u64(e as u64));
        }
    }
    for slots in &sd.state {
        for slot in slots {
            encode_slot(&mut w, slot.as_ref());
        }
    }
    let payload = w.0;
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&fnv1a(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

fn encode_slot<T: Float>(w: &mut Writer, slot: Option<&ParamState<T>>) {
    let Some(s) = slot else {
        w.0.push(0);
        return;
    };
    w.0.push(1);
    w.u64(s.step);
    w.u32(s.buffers.len());
    for (name, buf) in &s.buffers {
        w.str(name);
        w.elements(buf);
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> std::result::Result<&'a [u8], String> {
        let rest = self.bytes.len() - self.pos;
        if n > rest {
            return Err(format!(
                "payload ends at byte {} while reading {what} ({n} bytes needed, {rest} left)",
                self.bytes.len()
            ));
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }
    fn u8(&mut self, what: &str) -> std::result::Result<u8, String> {
        Ok(self.take(1, what)?[0])
    }
    fn u32(&mut self, what: &str) -> std::result::Result<usize, String> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
    }
    fn u64(&mut self, what: &str) -> std::result::Result<u64, String> {
        let b = self.take(8, what)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }
    fn f64(&mut self, what: &str) -> std::result::Result<f64, String> {
        Ok(f64::from_bits(self.u64(what)?))
    }
    fn str(&mut self, what: &str) -> std::result::Result<String, String> {
        let n = self.u32(what)?;
        if n > MAX_NAME_BYTES {
            return Err(format!(
                "{what} is {n} bytes long, more than the {MAX_NAME_BYTES} a name may have"
            ));
        }
        let b = self.take(n, what)?;
        String::from_utf8(b.to_vec()).map_err(|_| format!("{what} is not valid UTF-8"))
    }
    /// A count that cannot exceed what is left, so that a damaged length cannot
    /// make the reader allocate gigabytes.
    fn count(&mut self, what: &str, min_bytes_each: usize) -> std::result::Result<usize, String> {
        let n = self.u64(what)? as usize;
        let rest = self.bytes.len() - self.pos;
        if n.saturating_mul(min_bytes_each) > rest {
            return Err(format!(
                "{what} = {n} does not fit in the {rest} bytes left"
            ));
        }
        Ok(n)
    }
    fn elements<T: Float>(&mut self, what: &str) -> std::result::Result<Vec<T>, String> {
        let width = if T::NAME == "f32" { 4 } else { 8 };
        let n = self.count(what, width)?;
        let bytes = self.take(n * width, what)?;
        Ok(bytes
            .chunks_exact(width)
            .map(|c| {
                if width == 4 {
                    T::from_f64(f64::from(f32::from_le_bytes(
                        c.try_into().expect("4 bytes"),
                    )))
                } else {
                    T::from_f64(f64::from_le_bytes(c.try_into().expect("8 bytes")))
                }
            })
            .collect())
    }
}

/// Parses a whole file; the error says what is wrong: damage, or a dtype that
/// does not fit the optimizer.
fn decode<T: Float>(bytes: &[u8]) -> std::result::Result<StateDict<T>, Decode> {
    if bytes.len() < HEADER {
        return Err(Decode::Corrupt(format!(
            "truncated: {} bytes, the header alone is {HEADER}",
            bytes.len()
        )));
    }
    if &bytes[..8] != MAGIC {
        return Err(Decode::Corrupt(format!(
            "not a tapegrad optimizer state file (starts with {:?}, expected {:?})",
            String::from_utf8_lossy(&bytes[..8]),
            String::from_utf8_lossy(MAGIC)
        )));
    }
    let length = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
    let stored_hash = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes"));
    let payload = &bytes[HEADER..];
    if payload.len() as u64 != length {
        return Err(Decode::Corrupt(format!(
            "truncated or padded: the header announces {length} bytes of payload, the file holds {}",
            payload.len()
        )));
    }
    let hash = fnv1a(payload);
    if hash != stored_hash {
        return Err(Decode::Corrupt(format!(
            "checksum mismatch (stored {stored_hash:016x}, computed {hash:016x}): the file was damaged or edited"
        )));
    }
    let mut r = Reader {
        bytes: payload,
        pos: 0,
    };
    decode_payload(&mut r)
        .map_err(Decode::Corrupt)?
        .map_err(Decode::Dtype)
}

enum Decode {
    Corrupt(String),
    Dtype(String),
}

/// Outer error: damage; inner error: an intact file for another dtype.
type Nested<T> = std::result::Result<std::result::Result<T, String>, String>;

fn decode_payload<T: Float>(r: &mut Reader<'_>) -> Nested<StateDict<T>> {
    let optimizer = r.str("optimizer name")?;
    let dtype = r.str("dtype")?;
    if dtype != T::NAME {
        return Ok(Err(format!(
            "the file holds {dtype} state, the optimizer's parameters are {}",
            T::NAME
        )));
    }
    let n_options = r.u32("option count")?;
    let mut options = Vec::new();
    for _ in 0..n_options {
        let name = r.str("option name")?;
        options.push((name, r.f64("option value")?));
    }
    let n_groups = r.u32("group count")?;
    let mut groups = Vec::new();
    for _ in 0..n_groups {
        groups.push(decode_group(r)?);
    }
    let mut state = Vec::with_capacity(groups.len());
    for g in &groups {
        let mut slots = Vec::with_capacity(g.shapes.len());
        for _ in &g.shapes {
            slots.push(decode_slot(r)?);
        }
        state.push(slots);
    }
    if r.pos != r.bytes.len() {
        return Err(format!(
            "{} unread bytes after the last parameter state",
            r.bytes.len() - r.pos
        ));
    }
    Ok(Ok(StateDict {
        optimizer,
        options,
        groups,
        state,
    }))
}

fn decode_group(r: &mut Reader<'_>) -> std::result::Result<GroupDict, String> {
    let lr = non_negative(r, "group lr")?;
    let weight_decay = non_negative(r, "group weight_decay")?;
    let n_params = r.u32("parameter count")?;
    let mut shapes = Vec::new();
    for _ in 0..n_params {
        let rank = r.u32("parameter rank")?;
        let shape = (0..rank)
            .map(|_| r.u64("parameter extent").map(|e| e as usize))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        shapes.push(shape);
    }
    Ok(GroupDict {
        lr,
        weight_decay,
        shapes,
    })
}

/// An `f64` that must be finite and ≥ 0, as the constructors require of a
/// learning rate or a weight decay: a NaN or negative one would poison every
/// step after the load.
fn non_negative(r: &mut Reader<'_>, what: &str) -> std::result::Result<f64, String> {
    let value = r.f64(what)?;
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(format!("{what} is {value}, not a finite number >= 0"))
    }
}

fn decode_slot<T: Float>(r: &mut Reader<'_>) -> std::result::Result<Option<ParamState<T>>, String> {
    match r.u8("state flag")? {
        0 => return Ok(None),
        1 => {}
        other => return Err(format!("state flag is {other}, expected 0 or 1")),
    }
    let step = r.u64("step")?;
    if step > MAX_STEP {
        return Err(format!(
            "step count {step} is more than the {MAX_STEP} any run can take"
        ));
    }
    let n_buffers = r.u32("buffer count")?;
    let mut buffers = Vec::new();
    for _ in 0..n_buffers {
        let name = r.str("buffer name")?;
        let data = r.elements(&format!("buffer {}", excerpt(&name)))?;
        buffers.push((name, data));
    }
    Ok(Some(ParamState { step, buffers }))
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> OptimError + '_ {
    move |source| OptimError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes the state next to `path` under a temporary name, flushes it to disk and
/// renames it over `path`, so that a crash leaves either the old file or the new.
pub(crate) fn save<T: Float>(sd: &StateDict<T>, path: &Path) -> Result<()> {
    let bytes = encode(sd);
    let tmp = temp_path(path);
    let written = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()
    })();
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err(io_error(path)(e));
    }
    sync_parent(path);
    Ok(())
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

/// Makes the rename itself durable; a failure here loses nothing already written.
fn sync_parent(path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

/// Reads a state file written by [`save`].
pub(crate) fn load<T: Float>(path: &Path, optimizer: &'static str) -> Result<StateDict<T>> {
    let bytes = fs::read(path).map_err(io_error(path))?;
    decode(&bytes).map_err(|e| match e {
        Decode::Corrupt(reason) => OptimError::CorruptFile {
            path: path.to_path_buf(),
            reason,
        },
        Decode::Dtype(reason) => OptimError::StateMismatch { optimizer, reason },
    })
}
