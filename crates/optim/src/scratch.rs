//! Working memory reused across steps: a rule that needs room beyond its state
//! (Adafactor's column sums, Muon's Newton–Schulz matrices) borrows it here, so
//! that after the first step a step allocates nothing.

use std::any::Any;
use std::cell::RefCell;

thread_local! {
    /// One slot per element type, holding a buffer grown to the largest length
    /// asked for (empty while a caller has it).
    static SLOTS: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on `len` zeroed elements of this thread's buffer of `T`. A call
/// from inside `f` gets a new buffer.
pub(crate) fn with<T: Copy + Default + 'static, R>(len: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
    let taken = SLOTS.with(|s| {
        let mut s = s.borrow_mut();
        s.iter_mut()
            .find_map(|slot| slot.downcast_mut::<Option<Vec<T>>>())
            .and_then(Option::take)
    });
    let mut buffer = taken.unwrap_or_default();
    buffer.clear();
    buffer.resize(len, T::default());
    let out = f(&mut buffer);
    SLOTS.with(|s| {
        let mut s = s.borrow_mut();
        match s
            .iter_mut()
            .find_map(|slot| slot.downcast_mut::<Option<Vec<T>>>())
        {
            Some(slot) if slot.is_none() => *slot = Some(buffer),
            Some(_) => {} // a nested call's buffer went back first; this one is dropped
            None => s.push(Box::new(Some(buffer))),
        }
    });
    out
}
