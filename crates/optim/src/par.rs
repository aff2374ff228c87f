//! Running a fused update kernel over a parameter: split into chunks across the
//! rayon pool when large, and compiled for the widest vector unit the CPU has.

/// Element count from which an update is split across threads; below it the
/// hand-off costs more than the loop (the same threshold as the tape's kernels).
pub(crate) const PAR_THRESHOLD: usize = tapegrad_tape::tensor::PAR_THRESHOLD;

/// A bundle of equally long slices that can be cut at the same index.
pub(crate) trait Split: Sized + Send {
    /// Length of the first slice (the parameter).
    fn len(&self) -> usize;
    /// The first `mid` elements of every slice, and the rest.
    fn split_at(self, mid: usize) -> (Self, Self);
}

impl<T: Sync> Split for &[T] {
    fn len(&self) -> usize {
        <[T]>::len(self)
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        <[T]>::split_at(self, mid)
    }
}

impl<T: Send> Split for &mut [T] {
    fn len(&self) -> usize {
        <[T]>::len(self)
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        self.split_at_mut(mid)
    }
}

/// An absent buffer (a state the configuration does not use) splits into two.
impl<S: Split> Split for Option<S> {
    fn len(&self) -> usize {
        self.as_ref().map_or(0, S::len)
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        match self {
            Some(s) => {
                let (a, b) = s.split_at(mid);
                (Some(a), Some(b))
            }
            None => (None, None),
        }
    }
}

macro_rules! split_tuple {
    ($($name:ident),+) => {
        #[allow(non_snake_case)]
        impl<$($name: Split),+> Split for ($($name,)+) {
            fn len(&self) -> usize {
                self.0.len()
            }
            fn split_at(self, mid: usize) -> (Self, Self) {
                let ($($name,)+) = self;
                $(let $name = $name.split_at(mid);)+
                (($($name.0,)+), ($($name.1,)+))
            }
        }
    };
}

split_tuple!(A, B);
split_tuple!(A, B, C);
split_tuple!(A, B, C, D);
split_tuple!(A, B, C, D, E);

/// An elementwise update over a chunk of a parameter and its state.
pub(crate) trait Kernel<C>: Sync {
    /// Updates every element of the chunk. Implementations are `#[inline(always)]`
    /// so that they are compiled inside the vector-unit entry points below.
    fn run(&self, chunk: C);
}

/// Runs `kernel` over `data`, in parallel chunks for a large parameter. The
/// chunks are cut by halving, a few per thread, so both cores stay busy.
pub(crate) fn run<C: Split, K: Kernel<C>>(kernel: &K, data: C) {
    let n = data.len();
    if n < PAR_THRESHOLD {
        return run_simd(kernel, data);
    }
    let pieces = 4 * rayon::current_num_threads().max(1);
    let min_chunk = (n / pieces).max(PAR_THRESHOLD / 2);
    split_run(kernel, data, min_chunk);
}

fn split_run<C: Split, K: Kernel<C>>(kernel: &K, data: C, min_chunk: usize) {
    let n = data.len();
    if n <= min_chunk {
        return run_simd(kernel, data);
    }
    // Cut at a multiple of 64 elements so that chunk starts stay aligned to cache lines.
    let mid = (n / 2) & !63;
    let (a, b) = data.split_at(mid.max(1));
    rayon::join(
        || split_run(kernel, a, min_chunk),
        || split_run(kernel, b, min_chunk),
    );
}

/// The same arithmetic either way: each element is computed with the same IEEE
/// operations in the same order, only more of them per instruction, so results
/// do not depend on the CPU.
fn run_simd<C, K: Kernel<C>>(kernel: &K, data: C) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return unsafe { run_avx512(kernel, data) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { run_avx2(kernel, data) };
        }
    }
    kernel.run(data)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn run_avx512<C, K: Kernel<C>>(kernel: &K, data: C) {
    kernel.run(data)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn run_avx2<C, K: Kernel<C>>(kernel: &K, data: C) {
    kernel.run(data)
}

/// Sums of `N` quantities over a parameter: `leaf` sums one piece, the pieces
/// run across the pool when the data is large, and their partial sums are
/// added in a tree fixed by the length alone, so the result does not depend on
/// the number of threads (small data is one piece, summed in order).
pub(crate) fn sums<C: Split, const N: usize>(
    data: C,
    leaf: &(impl Fn(C) -> [f64; N] + Sync),
) -> [f64; N] {
    let n = data.len();
    if n < PAR_THRESHOLD {
        return leaf(data);
    }
    split_sums(data, leaf)
}

fn split_sums<C: Split, const N: usize>(
    data: C,
    leaf: &(impl Fn(C) -> [f64; N] + Sync),
) -> [f64; N] {
    let n = data.len();
    if n <= PAR_THRESHOLD / 2 {
        return leaf(data);
    }
    let mid = (n / 2) & !63;
    let (a, b) = data.split_at(mid.max(1));
    let (x, y) = rayon::join(|| split_sums(a, leaf), || split_sums(b, leaf));
    std::array::from_fn(|i| x[i] + y[i])
}
