//! `set_flush_denormal` on the calling thread and on the pool's threads, where
//! the kernels run. A test binary of its own: the mode is per thread, and the
//! global pool is shared by the tests of one binary.

use rayon::prelude::*;
use tapegrad_tape::{Tensor, set_flush_denormal};

/// Half the smallest normal f32, computed on each of `n` pool tasks.
fn halves_on_the_pool(n: usize) -> Vec<f32> {
    (0..n)
        .into_par_iter()
        .map(|_| std::hint::black_box(f32::MIN_POSITIVE) / 2.0)
        .collect()
}

#[test]
fn flushing_reaches_the_pool_and_is_undone() {
    if !set_flush_denormal(true) {
        println!("skipped: no flush-to-zero mode on this architecture");
        return;
    }
    assert_eq!(std::hint::black_box(f32::MIN_POSITIVE) / 2.0, 0.0);
    assert!(halves_on_the_pool(64).iter().all(|&h| h == 0.0));
    // A tensor kernel on the pool: subnormal inputs read as zero.
    let tiny = Tensor::<f32>::full(&[1 << 16], f32::MIN_POSITIVE / 4.0);
    assert_eq!(tiny.scale(2.0).sum_all(), 0.0);

    set_flush_denormal(false);
    assert!(std::hint::black_box(f32::MIN_POSITIVE) / 2.0 > 0.0);
    assert!(halves_on_the_pool(64).iter().all(|&h| h > 0.0));
    assert!(tiny.scale(2.0).sum_all() > 0.0);
}
