//! Running one experiment setting over several seeds, or over a grid of
//! settings, in parallel, with results in a fixed order.
//!
//! Every run builds its own model, optimizer and random generator from its seed,
//! so a run's numbers do not depend on which thread ran it or when: the results
//! are the same with any `--threads`.

use super::error::{ExperimentError, Result};

/// The seeds `0..count`, refusing `count` = 0.
///
/// ```
/// assert_eq!(tapegrad_experiments::seeds(3).unwrap(), vec![0, 1, 2]);
/// assert!(tapegrad_experiments::seeds(0).is_err());
/// ```
pub fn seeds(count: usize) -> Result<Vec<u64>> {
    if count == 0 {
        return Err(ExperimentError::InvalidArgument {
            name: "seeds",
            value: "0".into(),
            reason: "need at least one seed".into(),
        });
    }
    Ok((0..count as u64).collect())
}

/// `run(job)` for every job, in parallel; the results in the order of `jobs`,
/// or the first error in that order.
///
/// ```
/// let squares = tapegrad_experiments::run_all(&[1u64, 2, 3], |&s| Ok(s * s)).unwrap();
/// assert_eq!(squares, vec![1, 4, 9]);
/// ```
pub fn run_all<J: Sync, R: Send>(
    jobs: &[J],
    run: impl Fn(&J) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    // Plain threads, not rayon tasks: a rayon worker waiting inside one run's
    // `no_grad` region could steal another run's training step and execute it
    // with the gradient switched off (the switch is thread-local).
    let workers = rayon::current_num_threads().clamp(1, jobs.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Result<R>>>> =
        jobs.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let result = run(job);
                    *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
                }
            });
        }
    });
    results
        .into_iter()
        .map(|cell| {
            let result = cell.into_inner().unwrap_or_else(|e| e.into_inner());
            result.expect("every job ran")
        })
        .collect()
}

/// `run(row, column, seed)` over a rows × columns grid of settings and every
/// seed, all in parallel: `result[row][column][seed index]`.
///
/// ```
/// let grid = tapegrad_experiments::run_grid(2, 3, &[0, 1], |i, j, s| Ok(10 * i + j + s as usize)).unwrap();
/// assert_eq!(grid[1][2], vec![12, 13]);
/// ```
pub fn run_grid<R: Send>(
    rows: usize,
    columns: usize,
    seeds: &[u64],
    run: impl Fn(usize, usize, u64) -> Result<R> + Sync,
) -> Result<Vec<Vec<Vec<R>>>> {
    let jobs: Vec<(usize, usize, u64)> = (0..rows)
        .flat_map(|i| (0..columns).flat_map(move |j| seeds.iter().map(move |&s| (i, j, s))))
        .collect();
    let mut flat = run_all(&jobs, |&(i, j, s)| run(i, j, s))?.into_iter();
    Ok((0..rows)
        .map(|_| {
            (0..columns)
                .map(|_| flat.by_ref().take(seeds.len()).collect())
                .collect()
        })
        .collect())
}
