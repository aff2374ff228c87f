//! The sequence workloads: W6, a pre-norm transformer encoder block, and W7,
//! a 2-layer LSTM classifier (`main.rs` describes both).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tapegrad::nn::{
    EncoderLayerConfig, FeedForwardActivation, Linear, Lstm, Module, Reduction,
    TransformerEncoderLayer, cross_entropy, mse_loss,
};
use tapegrad::optim::{Adam, AdamConfig, AdamW};
use tapegrad::tape::{Tensor, Var};

use crate::limits::{self, Product};
use crate::{BoxError, Options, emit_flop_limit, train_loop};

/// W6: batch 32 × sequence 64 through one pre-norm block of width 128.
pub(crate) fn w6(opts: &Options) -> Result<(), BoxError> {
    let (n, l, d) = (32, 64, 128);
    let mut rng = StdRng::seed_from_u64(0);
    let config = EncoderLayerConfig {
        dim_feedforward: 512,
        dropout: 0.0,
        activation: FeedForwardActivation::Gelu,
        batch_first: true,
        norm_first: true,
        ..EncoderLayerConfig::new(d, 4)
    };
    let block = TransformerEncoderLayer::new(config, 0, &mut rng)?;
    let x = Var::constant(Tensor::rand_normal(&[n, l, d], 0.0, 1.0, &mut rng));
    let target = Var::constant(Tensor::rand_normal(&[n, l, d], 0.0, 1.0, &mut rng));
    let params = block.parameters();
    let mut opt = AdamW::new(
        params.clone(),
        AdamConfig {
            lr: 1e-3,
            ..AdamConfig::adamw()
        },
    )?;
    let loss = || Ok(mse_loss(&block.forward(&x)?, &target, Reduction::Mean)?);
    // Saved by the graph, roughly: per token, the two norms' inputs and
    // outputs, q, k, v, the attention output, the projections, the
    // feed-forward's 512-wide hidden layer twice; per head, the L×L weights.
    let activations = n * l * (12 * d + 2 * 512) + n * 4 * l * l * 2;
    train_loop("W6", &params, &mut opt, loss, activations, opts)?;
    // Per token: the packed q, k, v projection, the output projection, the
    // feed-forward pair; per sequence and head (width 32): Q·Kᵀ and P·V.
    let tokens = n * l;
    let products = [
        Product::linear(tokens, d, 3 * d, true),
        Product::both_operands(n * 4, l, d / 4, l),
        Product::both_operands(n * 4, l, l, d / 4),
        Product::linear(tokens, d, d, true),
        Product::linear(tokens, d, 512, true),
        Product::linear(tokens, 512, d, true),
    ];
    emit_flop_limit("W6", "limit_ms_step", limits::step_flops(&products));
    Ok(())
}

/// W7: 28 rows of 28 pixels as a sequence through a 2-layer LSTM, then a
/// linear head on the last layer's final hidden state.
pub(crate) fn w7(opts: &Options) -> Result<(), BoxError> {
    let (n, l, input, hidden) = (64, 28, 28, 128);
    let mut rng = StdRng::seed_from_u64(0);
    let lstm = Lstm::new(input, hidden, 2, &mut rng)?.batch_first(true);
    let head = Linear::new(hidden, 10, &mut rng);
    let x = Var::constant(Tensor::rand_normal(&[n, l, input], 0.0, 1.0, &mut rng));
    let labels: Vec<usize> = (0..n).map(|_| rng.random_range(0..10)).collect();
    let mut params = lstm.parameters();
    params.extend(head.parameters());
    let cfg = AdamConfig {
        lr: 1e-3,
        eps: 1e-8,
        ..Default::default()
    };
    let mut opt = Adam::new(params.clone(), cfg)?;
    let loss = || {
        let (_, (h, _)) = lstm.run(&x, None)?;
        let last = h.narrow(0, 1, 1)?.reshape(&[n, hidden])?;
        Ok(cross_entropy(&head.forward(&last)?, &labels)?)
    };
    // Per step and layer: the gate pre-activations (4H), four gates, c, tanh c, h.
    let activations = n * l * 2 * (4 * hidden + 7 * hidden);
    train_loop("W7", &params, &mut opt, loss, activations, opts)?;
    // Each layer's input projection to the four gates (the first layer's
    // input is data) and its recurrent product at every step; the head.
    let rows = n * l;
    let products = [
        Product::linear(rows, input, 4 * hidden, false),
        Product::linear(rows, hidden, 4 * hidden, true),
        Product::linear(rows, hidden, 4 * hidden, true),
        Product::linear(rows, hidden, 4 * hidden, true),
        Product::linear(n, hidden, 10, true),
    ];
    emit_flop_limit("W7", "limit_ms_step", limits::step_flops(&products));
    Ok(())
}
