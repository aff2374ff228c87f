//! Flushing subnormal floats to zero, as PyTorch's `torch.set_flush_denormal`.
//!
//! Arithmetic on subnormal numbers (magnitudes below 2⁻¹²⁶ in f32, 2⁻¹⁰²² in
//! f64) takes a slow path on x86 processors. Training can run into them for
//! good: Adam's first moment of a weight whose gradient stays zero (an input
//! pixel that is always 0) decays towards zero and stops at a subnormal value,
//! because `m + (0 − m)·0.1` rounds back up to `m` there, as in PyTorch; the
//! step over such moments then ran 17× slower on the benchmark machine
//! (docs/performance.md, "Subnormal numbers"). With flushing on, the processor
//! treats subnormal inputs and results as zero: such a moment becomes 0, and
//! the step keeps its speed. Off by default, as in PyTorch: the results can
//! then differ from PyTorch's in values that small.

/// The MXCSR bits: flush results to zero (FTZ, bit 15) and treat subnormal
/// inputs as zero (DAZ, bit 6).
#[cfg(target_arch = "x86_64")]
const FTZ_DAZ: u32 = (1 << 15) | (1 << 6);

/// Turns flushing of subnormal floats on or off for the calling thread and
/// every thread of the current rayon pool (where tapegrad's kernels run);
/// returns `false`, changing nothing, where the processor offers no such mode
/// (this build supports x86-64). A pool built later starts with the mode off:
/// call this again from inside it (`pool.install(|| set_flush_denormal(true))`).
///
/// ```
/// use tapegrad_tape::set_flush_denormal;
/// if set_flush_denormal(true) {
///     let tiny = std::hint::black_box(f32::MIN_POSITIVE);
///     assert_eq!(tiny / 2.0, 0.0); // a subnormal result is flushed
///     set_flush_denormal(false);
///     assert!(tiny / 2.0 > 0.0);
/// }
/// ```
pub fn set_flush_denormal(on: bool) -> bool {
    if !supported() {
        return false;
    }
    set_for_this_thread(on);
    rayon::broadcast(|_| set_for_this_thread(on));
    true
}

#[cfg(target_arch = "x86_64")]
fn supported() -> bool {
    true
}

#[cfg(not(target_arch = "x86_64"))]
fn supported() -> bool {
    false
}

#[cfg(target_arch = "x86_64")]
#[allow(deprecated)] // `_mm_getcsr`/`_mm_setcsr`: the plain way to change these two bits
fn set_for_this_thread(on: bool) {
    use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
    // SAFETY: SSE is part of x86-64; only the FTZ and DAZ bits change, which
    // alter how subnormal floats are rounded and read, nothing else.
    unsafe {
        let csr = _mm_getcsr();
        _mm_setcsr(if on { csr | FTZ_DAZ } else { csr & !FTZ_DAZ });
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn set_for_this_thread(_on: bool) {}
