//! A module written by hand — a struct of layers and a forward function — trained
//! for a few steps on random data with a hand-written SGD step, then saved and
//! reloaded in the safetensors format.
//!
//! Run: `cargo run --release --example custom_module`

use rand::{Rng, SeedableRng, rngs::StdRng};
use tapegrad::nn::{
    self, Conv2d, Dropout, Flatten, Linear, MaxPool2d, Module, Relu, load_safetensors,
    save_safetensors,
};
use tapegrad::tape::{Tensor, Var, no_grad};

/// conv(1→4, 3×3, padding 1) → relu → max-pool 2 → flatten → dropout → linear(64→3)
/// on [N, 1, 8, 8] images.
struct SmallCnn {
    conv: Conv2d,
    pool: MaxPool2d,
    drop: Dropout,
    fc: Linear,
}

impl SmallCnn {
    fn new(rng: &mut StdRng) -> nn::Result<Self> {
        Ok(Self {
            conv: Conv2d::new(1, 4, 3, rng).padding(1),
            pool: MaxPool2d::new(2),
            drop: Dropout::new(0.1, 7)?,
            fc: Linear::new(4 * 4 * 4, 3, rng),
        })
    }
}

impl Module<f32> for SmallCnn {
    fn forward(&self, x: &Var<f32>) -> nn::Result<Var<f32>> {
        let h = Relu.forward(&self.conv.forward(x)?)?;
        let h = Flatten.forward(&self.pool.forward(&h)?)?;
        self.fc.forward(&self.drop.forward(&h)?)
    }

    // The names give the parameters "conv.weight", "conv.bias", "fc.weight",
    // "fc.bias" (PyTorch's state_dict keys for the same attributes), and let
    // train()/eval() reach the dropout.
    fn visit_children(&self, visit: &mut dyn FnMut(&str, &dyn Module<f32>)) {
        visit("conv", &self.conv);
        visit("pool", &self.pool);
        visit("drop", &self.drop);
        visit("fc", &self.fc);
    }
}

/// θ ← θ − lr · ∂ξ/∂θ for every parameter, outside the graph.
fn sgd_step(params: &[Var<f32>], lr: f32) {
    no_grad(|| {
        for p in params {
            if let Some(g) = p.grad() {
                p.update(|data| {
                    for (theta, g) in data.iter_mut().zip(g.data()) {
                        *theta -= lr * g;
                    }
                });
            }
        }
    });
}

fn main() -> nn::Result<()> {
    let mut rng = StdRng::seed_from_u64(0);
    let model = SmallCnn::new(&mut rng)?;
    for (name, p) in model.named_parameters() {
        println!("{name:12} {:?}", p.shape());
    }

    let x = Var::constant(Tensor::<f32>::rand_normal(
        &[32, 1, 8, 8],
        0.0,
        1.0,
        &mut rng,
    ));
    let labels: Vec<usize> = (0..32).map(|_| rng.random_range(0..3)).collect();
    let params = model.parameters();
    for step in 0..=30 {
        let loss = nn::cross_entropy(&model.forward(&x)?, &labels)?;
        params.iter().for_each(Var::zero_grad);
        loss.backward()?;
        sgd_step(&params, 0.1);
        if step % 5 == 0 {
            println!("step {step:2}  loss {:.4}", loss.item()?);
        }
    }

    model.eval();
    let dir = std::env::temp_dir().join(format!("tapegrad-custom-module-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| nn::NnError::Io {
        op: "create_dir_all",
        path: dir.clone(),
        source,
    })?;
    let path = dir.join("small_cnn.safetensors");
    save_safetensors(&model, &path)?;
    let restored = SmallCnn::new(&mut StdRng::seed_from_u64(1))?;
    load_safetensors(&restored, &path)?;
    restored.eval();
    let same = model.forward(&x)?.value() == restored.forward(&x)?.value();
    println!(
        "reloaded from {}: same logits in eval mode = {same}",
        path.display()
    );
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
