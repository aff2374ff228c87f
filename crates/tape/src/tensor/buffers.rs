//! A per-thread cache of freed tensor buffers, so that a training loop, which
//! frees and allocates buffers of the same sizes every step, reuses its own
//! memory instead of asking the allocator for fresh pages each time.
//!
//! With the system allocator, a buffer above glibc's mmap threshold is mapped
//! when allocated and unmapped when freed, so each step pays a page fault and
//! the kernel's zeroing for every page it writes. Here, when the last handle to
//! a tensor of at least [`MIN_BYTES`] is dropped, its buffer goes to the
//! dropping thread's cache; the kernels take their output buffers from it.
//! The cache is bounded (at most [`MAX_BUFFERS`] buffers and [`MAX_BYTES`]
//! bytes a thread; beyond, a buffer is freed as before), a buffer is reused
//! only for a request of at least half its capacity, and
//! [`release_buffers`] empties the calling thread's cache.

use std::alloc::{Layout, dealloc};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::mem::ManuallyDrop;

/// Buffers smaller than this are freed as usual: the allocator keeps them in
/// its own free lists without returning pages to the system.
pub const MIN_BYTES: usize = 64 * 1024;
/// At most this many buffers are kept by one thread.
pub const MAX_BUFFERS: usize = 4096;
/// At most this many bytes are kept by one thread.
pub const MAX_BYTES: usize = 1 << 30;

/// The free buffers of one size and alignment of element and one capacity:
/// (size, align, capacity).
type Class = (usize, usize, usize);

/// One thread's cache: the allocations of emptied `Vec`s by class.
#[derive(Default)]
struct Cache {
    free: BTreeMap<Class, Vec<*mut u8>>,
    buffers: usize,
    bytes: usize,
}

impl Drop for Cache {
    fn drop(&mut self) {
        for ((size, align, capacity), ptrs) in std::mem::take(&mut self.free) {
            for ptr in ptrs {
                // SAFETY: `ptr` is the allocation of a Vec whose element type
                // has this size and alignment and whose capacity is this one
                // (`give`), made by the global allocator with exactly this
                // layout, and it is freed once (taken out of the map).
                unsafe {
                    dealloc(
                        ptr,
                        Layout::from_size_align_unchecked(size * capacity, align),
                    )
                };
            }
        }
    }
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// An empty vector with room for `len` elements: a cached buffer of this
/// thread when one fits (capacity from `len` to `2 len`, the smallest such),
/// else a new allocation.
pub(crate) fn with_capacity<T>(len: usize) -> Vec<T> {
    let (size, align) = (size_of::<T>(), align_of::<T>());
    if size == 0 || len * size < MIN_BYTES / 2 {
        return Vec::with_capacity(len);
    }
    let reused = CACHE
        .try_with(|cache| {
            let mut cache = cache.borrow_mut();
            let (&class, _) = cache
                .free
                .range((size, align, len)..=(size, align, 2 * len))
                .next()?;
            let ptrs = cache.free.get_mut(&class).expect("the class just found");
            let ptr = ptrs.pop().expect("classes in the map hold a buffer");
            if ptrs.is_empty() {
                cache.free.remove(&class);
            }
            cache.buffers -= 1;
            cache.bytes -= size * class.2;
            // SAFETY: `ptr` came from a `Vec` of a type with T's size and
            // alignment and this capacity (its class), so the allocation's
            // layout is that of a `Vec<T>` of this capacity; it holds no
            // element, and it left the cache, so it has one owner.
            Some(unsafe { Vec::from_raw_parts(ptr.cast::<T>(), 0, class.2) })
        })
        .ok()
        .flatten();
    reused.unwrap_or_else(|| Vec::with_capacity(len))
}

/// `len` copies of `value` in a buffer from [`with_capacity`].
pub(crate) fn filled<T: Copy>(len: usize, value: T) -> Vec<T> {
    let mut out = with_capacity(len);
    out.resize(len, value);
    out
}

/// Keeps `buffer` for reuse by this thread if it is large enough and the
/// cache has room; frees it otherwise.
pub(crate) fn give<T>(mut buffer: Vec<T>) {
    let bytes = buffer.capacity() * size_of::<T>();
    if bytes < MIN_BYTES {
        return;
    }
    buffer.clear();
    // A thread being torn down frees the buffer instead.
    let _ = CACHE.try_with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.buffers < MAX_BUFFERS && cache.bytes + bytes <= MAX_BYTES {
            let mut buffer = ManuallyDrop::new(std::mem::take(&mut buffer));
            let class = (size_of::<T>(), align_of::<T>(), buffer.capacity());
            cache
                .free
                .entry(class)
                .or_default()
                .push(buffer.as_mut_ptr().cast());
            cache.buffers += 1;
            cache.bytes += bytes;
        }
    });
}

