//! The training program's allocator settings.

/// `mi_option_purge_delay` in mimalloc 3's option enum.
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

unsafe extern "C" {
    /// mimalloc's option setter (linked in with the `mimalloc` crate).
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// Keeps the pages mimalloc frees mapped: by default it returns them to the
/// OS after 10 ms, and a training step, which frees and allocates the same
/// megabytes every few milliseconds, then faults them back in, the kernel
/// zeroing each, 2 MiB at a time where mimalloc maps huge pages (one MNIST
/// CNN epoch: 1 928 page faults with the default, 596 with this; the kernel's
/// page zeroing was 8.8 % of the epoch's samples). The same as
/// `MIMALLOC_PURGE_DELAY=-1`, which wins when set;
/// without mimalloc as the global allocator the setting has no effect.
pub fn keep_freed_pages() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: a plain setter of an integer option; any value is accepted.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
    }
}
