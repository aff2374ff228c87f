//! Fits y = 3x − 1 + noise with a hand-written gradient step: the smallest
//! complete use of the tape (forward, `backward()`, read `.grad()`, update).
//!
//! Run: `cargo run --release --example quickstart`

use rand::{SeedableRng, rngs::StdRng};
use tapegrad::tape::{Result, Tensor, Var, no_grad};

fn main() -> Result<()> {
    let mut rng = StdRng::seed_from_u64(0);
    let x = Tensor::<f64>::rand_uniform(&[64, 1], -1.0, 1.0, &mut rng);
    let noise = Tensor::<f64>::rand_normal(&[64, 1], 0.0, 0.05, &mut rng);
    let y = x.map(|v| 3.0 * v - 1.0).add(&noise)?;
    let (x, y) = (Var::constant(x), Var::constant(y));

    let w = Var::parameter(Tensor::zeros(&[1, 1]));
    let b = Var::parameter(Tensor::zeros(&[1]));
    let lr = 0.5;
    for step in 0..=100 {
        let prediction = x.mul(&w)?.add(&b)?;
        let loss = prediction.sub(&y)?.powf(2.0).mean();
        w.zero_grad();
        b.zero_grad();
        loss.backward()?;
        no_grad(|| {
            for p in [&w, &b] {
                let g = p.grad().expect("both parameters are used by the loss");
                p.update(|data| {
                    data.iter_mut()
                        .zip(g.data())
                        .for_each(|(v, g)| *v -= lr * g)
                });
            }
        });
        if step % 20 == 0 {
            println!("step {step:3}  loss {:.6}", loss.item()?);
        }
    }
    println!("w = {:.4}, b = {:.4} (true: 3, -1)", w.item()?, b.item()?);
    Ok(())
}
