//! The flags every experiment program shares.

use std::path::PathBuf;

use super::error::{ExperimentError, Result};
use super::runner::seeds;

/// `--quick`, `--out DIR`, `--seeds N`, `--threads N`, flattened into each
/// example's own `clap` parser.
///
/// ```
/// use clap::Parser;
/// use tapegrad_experiments::CommonArgs;
/// #[derive(Parser)]
/// struct Args {
///     #[command(flatten)]
///     common: CommonArgs,
/// }
/// let args = Args::parse_from(["exp", "--quick", "--seeds", "4"]);
/// assert!(args.common.quick);
/// assert_eq!(args.common.seed_list().unwrap(), vec![0, 1, 2, 3]);
/// assert_eq!(args.common.out_dir("exp_x"), std::path::PathBuf::from("runs/exp_x"));
/// ```
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// A much smaller version (seconds instead of minutes), for tests.
    #[arg(long)]
    pub quick: bool,
    /// Where the CSV and PNG files go [default: runs/<experiment>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Number of seeds (0, 1, …, N − 1); results are reported as mean ± std.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub seeds: usize,
    /// Worker threads [default: one per core].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

impl CommonArgs {
    /// `--out`, or `runs/<name>`.
    pub fn out_dir(&self, name: &str) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs").join(name))
    }

    /// The seeds `0..--seeds`.
    pub fn seed_list(&self) -> Result<Vec<u64>> {
        seeds(self.seeds)
    }

    /// Sizes the global thread pool to `--threads`, if given (call once, first).
    pub fn init_threads(&self) -> Result<()> {
        let Some(n) = self.threads else {
            return Ok(());
        };
        let refuse = |reason: String| ExperimentError::InvalidArgument {
            name: "--threads",
            value: n.to_string(),
            reason,
        };
        if n == 0 {
            return Err(refuse("need at least one thread".into()));
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .map_err(|e| refuse(e.to_string()))
    }
}

/// The body of every experiment program: sizes the thread pool, runs the full
/// or (with `--quick`) the quick configuration over the seeds, writes the files
/// into `--out` (default `runs/<name>`) with the Markdown summary as
/// `summary.md`, and prints the summary. Errors go to stderr as one line.
pub fn experiment_main<R>(
    args: &CommonArgs,
    name: &str,
    run: impl FnOnce(Vec<u64>, bool) -> Result<R>,
    write: impl FnOnce(&R, &std::path::Path) -> Result<()>,
    markdown: impl FnOnce(&R) -> String,
) -> std::process::ExitCode {
    let main = || -> Result<()> {
        args.init_threads()?;
        let start = std::time::Instant::now();
        let report = run(args.seed_list()?, args.quick)?;
        let out = args.out_dir(name);
        write(&report, &out)?;
        let text = markdown(&report);
        super::csv::write_atomically(&out.join("summary.md"), text.as_bytes())?;
        println!("{text}");
        let seconds = start.elapsed().as_secs_f64();
        println!("wrote {} in {seconds:.1} s", out.display());
        Ok(())
    };
    match main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
