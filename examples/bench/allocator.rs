//! The benchmark's global allocator: mimalloc by default, or the system's
//! `malloc` when the environment has `TAPEGRAD_BENCH_ALLOCATOR=system`.
//!
//! mimalloc serves a graph of many small tensors faster (W3); the system
//! allocator, which is what a Rust program has unless it picks another, keeps
//! the resident memory of a training loop closer to what is live (see "Peak
//! memory of training" in docs/performance.md). The choice is made once by a
//! constructor that runs before `main`, so that no block is freed by an
//! allocator other than the one that gave it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the system allocator serves this process.
static SYSTEM: AtomicBool = AtomicBool::new(false);

/// Routes every call to the allocator chosen before `main`.
pub struct Chosen;

// SAFETY: both allocators uphold the `GlobalAlloc` contract, and a block is
// always returned to the one that gave it: `SYSTEM` is written only before
// `main`, when no Rust code has allocated yet.
unsafe impl GlobalAlloc for Chosen {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        unsafe {
            if system() {
                System.alloc(layout)
            } else {
                mimalloc::MiMalloc.alloc(layout)
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded to the allocator that gave `ptr`.
        unsafe {
            if system() {
                System.dealloc(ptr, layout)
            } else {
                mimalloc::MiMalloc.dealloc(ptr, layout)
            }
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded to the allocator that gave `ptr`.
        unsafe {
            if system() {
                System.realloc(ptr, layout, new_size)
            } else {
                mimalloc::MiMalloc.realloc(ptr, layout, new_size)
            }
        }
    }
}

#[inline]
fn system() -> bool {
    SYSTEM.load(Ordering::Relaxed)
}

unsafe extern "C" {
    fn getenv(name: *const std::ffi::c_char) -> *const std::ffi::c_char;
}

/// Reads `TAPEGRAD_BENCH_ALLOCATOR` with the C library (`std::env` is not
/// for use before `main`).
extern "C" fn choose() {
    // SAFETY: `getenv` with a NUL-terminated name; the result, if not null,
    // is a NUL-terminated string that stays valid while the environment is
    // not modified, which nothing does this early.
    let value = unsafe { getenv(c"TAPEGRAD_BENCH_ALLOCATOR".as_ptr()) };
    let system = !value.is_null() && unsafe { std::ffi::CStr::from_ptr(value) } == c"system";
    SYSTEM.store(system, Ordering::Relaxed);
}

#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static CHOOSE: extern "C" fn() = choose;

/// With mimalloc, keeps freed pages mapped (`tapegrad_train::keep_freed_pages`:
/// a training step frees and reallocates the same multi-MB activations every
/// few milliseconds, which mimalloc's default purging would fault back in).
pub fn keep_freed_pages() {
    if !system() {
        tapegrad_train::keep_freed_pages();
    }
}
