//! `Debug` for modules: a module's name, its parameters' shapes and its
//! children, nested (PyTorch's module `repr`), never the values.

use std::fmt;

use tapegrad_tape::Float;

use crate::module::Module;

/// The last path segment of a type's name, without generic arguments:
/// `tapegrad_nn::linear::Linear<f32>` → `Linear`.
pub(crate) fn short_type_name(full: &'static str) -> &'static str {
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

/// `Linear { weight: [8, 4], bias: [8] }`, `Sequential { 0: Linear { … }, 1: Relu }`.
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapegrad_nn::{Linear, Module, Relu, Sequential};
/// let mut rng = StdRng::seed_from_u64(0);
/// let model = Sequential::<f32>::new().push(Linear::new(4, 8, &mut rng)).push(Relu);
/// assert_eq!(
///     format!("{model:?}"),
///     "Sequential { 0: Linear { weight: [8, 4], bias: [8] }, 1: Relu }"
/// );
/// ```
impl<T: Float> fmt::Debug for dyn Module<T> + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut fields: Vec<(String, String)> = Vec::new();
        self.visit_own_parameters(&mut |name, p| {
            fields.push((name.to_owned(), format!("{:?}", p.shape())));
        });
        self.visit_own_generators(&mut |name, _| {
            fields.push((name.to_owned(), "Generator".to_owned()));
        });
        self.visit_children(&mut |name, child| {
            fields.push((name.to_owned(), format!("{child:?}")));
        });
        f.write_str(self.layer_name())?;
        if fields.is_empty() {
            return Ok(());
        }
        let inner: Vec<String> = fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        write!(f, " {{ {} }}", inner.join(", "))
    }
}
