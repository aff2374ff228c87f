//! The batch cut into blocks of rows for the threads: the rows of a batch
//! never meet inside the recurrence (row r of h_t depends only on row r of
//! h_{t−1} and xw_t), so each block runs the whole sequence on a thread of
//! its own, with one fork-join for the op instead of one a step and GEMM.

use std::ops::Range;

use super::Dims;
use crate::tensor::gemm::PARALLEL_FLOPS;

/// The blocks of batch rows: one per thread of the pool when the
/// recurrence's GEMMs have enough work to share (as [`PARALLEL_FLOPS`]
/// decides for one product), else one.
pub(super) fn blocks(dims: Dims) -> Vec<Range<usize>> {
    let work = dims.steps * dims.batch * 4 * dims.hidden * dims.hidden;
    let threads = rayon::current_num_threads();
    let count = if work < PARALLEL_FLOPS {
        1
    } else {
        threads.min(dims.batch).max(1)
    };
    (0..count)
        .map(|k| k * dims.batch / count..(k + 1) * dims.batch / count)
        .collect()
}

/// `buffer`, a sequence of `[N, width]` steps, as one list of per-step
/// slices for each block of rows: `parts[block][t]` holds the rows of the
/// block at step t.
pub(super) fn split_steps<'a, T>(
    buffer: &'a mut [T],
    width: usize,
    dims: Dims,
    blocks: &[Range<usize>],
) -> Vec<Vec<&'a mut [T]>> {
    let mut parts: Vec<Vec<&'a mut [T]>> = blocks.iter().map(|_| Vec::new()).collect();
    for step in buffer.chunks_exact_mut(dims.batch * width) {
        let mut rest = step;
        for (part, rows) in parts.iter_mut().zip(blocks) {
            let (mine, tail) = std::mem::take(&mut rest).split_at_mut(rows.len() * width);
            part.push(mine);
            rest = tail;
        }
    }
    parts
}

/// The rows of a block at step t of a sequence of `[N, width]` steps.
pub(super) fn rows_at<'a, T>(
    buffer: &'a [T],
    t: usize,
    width: usize,
    dims: Dims,
    rows: &Range<usize>,
) -> &'a [T] {
    let first = t * dims.batch + rows.start;
    &buffer[first * width..(first + rows.len()) * width]
}
