//! Recurrent layers, as `torch.nn.LSTM` and `torch.nn.GRU`: multi-layer,
//! sequence-first or batch-first, with PyTorch's gate order, parameter names
//! (`weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, …),
//! initialization U(−1/√H, 1/√H) and dropout between layers.

use rand::Rng;
use tapegrad_tape::{Float, Tensor, Var};

use crate::dropout::Dropout;
use crate::error::{NnError, Result};
use crate::init;
use crate::module::Module;
use crate::norm::debug_as_module;

/// The weights of one layer of a recurrent net with `gates` gates.
struct LayerWeights<T: Float> {
    w_ih: Var<T>,
    w_hh: Var<T>,
    b_ih: Option<Var<T>>,
    b_hh: Option<Var<T>>,
}

/// What LSTM and GRU share: the layers' weights, the layout, the dropout
/// between layers.
struct Recurrent<T: Float> {
    op: &'static str,
    hidden: usize,
    layers: Vec<LayerWeights<T>>,
    batch_first: bool,
    dropout: Dropout,
}

/// The (h, c) states of an LSTM, each `[num_layers, N, H]`.
pub type LstmState<T> = (Var<T>, Var<T>);

/// What a run over a sequence gives: the last layer's outputs and the final
/// states of every layer.
struct RunOutput<T: Float> {
    output: Var<T>,
    h_n: Var<T>,
    c_n: Option<Var<T>>,
}

/// A run's outputs `[L, N, H]` and each layer's final h and (LSTM) c `[N, H]`.
type LayerStates<T> = (Var<T>, Vec<Var<T>>, Vec<Var<T>>);

/// The two kinds of cell.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cell {
    Lstm,
    Gru,
}

impl Cell {
    fn gates(self) -> usize {
        match self {
            Cell::Lstm => 4,
            Cell::Gru => 3,
        }
    }
}

impl<T: Float> Recurrent<T> {
    fn new<R: Rng + ?Sized>(
        op: &'static str,
        cell: Cell,
        sizes: (usize, usize, usize),
        rng: &mut R,
    ) -> Result<Self> {
        let (input, hidden, num_layers) = sizes;
        if hidden == 0 || num_layers == 0 {
            return Err(NnError::InvalidArgument {
                op,
                name: "hidden_size, num_layers",
                value: format!("{hidden}, {num_layers}"),
                reason: "both must be at least 1".into(),
            });
        }
        let bound = 1.0 / (hidden as f64).sqrt();
        let g = cell.gates() * hidden;
        let mut param = |shape: &[usize]| Var::parameter(init::uniform(shape, bound, rng));
        let layers = (0..num_layers)
            .map(|k| {
                let fan_in = if k == 0 { input } else { hidden };
                LayerWeights {
                    w_ih: param(&[g, fan_in]),
                    w_hh: param(&[g, hidden]),
                    b_ih: Some(param(&[g])),
                    b_hh: Some(param(&[g])),
                }
            })
            .collect();
        Ok(Self {
            op,
            hidden,
            layers,
            batch_first: false,
            dropout: Dropout::new(0.0, 0)?,
        })
    }

    fn visit(&self, visit: &mut dyn FnMut(&str, &Var<T>)) {
        for (k, l) in self.layers.iter().enumerate() {
            visit(&format!("weight_ih_l{k}"), &l.w_ih);
            visit(&format!("weight_hh_l{k}"), &l.w_hh);
            if let Some(b) = &l.b_ih {
                visit(&format!("bias_ih_l{k}"), b);
            }
            if let Some(b) = &l.b_hh {
                visit(&format!("bias_hh_l{k}"), b);
            }
        }
    }

    /// `x` as `[L, N, in]`, checked.
    fn sequence_first(&self, x: &Var<T>) -> Result<Var<T>> {
        let input = self.layers[0].w_ih.shape()[1];
        if x.ndim() != 3 || x.shape()[2] != input {
            return Err(NnError::InvalidArgument {
                op: self.op,
                name: "input",
                value: format!("shape {:?}", x.shape()),
                reason: format!("must be [L, N, {input}] ([N, L, {input}] with batch_first)"),
            });
        }
        Ok(if self.batch_first {
            x.transpose(0, 1)?
        } else {
            x.clone()
        })
    }

