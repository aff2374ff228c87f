//! Decoding scikit-learn's `digits.csv.gz` into the two IDX arrays embedded in
//! the crate; shared by the `make_digits` example and the test that checks the
//! embedded files against the CSV.

use std::io::Read;
use std::path::Path;

use tapegrad_data::{IdxArray, IdxData};

/// Pixels per image (8×8) and fields per CSV row (pixels + label).
const PIXELS: usize = 64;
const FIELDS: usize = PIXELS + 1;

/// `(images [N, 8, 8], labels [N])`, both `u8`, from the (gzipped) CSV at `path`.
pub fn digits_from_csv(path: &Path) -> Result<(IdxArray, IdxArray), String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut text = String::new();
    tapegrad_data::gzip::maybe_gunzip(file, &path.display().to_string())
        .map_err(|e| e.to_string())?
        .read_to_string(&mut text)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let (pixels, labels) = parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let n = labels.len();
    let images = IdxArray::new(&[n, 8, 8], IdxData::U8(pixels)).map_err(|e| e.to_string())?;
    let labels = IdxArray::new(&[n], IdxData::U8(labels)).map_err(|e| e.to_string())?;
    Ok((images, labels))
}

/// Rows of 64 pixel values in 0..=16 and a label in 0..=9, comma-separated.
fn parse(text: &str) -> Result<(Vec<u8>, Vec<u8>), String> {
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != FIELDS {
            return Err(format!(
                "line {}: {} fields, expected {FIELDS}",
                i + 1,
                fields.len()
            ));
        }
        let value = |s: &str, max: u8| {
            s.parse::<u8>()
                .ok()
                .filter(|&v| v <= max)
                .ok_or_else(|| format!("line {}: {s:?} is not an integer in 0..={max}", i + 1))
        };
        for field in &fields[..PIXELS] {
            pixels.push(value(field, 16)?);
        }
        labels.push(value(fields[PIXELS], 9)?);
    }
    Ok((pixels, labels))
}
