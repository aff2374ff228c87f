//! An LSTM that reads an image row by row (`--model lstm`).

use rand::Rng;
use tapegrad_nn::{Linear, Lstm, Module};
use tapegrad_tape::Var;

/// The hidden width of `--model lstm`.
pub const LSTM_HIDDEN: usize = 128;

/// An image `[N, H, W]` (or `[N, 1, H, W]`) as a sequence of H rows of W
/// features through an LSTM (batch first); a linear head on the last step's
/// hidden state h_H:
///
/// ```text
/// (h_t, c_t) = LSTM(x_t, h_{t−1}, c_{t−1}),  t = 1 … H,   ŷ = W h_H + b
/// ```
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapegrad_nn::Module;
/// use tapegrad_tape::{Tensor, Var};
/// use tapegrad_train::RowLstm;
/// let net = RowLstm::new(&[8, 8], 10, 16, 1, &mut StdRng::seed_from_u64(0)).unwrap();
/// assert_eq!(net.forward(&Var::constant(Tensor::zeros(&[2, 8, 8]))).unwrap().shape(), &[2, 10]);
/// assert_eq!(net.named_parameters()[0].0, "lstm.weight_ih_l0");
/// ```
pub struct RowLstm {
    lstm: Lstm<f32>,
    head: Linear<f32>,
}

impl RowLstm {
    /// `layers` LSTM layers of width `hidden` over images of `sample_shape`
    /// (`[H, W]` or `[1, H, W]`), then a linear layer to `classes`.
    pub fn new<R: Rng + ?Sized>(
        sample_shape: &[usize],
        classes: usize,
        hidden: usize,
        layers: usize,
        rng: &mut R,
    ) -> Result<Self, String> {
        let width = match sample_shape {
            [_, w] | [1, _, w] => *w,
            _ => {
                return Err(format!(
                    "needs [H, W] images, got samples of shape {sample_shape:?}"
                ));
            }
        };
        let lstm = Lstm::new(width, hidden, layers, rng)
            .map_err(|e| e.to_string())?
            .batch_first(true);
        Ok(Self {
            lstm,
            head: Linear::new(hidden, classes, rng),
        })
    }
}

impl Module<f32> for RowLstm {
    fn forward(&self, x: &Var<f32>) -> tapegrad_nn::Result<Var<f32>> {
        let x = match x.shape() {
            &[n, 1, h, w] => x.reshape(&[n, h, w])?,
            _ => x.clone(),
        };
        let (_, (h_n, _)) = self.lstm.run(&x, None)?;
        let &[layers, n, hidden] = h_n.shape() else {
            unreachable!("h_n is [layers, N, H]")
        };
        self.head
            .forward(&h_n.narrow(0, layers - 1, 1)?.reshape(&[n, hidden])?)
    }

    fn visit_children(&self, visit: &mut dyn FnMut(&str, &dyn Module<f32>)) {
        visit("lstm", &self.lstm);
        visit("head", &self.head);
    }

    fn layer_name(&self) -> &'static str {
        "RowLstm"
    }
}