    /// An initial state `[num_layers, N, H]` (zeros when not given), checked.
    fn initial(&self, given: Option<&Var<T>>, n: usize, what: &'static str) -> Result<Var<T>> {
        let shape = [self.layers.len(), n, self.hidden];
        match given {
            None => Ok(Var::constant(Tensor::zeros(&shape))),
            Some(h) if h.shape() == shape => Ok(h.clone()),
            Some(h) => Err(NnError::InvalidArgument {
                op: self.op,
                name: what,
                value: format!("shape {:?}", h.shape()),
                reason: format!("must be [num_layers, N, H] = {shape:?}"),
            }),
        }
    }

    /// Runs every layer over the sequence; returns the last layer's outputs
    /// `[L, N, H]` and the final hidden (and, for an LSTM, cell) states
    /// `[num_layers, N, H]`.
    fn run(
        &self,
        cell: Cell,
        x: &Var<T>,
        h0: Option<&Var<T>>,
        c0: Option<&Var<T>>,
    ) -> Result<RunOutput<T>> {
        let x = self.sequence_first(x)?;
        let n = x.shape()[1];
        let h0 = self.initial(h0, n, "h_0")?;
        let (input, finals_h, finals_c) = match cell {
            Cell::Lstm => self.run_lstm(x, &h0, &self.initial(c0, n, "c_0")?)?,
            Cell::Gru => self.run_gru(&x, &h0)?,
        };
        let stack = |v: &[Var<T>]| Var::stack(&v.iter().collect::<Vec<_>>(), 0);
        let output = if self.batch_first {
            input.transpose(0, 1)?
        } else {
            input
        };
        let c_n = if finals_c.is_empty() {
            None
        } else {
            Some(stack(&finals_c)?)
        };
        Ok(RunOutput {
            output,
            h_n: stack(&finals_h)?,
            c_n,
        })
    }

    /// The input of layer k > 0: the outputs of layer k − 1, with dropout
    /// when training.
    fn between_layers(&self, outputs: &Var<T>) -> Result<Var<T>> {
        Ok(if self.dropout.is_training() && self.dropout.p() > 0.0 {
            self.dropout.forward(outputs)?
        } else {
            outputs.clone()
        })
    }

    /// Every layer of an LSTM: one GEMM for the input projections of the
    /// whole sequence, then the fused recurrence
    /// ([`Var::lstm_recurrence`]). Returns the outputs `[L, N, H]` and each
    /// layer's final h and c `[N, H]`.
    fn run_lstm(&self, x: Var<T>, h0: &Var<T>, c0: &Var<T>) -> Result<LayerStates<T>> {
        let (steps, n, hidden) = (x.shape()[0], x.shape()[1], self.hidden);
        let (mut input, mut finals_h, mut finals_c) = (x, Vec::new(), Vec::new());
        for (k, weights) in self.layers.iter().enumerate() {
            if k > 0 {
                input = self.between_layers(&input)?;
            }
            let rows = input.reshape(&[steps * n, input.shape()[2]])?;
            let xw = rows.linear(&weights.w_ih, weights.b_ih.as_ref())?;
            let xw = xw.reshape(&[steps, n, 4 * hidden])?;
            let layer = |s: &Var<T>| s.narrow(0, k, 1)?.reshape(&[n, hidden]);
            let (h, c) = (layer(h0)?, layer(c0)?);
            let s = xw.lstm_recurrence(&weights.w_hh, weights.b_hh.as_ref(), &h, &c)?;
            let last = |which: usize| {
                s.narrow(0, which, 1)?
                    .narrow(1, steps - 1, 1)?
                    .reshape(&[n, hidden])
            };
            finals_h.push(last(0)?);
            finals_c.push(last(1)?);
            input = s.narrow(0, 0, 1)?.reshape(&[steps, n, hidden])?;
        }
        Ok((input, finals_h, finals_c))
    }

