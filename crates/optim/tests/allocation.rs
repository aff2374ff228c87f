//! After the first step (which creates the state), a step allocates nothing:
//! the update reads the gradient in place and writes θ and the state in place,
//! also when a large parameter is split across threads, and so does the
//! finiteness check of `ApplyIfFinite`, whether it applies or skips the step.
//!
//! Only the threads that take part in a step are counted: the workers of a pool
//! of the test's own, one of which runs the steps (inside `install`) while the
//! others take chunks of the split updates. Allocations elsewhere in the
//! process are not the optimizer's, and counting them made this test flaky
//! under load: libtest's main thread records the running test in a hash map
//! after spawning it, and a worker of a lazily started pool allocates its job
//! queue (a 1.5 KB injector block) when it first runs, which under load can be
//! long after the first steps. Here the pool is warmed by a broadcast, which
//! returns only once every worker has started and marked itself.
//!
//! Steps are taken on a worker because a call from outside the pool hands each
//! large parameter to it through rayon's injector, which allocates a block per
//! 63 hand-offs (rayon's allocation, not the optimizer's; amortized, 24 bytes a
//! hand-off).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::table::{Row, rows};
use tapegrad_optim::{Optimizer, ParamGroup};
use tapegrad_tape::{Tensor, Var};

struct Counting;

/// Allocations by marked threads while `COUNTING` is set.
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static COUNTING: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Set on the workers of the test's pool. Const-initialized and without a
    /// destructor, so reading it allocates nothing and works at any time.
    static MARKED: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if COUNTING.load(Ordering::SeqCst) && MARKED.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// More workers than cores, so that chunks are stolen whatever the machine.
const THREADS: usize = 4;
const LARGE: usize = 200_000;

/// The allocations made by marked threads during `f`.
fn allocations_during<R>(f: impl FnOnce() -> R) -> (usize, R) {
    ALLOCATIONS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    let r = f();
    COUNTING.store(false, Ordering::SeqCst);
    (ALLOCATIONS.load(Ordering::SeqCst), r)
}

/// Two warm-up steps (the first creates the state), then five counted ones.
fn check_row(row: &Row) {
    let small = Var::parameter(Tensor::<f32>::full(&[7], 0.5));
    let large = Var::parameter(Tensor::<f32>::full(&[LARGE], 0.5));
    let mut opt = row.build(vec![ParamGroup::new(vec![small.clone(), large.clone()])]);
    small.set_grad(Some(Tensor::full(&[7], 0.25)));
    large.set_grad(Some(Tensor::full(&[LARGE], -0.25)));
    opt.step().unwrap();
    opt.step().unwrap();
    let (during, result) = allocations_during(|| (0..5).try_for_each(|_| opt.step()));
    result.unwrap();
    assert_eq!(
        during, 0,
        "{} allocated {during} times in 5 steps",
        row.name
    );
    if opt.nonfinite_counts().is_some() {
        check_skips(row, opt.as_mut(), &large);
    }
}

/// A NaN in the last element of the large gradient: three skipped steps (the
/// check splits the gradient like an update), allocating nothing either.
fn check_skips(row: &Row, opt: &mut dyn Optimizer<f32>, large: &Var<f32>) {
    large.with_grad_mut(|g| *g.as_mut().unwrap().data_mut().last_mut().unwrap() = f32::NAN);
    let (during, result) = allocations_during(|| (0..3).try_for_each(|_| opt.step()));
    result.unwrap();
    assert_eq!(
        during, 0,
        "{} allocated {during} times in 3 skipped steps",
        row.name
    );
    assert_eq!(
        opt.nonfinite_counts().unwrap().notfinite_count,
        3,
        "{}",
        row.name
    );
}

#[test]
fn steps_after_the_first_allocate_nothing() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(THREADS)
        .build()
        .unwrap();
    pool.broadcast(|_| MARKED.with(|m| m.set(true)));
    pool.install(|| {
        for row in rows() {
            check_row(&row);
        }
    });
}
