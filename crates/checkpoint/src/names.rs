//! What the names of metadata keys, generators and extra files may be.

use crate::error::{CheckpointError, Result};

/// The files every checkpoint has; an extra file may not take their names.
pub(crate) const RESERVED: [&str; 3] = ["checkpoint.txt", "model.safetensors", "optimizer.state"];

/// A name is 1 to 128 ASCII letters, digits, `.`, `_` and `-`, not starting
/// with `.` (so it is one line's token and, for a file, a plain name inside
/// the directory).
pub(crate) fn check(what: &'static str, name: &str) -> Result<()> {
    let reason = if name.is_empty() || name.len() > 128 {
        Some("it must have 1 to 128 characters")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        Some("only ASCII letters, digits, '.', '_' and '-' are allowed")
    } else if name.starts_with('.') {
        Some("it may not start with '.'")
    } else {
        None
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(CheckpointError::InvalidName {
            what,
            name: name.chars().take(64).collect(),
            reason: reason.into(),
        }),
    }
}

/// An extra file's name: [`check`]ed, and not one of [`RESERVED`].
pub(crate) fn check_file(name: &str) -> Result<()> {
    check("file", name)?;
    if RESERVED.contains(&name) {
        return Err(CheckpointError::InvalidName {
            what: "file",
            name: name.into(),
            reason: "every checkpoint has a file of this name".into(),
        });
    }
    Ok(())
}
