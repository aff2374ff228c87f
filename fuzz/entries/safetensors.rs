//! Fuzz entry point for loading safetensors weights into a model, shared by
//! `fuzz_targets/safetensors.rs` and the replay test
//! `crates/nn/tests/fuzz_corpus.rs`.
//!
//! The input is the file. It is loaded, through the public `load_safetensors`
//! path, into an `f32` and an `f64` model (a convolution and a linear layer,
//! the parameter names `0.weight`, `0.bias`, `3.weight`, `3.bias`). Every input
//! must give `Ok` or `Err`, never a panic; a refused file must leave the model
//! as it was, and a loaded one must save and load back to the same values.

use std::path::Path;

use rand::{SeedableRng, rngs::StdRng};
use tapegrad_nn::{
    Conv2d, Flatten, Linear, Module, Relu, Sequential, load_safetensors, save_safetensors,
};
use tapegrad_tape::Float;

/// The model the files are loaded into: conv 1→2 (3×3) on 4×4, then 8 → 3.
pub fn model<T: Float>() -> Sequential<T> {
    let mut rng = StdRng::seed_from_u64(0);
    Sequential::new()
        .push(Conv2d::new(1, 2, 3, &mut rng))
        .push(Relu)
        .push(Flatten)
        .push(Linear::new(8, 3, &mut rng))
}

/// Writes `data` to `scratch` and loads it into both models; `scratch` must be
/// a path this caller alone uses.
pub fn run(data: &[u8], scratch: &Path) {
    std::fs::write(scratch, data).expect("the scratch file can be written");
    load_into(&model::<f32>(), scratch);
    load_into(&model::<f64>(), scratch);
}

fn values<T: Float>(model: &Sequential<T>) -> Vec<Vec<u64>> {
    model
        .parameters()
        .iter()
        .map(|p| {
            p.value()
                .data()
                .iter()
                .map(|x| x.to_f64().to_bits())
                .collect()
        })
        .collect()
}

fn load_into<T: Float>(model: &Sequential<T>, path: &Path) {
    let before = values(model);
    if load_safetensors(model, path).is_err() {
        assert_eq!(values(model), before, "a refused file changes nothing");
        return;
    }
    // What was loaded saves and loads back to the same values.
    let copy = path.with_extension("resaved");
    save_safetensors(model, &copy).expect("a loaded model can be saved");
    let other = self::model::<T>();
    load_safetensors(&other, &copy).expect("a saved model loads");
    let _ = std::fs::remove_file(&copy);
    assert_eq!(values(&other), values(model));
}
