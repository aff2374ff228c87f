//! After the first step (which creates the state), a step allocates nothing:
//! the update reads the gradient in place and writes θ and the state in place,
//! also when a large parameter is split across threads.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use tapegrad_optim::{
    Adagrad, AdagradConfig, Adam, AdamConfig, AdamW, AdamWConfig, Optimizer, RmsProp,
    RmsPropConfig, Sgd, SgdConfig,
};
use tapegrad_tape::{Tensor, Var};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn steps_after_the_first_allocate_nothing() {
    let small = Var::parameter(Tensor::<f32>::full(&[7], 0.5));
    let large = Var::parameter(Tensor::<f32>::full(&[200_000], 0.5));
    let params = vec![small.clone(), large.clone()];
    let optimizers: Vec<Box<dyn Optimizer<f32>>> = vec![
        Box::new(
            Sgd::new(
                params.clone(),
                SgdConfig {
                    momentum: 0.9,
                    weight_decay: 0.1,
                    ..Default::default()
                },
            )
            .unwrap(),
        ),
        Box::new(Adagrad::new(params.clone(), AdagradConfig::default()).unwrap()),
        Box::new(
            RmsProp::new(
                params.clone(),
                RmsPropConfig {
                    centered: true,
                    momentum: 0.5,
                    ..Default::default()
                },
            )
            .unwrap(),
        ),
        Box::new(
            Adam::new(
                params.clone(),
                AdamConfig {
                    amsgrad: true,
                    ..Default::default()
                },
            )
            .unwrap(),
        ),
        Box::new(AdamW::new(params.clone(), AdamWConfig::default()).unwrap()),
    ];
    small.set_grad(Some(Tensor::full(&[7], 0.25)));
    large.set_grad(Some(Tensor::full(&[200_000], -0.25)));
    for mut opt in optimizers {
        opt.step().unwrap();
        opt.step().unwrap();
        let before = ALLOCATIONS.load(Ordering::SeqCst);
        for _ in 0..5 {
            opt.step().unwrap();
        }
        let during = ALLOCATIONS.load(Ordering::SeqCst) - before;
        assert_eq!(
            during,
            0,
            "{} allocated {during} times in 5 steps",
            opt.name()
        );
    }
}
