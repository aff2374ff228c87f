//! Transparent gzip: a reader whose first two bytes are the gzip magic
//! `1f 8b` is decompressed, any other reader is passed through.

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, ErrorKind, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::error::{DataError, Position, Result, io_error};

/// The two bytes every gzip member starts with (RFC 1952).
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A buffered reader over `reader`'s bytes, decompressed when they start with
/// [`GZIP_MAGIC`].
///
/// Detection reads only the first two bytes and puts them back in front of the
/// stream, so any `Read` works, seekable or not. Concatenated gzip members are
/// read as one stream, as `gzip -d` does.
///
/// ```
/// use std::io::{Read, Write};
/// use flate2::{Compression, write::GzEncoder};
/// let mut enc = GzEncoder::new(Vec::new(), Compression::default());
/// enc.write_all(b"hello").unwrap();
/// let gz = enc.finish().unwrap();
/// let mut out = String::new();
/// tapegrad_data::gzip::maybe_gunzip(&gz[..], "<stream>").unwrap().read_to_string(&mut out).unwrap();
/// assert_eq!(out, "hello");
/// let mut plain = String::new();
/// tapegrad_data::gzip::maybe_gunzip(&b"hi"[..], "<stream>").unwrap().read_to_string(&mut plain).unwrap();
/// assert_eq!(plain, "hi");
/// ```
pub fn maybe_gunzip<'a, R: Read + 'a>(reader: R, file: &str) -> Result<Box<dyn BufRead + 'a>> {
    Ok(detect(reader, file)?.0)
}

/// [`maybe_gunzip`], also telling whether the input was gzipped.
pub(crate) fn detect<'a, R: Read + 'a>(
    mut reader: R,
    file: &str,
) -> Result<(Box<dyn BufRead + 'a>, bool)> {
    let mut head = [0u8; 2];
    let got = read_up_to(&mut reader, &mut head).map_err(|source| DataError::ReadFailed {
        file: file.to_owned(),
        position: Position::Byte(0),
        source,
    })?;
    let rejoined = Cursor::new(head[..got].to_vec()).chain(reader);
    if head[..got] == GZIP_MAGIC {
        Ok((
            Box::new(BufReader::new(MultiGzDecoder::new(rejoined))),
            true,
        ))
    } else {
        Ok((Box::new(BufReader::new(rejoined)), false))
    }
}

/// Opens `path` for reading and returns it with the name errors should use.
pub(crate) fn open(path: &Path) -> Result<(File, String)> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(io_error(&name))?;
    Ok((file, name))
}

/// Fills as much of `buf` as the reader has, stopping early only at end of input.
pub(crate) fn read_up_to<R: Read + ?Sized>(
    reader: &mut R,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
