//! The one place that turns drawing into a PNG file: the font, a temporary
//! file, and the rename.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::{PlotError, Result};

/// Where the sans-serif TrueType font is looked for, in order: Debian/Ubuntu
/// (`fonts-dejavu-core`), Fedora, Arch, then macOS. The font is read at run
/// time so that no font ships with the crate and no system library is linked.
pub const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
];

pub(crate) type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;
pub(crate) type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Registers a system font, draws into a temporary PNG next to `path` and
/// renames it to `path`; on failure the temporary file is removed and `path`
/// is untouched.
pub fn render(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> DrawResult,
) -> Result<()> {
    if font().is_none() {
        return Err(PlotError::NoFont {
            path: path.to_path_buf(),
            searched: FONT_PATHS,
        });
    }
    let tmp = temp_png(path);
    let result = (|| -> DrawResult {
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
        Ok(())
    })();
    let outcome = match result {
        Ok(()) => std::fs::rename(&tmp, path).map_err(|source| PlotError::Io {
            path: path.to_path_buf(),
            source,
        }),
        Err(e) => Err(PlotError::Draw {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }),
    };
    if outcome.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    outcome
}

/// The first readable font of [`FONT_PATHS`], registered as plotters'
/// `sans-serif` once; `None` if there is none.
fn font() -> Option<&'static str> {
    static FONT: OnceLock<Option<&'static str>> = OnceLock::new();
    *FONT.get_or_init(|| {
        FONT_PATHS.iter().copied().find(|path| {
            let Ok(bytes) = std::fs::read(path) else {
                return false;
            };
            // plotters keeps fonts for the life of the process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
        })
    })
}

/// The temporary name a plot is drawn under before the rename:
/// `.<stem>.tmp-<pid>.png` beside `path`. A program that finds such files of
/// a process that no longer runs may remove them.
pub fn temp_png(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{stem}.tmp-{}.png", std::process::id()))
}
