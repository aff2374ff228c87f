//! A chain of modules applied in order.

use tapegrad_tape::{Float, Var};

use crate::error::Result;
use crate::module::Module;

/// Applies its modules one after the other: y = f_k(… f_2(f_1(x))).
///
/// Children are named by position (`"0"`, `"1"`, …), as in PyTorch, so the
/// parameter names (`"0.weight"`, `"4.bias"`) are PyTorch's `state_dict` keys.
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapegrad_nn::{Linear, Module, Relu, Sequential};
/// use tapegrad_tape::{Tensor, Var};
/// let mut rng = StdRng::seed_from_u64(0);
/// let model = Sequential::new()
///     .push(Linear::new(4, 8, &mut rng))
///     .push(Relu)
///     .push(Linear::new(8, 3, &mut rng));
/// let names: Vec<String> = model.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
/// let y = model.forward(&Var::<f64>::constant(Tensor::zeros(&[5, 4]))).unwrap();
/// assert_eq!(y.shape(), &[5, 3]);
/// ```
pub struct Sequential<T: Float = f32> {
    layers: Vec<Box<dyn Module<T>>>,
}

impl<T: Float> Sequential<T> {
    /// An empty chain (the identity).
    pub fn new() -> Self {
        Self { layers: Vec::new() }
    }

    /// Appends a module.
    pub fn push(mut self, layer: impl Module<T> + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Appends a module already boxed.
    pub fn push_boxed(mut self, layer: Box<dyn Module<T>>) -> Self {
        self.layers.push(layer);
        self
    }

    /// The modules, in order.
    pub fn layers(&self) -> &[Box<dyn Module<T>>] {
        &self.layers
    }

    /// Number of modules.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there is no module.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl<T: Float> Default for Sequential<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> Module<T> for Sequential<T> {
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        let mut h = x.clone();
        for layer in &self.layers {
            h = layer.forward(&h)?;
        }
        Ok(h)
    }

    fn forward_traced(&self, x: &Var<T>, trace: &mut dyn FnMut(&str, &Var<T>)) -> Result<Var<T>> {
        let mut h = x.clone();
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward_traced(&h, &mut |sub, y| trace(&format!("{i}.{sub}"), y))?;
            trace(&i.to_string(), &h);
        }
        Ok(h)
    }

    fn visit_children(&self, visit: &mut dyn FnMut(&str, &dyn Module<T>)) {
        for (i, layer) in self.layers.iter().enumerate() {
            visit(&i.to_string(), layer.as_ref());
        }
    }
}

/// Its name, its parameters' shapes and its children (see `dyn Module`'s `Debug`).
impl<T: Float> std::fmt::Debug for Sequential<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self as &dyn Module<T>, f)
    }
}