/// A vector that goes back to the cache of the thread that drops it, for
/// data kept beside tensors (max pooling's argmax positions), which would
/// otherwise be mapped and unmapped by the system allocator every step.
#[derive(Debug)]
pub(crate) struct Reused<T>(Vec<T>);

impl<T: Copy> Reused<T> {
    /// `len` copies of `value`, in a cached buffer when one fits.
    pub(crate) fn filled(len: usize, value: T) -> Self {
        Self(filled(len, value))
    }
}

impl<T> std::ops::Deref for Reused<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T> std::ops::DerefMut for Reused<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.0
    }
}

impl<T> Drop for Reused<T> {
    fn drop(&mut self) {
        give(std::mem::take(&mut self.0));
    }
}

/// Frees every buffer the calling thread keeps for reuse and returns how
/// many bytes they held. A program that is done with a large model can call it
/// to give the memory back to the system; otherwise the cache holds at most
/// [`MAX_BYTES`] a thread.
///
/// ```
/// use tapegrad_tape::{release_buffers, Tensor};
/// let t = Tensor::<f32>::zeros(&[1024, 1024]);
/// drop(t); // 4 MiB: kept for the next tensor of that size
/// assert!(release_buffers() >= 4 << 20);
/// assert_eq!(release_buffers(), 0);
/// ```
pub fn release_buffers() -> usize {
    CACHE
        .try_with(|cache| std::mem::take(&mut *cache.borrow_mut()).bytes)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` on a thread of its own, so that the cache starts empty.
    fn on_fresh_thread(f: impl FnOnce() + Send + 'static) {
        std::thread::spawn(f).join().unwrap();
    }

    #[test]
    fn a_freed_buffer_serves_the_next_request_of_its_size() {
        on_fresh_thread(|| {
            let first: Vec<f32> = with_capacity(1 << 20);
            let ptr = first.as_ptr();
            give(first);
            let again: Vec<f32> = filled(1 << 20, 1.5);
            assert_eq!(again.as_ptr(), ptr, "the same allocation");
            assert!(again.iter().all(|&x| x == 1.5));
            give(again);
            // Another element size, or a request below half the capacity, gets
            // a new one.
            let other: Vec<f64> = with_capacity(1 << 19);
            assert_ne!(other.as_ptr().cast(), ptr);
            let small: Vec<f32> = with_capacity(1 << 18);
            assert_ne!(small.as_ptr(), ptr);
            assert_eq!(release_buffers(), 4 << 20);
        });
    }

    #[test]
    fn a_reused_vector_goes_back_when_dropped() {
        on_fresh_thread(|| {
            let index = Reused::filled(1 << 16, 7u32);
            assert!(index.iter().all(|&i| i == 7));
            let ptr = index.as_ptr();
            drop(index);
            assert_eq!(Reused::filled(1 << 16, 0u32).as_ptr(), ptr);
            assert_eq!(release_buffers(), 4 << 16);
        });
    }

    #[test]
    fn small_buffers_are_not_kept_and_the_bytes_are_bounded() {
        on_fresh_thread(|| {
            give(vec![0.0f32; 100]);
            assert_eq!(release_buffers(), 0);
            let huge = MAX_BYTES / size_of::<f32>();
            give(Vec::<f32>::with_capacity(huge / 2 + 1));
            give(Vec::<f32>::with_capacity(huge / 2 + 1));
            assert_eq!(
                release_buffers(),
                (huge / 2 + 1) * 4,
                "the second did not fit"
            );
        });
    }

    #[test]
    fn the_last_handle_of_a_tensor_gives_its_buffer_back() {
        on_fresh_thread(|| {
            let t = crate::Tensor::<f64>::zeros(&[256, 256]);
            let shared = t.clone();
            drop(t);
            assert_eq!(release_buffers(), 0, "still shared");
            drop(shared);
            assert_eq!(release_buffers(), 256 * 256 * 8);
        });
    }
}