    /// Every layer of a GRU, step by step. The steps are kept apart between
    /// layers: taking step t out of one stacked tensor (a narrow) would give
    /// each step's gradient the size of the whole sequence, quadratic in its
    /// length.
    fn run_gru(&self, x: &Var<T>, h0: &Var<T>) -> Result<LayerStates<T>> {
        let (steps, n) = (x.shape()[0], x.shape()[1]);
        let mut inputs: Vec<Var<T>> = (0..steps)
            .map(|t| Ok(x.narrow(0, t, 1)?.reshape(&[n, x.shape()[2]])?))
            .collect::<Result<_>>()?;
        let mut finals_h = Vec::new();
        for (k, weights) in self.layers.iter().enumerate() {
            if k > 0 {
                inputs = inputs
                    .iter()
                    .map(|x| self.between_layers(x))
                    .collect::<Result<_>>()?;
            }
            let mut h = h0.narrow(0, k, 1)?.reshape(&[n, self.hidden])?;
            for input in &mut inputs {
                let xt = input.linear(&weights.w_ih, weights.b_ih.as_ref())?;
                let hh = h.linear(&weights.w_hh, weights.b_hh.as_ref())?;
                h = self.gru_step(&xt, &hh, &h)?;
                *input = h.clone();
            }
            finals_h.push(h);
        }
        let output = Var::stack(&inputs.iter().collect::<Vec<_>>(), 0)?;
        Ok((output, finals_h, Vec::new()))
    }
    /// Gate k of a `[N, gates·H]` pre-activation.
    fn gate(&self, z: &Var<T>, k: usize) -> Result<Var<T>> {
        Ok(z.narrow(1, k * self.hidden, self.hidden)?)
    }

    /// r, z = σ of the first two gates, n = tanh(x_n + r (h_n)); h' = (1 − z) n + z h.
    fn gru_step(&self, xt: &Var<T>, hh: &Var<T>, h: &Var<T>) -> Result<Var<T>> {
        let r = self.gate(xt, 0)?.add(&self.gate(hh, 0)?)?.sigmoid();
        let z = self.gate(xt, 1)?.add(&self.gate(hh, 1)?)?.sigmoid();
        let n = self.gate(xt, 2)?.add(&r.mul(&self.gate(hh, 2)?)?)?.tanh();
        Ok(n.add(&z.mul(&h.sub(&n)?)?)?)
    }
}

