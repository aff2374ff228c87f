//! Accuracy and loss of a model on a data set, without recording a graph.

use rand::SeedableRng;
use rand::rngs::StdRng;
use tapegrad_data::{Dataset, batches};
use tapegrad_nn::{Module, cross_entropy};
use tapegrad_tape::{Tensor, Var, no_grad};

use super::error::Result;

/// The batch size of evaluation passes: large, since no graph is kept.
pub const EVAL_BATCH: usize = 1000;

/// How many rows of `logits` `[B, K]` have their largest entry (the first, on a
/// tie) at the row's label.
///
/// ```
/// use tapegrad_tape::Tensor;
/// let logits = Tensor::from_vec(vec![0.1f32, 0.9, 2.0, -1.0, 0.0, 0.0], &[3, 2]).unwrap();
/// assert_eq!(tapegrad_train::count_correct(&logits, &[1, 0, 1]), 2);
/// ```
pub fn count_correct(logits: &Tensor<f32>, labels: &[usize]) -> usize {
    let classes = logits.shape().last().copied().unwrap_or(1).max(1);
    logits
        .data()
        .chunks_exact(classes)
        .zip(labels)
        .filter(|(row, label)| argmax(row) == **label)
        .count()
}

fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in row.iter().enumerate() {
        if x > row[best] {
            best = i;
        }
    }
    best
}

/// `(mean cross-entropy, accuracy)` of `model` on `data`, in evaluation mode,
/// under `no_grad`, in batches of `batch_size` in dataset order. Leaves the
/// model in training mode.
///
/// ```
/// use tapegrad_train::{DataSource, ModelKind, build_model, evaluate, load_splits};
/// let s = load_splits(&DataSource::Digits, ModelKind::Mlp, 0).unwrap();
/// let model = build_model(ModelKind::Mlp, s.sample_shape(), 10, 0).unwrap();
/// let (loss, accuracy) = evaluate(&model, &s.test, 100).unwrap();
/// assert!(loss > 1.5 && accuracy < 0.5); // untrained: near ln 10 and chance
/// ```
pub fn evaluate(model: &dyn Module<f32>, data: &Dataset, batch_size: usize) -> Result<(f64, f64)> {
    model.eval();
    let result = no_grad(|| -> Result<(f64, f64)> {
        let (mut loss_sum, mut correct) = (0.0f64, 0usize);
        let mut unused = StdRng::seed_from_u64(0);
        for (x, y) in batches(data, batch_size, false, false, &mut unused)? {
            let logits = model.forward(&Var::constant(x))?;
            loss_sum += f64::from(cross_entropy(&logits, &y)?.item()?) * y.len() as f64;
            correct += count_correct(&logits.value(), &y);
        }
        let n = data.len().max(1) as f64;
        Ok((loss_sum / n, correct as f64 / n))
    });
    model.train();
    result
}
