//! A model's summary: every module with its layer, output shape and parameter
//! count, and the totals (as `torchinfo.summary` or Keras' `model.summary()`).

use std::collections::HashMap;
use std::fmt;

use tapegrad_tape::{Float, Var, no_grad};

use crate::error::Result;
use crate::module::Module;

/// One module of a [`Summary`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    /// Its dotted name (`""` for the model itself).
    pub name: String,
    /// Its layer name (`"Linear"`).
    pub layer: &'static str,
    /// How deep it sits: 0 for the model, 1 for its children, …
    pub depth: usize,
    /// The shape of its output on the summarized input, where it was traced
    /// (see [`Module::forward_traced`]).
    pub output_shape: Option<Vec<usize>>,
    /// Elements of the parameters it holds itself (not its children's).
    pub parameters: usize,
}

/// The table [`summary`] returns; `Display` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The model, then every sub-module depth first.
    pub rows: Vec<SummaryRow>,
    /// Elements of all parameters.
    pub total_parameters: usize,
    /// Elements of the parameters that require a gradient.
    pub trainable_parameters: usize,
    /// Elements of all buffers.
    pub buffer_elements: usize,
}

/// Runs `model` on `input` without recording a graph (in its current mode: a
/// batch-norm layer in training mode moves its statistics, as it would in
/// PyTorch) and lists its modules with their output shapes and parameter
/// counts.
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapegrad_nn::{summary, Linear, Module, Relu, Sequential};
/// use tapegrad_tape::{Tensor, Var};
/// let mut rng = StdRng::seed_from_u64(0);
/// let model = Sequential::<f32>::new().push(Linear::new(4, 8, &mut rng)).push(Relu).push(Linear::new(8, 2, &mut rng));
/// let s = summary(&model, &Var::constant(Tensor::zeros(&[16, 4]))).unwrap();
/// assert_eq!(s.total_parameters, 4 * 8 + 8 + 8 * 2 + 2);
/// assert_eq!(s.rows[3].output_shape, Some(vec![16, 2]));
/// println!("{s}");
/// ```
pub fn summary<T: Float, M: Module<T> + ?Sized>(model: &M, input: &Var<T>) -> Result<Summary> {
    let mut shapes: HashMap<String, Vec<usize>> = HashMap::new();
    let out = no_grad(|| {
        model.forward_traced(input, &mut |name, y| {
            shapes.insert(name.to_owned(), y.shape().to_vec());
        })
    })?;
    shapes.insert(String::new(), out.shape().to_vec());
    let own = |m: &dyn Module<T>| {
        let mut n = 0;
        m.visit_own_parameters(&mut |_, p| n += p.numel());
        n
    };
    let mut rows = vec![SummaryRow {
        name: String::new(),
        layer: model.layer_name(),
        depth: 0,
        output_shape: shapes.get("").cloned(),
        parameters: 0,
    }];
    model.visit_own_parameters(&mut |_, p| rows[0].parameters += p.numel());
    model.visit_descendants(&mut |name, m| {
        rows.push(SummaryRow {
            name: name.to_owned(),
            layer: m.layer_name(),
            depth: name.split('.').count(),
            output_shape: shapes.get(name).cloned(),
            parameters: own(m),
        });
    });
    let params = model.parameters();
    Ok(Summary {
        rows,
        total_parameters: params.iter().map(Var::numel).sum(),
        trainable_parameters: params
            .iter()
            .filter(|p| p.requires_grad())
            .map(Var::numel)
            .sum(),
        buffer_elements: model
            .named_buffers()
            .iter()
            .map(|(_, b)| b.shape().iter().product::<usize>())
            .sum(),
    })
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = |r: &SummaryRow| {
            let name = if r.name.is_empty() {
                String::new()
            } else {
                format!(" ({})", r.name)
            };
            format!("{}{}{}", "  ".repeat(r.depth), r.layer, name)
        };
        let width = self
            .rows
            .iter()
            .map(|r| label(r).chars().count())
            .max()
            .unwrap_or(0)
            .max(5);
        writeln!(
            f,
            "{:<width$}  {:<20}  {:>12}",
            "Layer", "Output shape", "Parameters"
        )?;
        for r in &self.rows {
            let shape = r
                .output_shape
                .as_ref()
                .map_or("—".to_owned(), |s| format!("{s:?}"));
            writeln!(
                f,
                "{:<width$}  {:<20}  {:>12}",
                label(r),
                shape,
                r.parameters
            )?;
        }
        writeln!(f, "Total parameters: {}", self.total_parameters)?;
        writeln!(f, "Trainable parameters: {}", self.trainable_parameters)?;
        write!(f, "Buffer elements: {}", self.buffer_elements)
    }
}