/// Declares a recurrent layer over the shared `Recurrent`.
macro_rules! recurrent_layer {
    ($(#[$meta:meta])* $name:ident, $cell:expr) => {
        $(#[$meta])*
        pub struct $name<T: Float = f32>(Recurrent<T>);

        impl<T: Float> $name<T> {
            /// `num_layers` layers of `hidden_size` units over inputs of
            /// `input_size` features, PyTorch's initialization (every weight
            /// and bias from U(−1/√H, 1/√H), layer by layer, in the order of
            /// the parameter names), sequence-first, no dropout.
            pub fn new<R: Rng + ?Sized>(input_size: usize, hidden_size: usize, num_layers: usize, rng: &mut R) -> Result<Self> {
                Recurrent::new(stringify!($name), $cell, (input_size, hidden_size, num_layers), rng).map(Self)
            }

            /// Inputs and outputs `[N, L, ·]` (`true`) or `[L, N, ·]` (the
            /// default); the states stay `[num_layers, N, H]`, as PyTorch's.
            pub fn batch_first(mut self, batch_first: bool) -> Self {
                self.0.batch_first = batch_first;
                self
            }

            /// Dropout with probability `p` on the outputs of every layer but
            /// the last, in training, from a generator seeded with `seed`.
            pub fn dropout(mut self, p: f64, seed: u64) -> Result<Self> {
                self.0.dropout = Dropout::new(p, seed)?;
                Ok(self)
            }

            /// Without the biases (PyTorch's `bias=False`).
            pub fn without_bias(mut self) -> Self {
                for l in &mut self.0.layers {
                    l.b_ih = None;
                    l.b_hh = None;
                }
                self
            }

            /// H, the hidden size.
            pub fn hidden_size(&self) -> usize {
                self.0.hidden
            }

            /// The number of stacked layers.
            pub fn num_layers(&self) -> usize {
                self.0.layers.len()
            }
        }

        impl<T: Float> Module<T> for $name<T> {
            /// The last layer's outputs at every step, from zero states.
            fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
                Ok(self.0.run($cell, x, None, None)?.output)
            }

            fn visit_own_parameters(&self, visit: &mut dyn FnMut(&str, &Var<T>)) {
                self.0.visit(visit);
            }

            fn visit_children(&self, visit: &mut dyn FnMut(&str, &dyn Module<T>)) {
                visit("dropout", &self.0.dropout);
            }
        }

        debug_as_module!($name);
    };
}

recurrent_layer!(
    /// A multi-layer LSTM, as `torch.nn.LSTM`. For layer k at step t, with
    /// gates in PyTorch's order i, f, g, o (rows of `weight_ih_lk` `[4H, in]`,
    /// `weight_hh_lk` `[4H, H]` and the biases `[4H]`):
    ///
    /// ```text
    /// i = σ(W_ii x + b_ii + W_hi h + b_hi)     f = σ(W_if x + b_if + W_hf h + b_hf)
    /// g = tanh(W_ig x + b_ig + W_hg h + b_hg)  o = σ(W_io x + b_io + W_ho h + b_ho)
    /// c' = f ⊙ c + i ⊙ g                        h' = o ⊙ tanh(c')
    /// ```
    ///
    /// The input of layer k > 0 is layer k − 1's h, through dropout in
    /// training.
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use tapegrad_nn::{Lstm, Module};
    /// use tapegrad_tape::{Tensor, Var};
    /// let lstm = Lstm::<f64>::new(3, 5, 2, &mut StdRng::seed_from_u64(0)).unwrap().batch_first(true);
    /// assert_eq!(lstm.named_parameters()[4].0, "weight_ih_l1");
    /// let x = Var::constant(Tensor::ones(&[4, 7, 3]));
    /// let (out, (h, c)) = lstm.run(&x, None).unwrap();
    /// assert_eq!(out.shape(), &[4, 7, 5]);
    /// assert_eq!(h.shape(), &[2, 4, 5]);
    /// assert_eq!(c.shape(), &[2, 4, 5]);
    /// ```
    Lstm,
    Cell::Lstm
);

impl<T: Float> Lstm<T> {
    /// The outputs `[L, N, H]` (`[N, L, H]` batch-first) and the final states
    /// (h_n, c_n) `[num_layers, N, H]`, from the initial states (h_0, c_0)
    /// (zeros when `None`).
    pub fn run(
        &self,
        x: &Var<T>,
        state: Option<(&Var<T>, &Var<T>)>,
    ) -> Result<(Var<T>, LstmState<T>)> {
        let (h0, c0) = state.unzip();
        let run = self.0.run(Cell::Lstm, x, h0, c0)?;
        let c_n = run.c_n.expect("an LSTM returns its cell states");
        Ok((run.output, (run.h_n, c_n)))
    }
}

recurrent_layer!(
    /// A multi-layer GRU, as `torch.nn.GRU`. For layer k at step t, with
    /// gates in PyTorch's order r, z, n (rows of `weight_ih_lk` `[3H, in]`,
    /// `weight_hh_lk` `[3H, H]` and the biases `[3H]`):
    ///
    /// ```text
    /// r = σ(W_ir x + b_ir + W_hr h + b_hr)     z = σ(W_iz x + b_iz + W_hz h + b_hz)
    /// n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
    /// h' = (1 − z) ⊙ n + z ⊙ h
    /// ```
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use tapegrad_nn::{Gru, Module};
    /// use tapegrad_tape::{Tensor, Var};
    /// let gru = Gru::<f64>::new(3, 4, 1, &mut StdRng::seed_from_u64(0)).unwrap();
    /// let (out, h) = gru.run(&Var::constant(Tensor::ones(&[6, 2, 3])), None).unwrap();
    /// assert_eq!(out.shape(), &[6, 2, 4]);
    /// assert_eq!(h.shape(), &[1, 2, 4]);
    /// ```
    Gru,
    Cell::Gru
);

impl<T: Float> Gru<T> {
    /// The outputs and the final hidden states h_n `[num_layers, N, H]`, from
    /// h_0 (zeros when `None`).
    pub fn run(&self, x: &Var<T>, h0: Option<&Var<T>>) -> Result<(Var<T>, Var<T>)> {
        let run = self.0.run(Cell::Gru, x, h0, None)?;
        Ok((run.output, run.h_n))
    }
}
