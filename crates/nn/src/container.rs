//! Containers that hold modules without chaining them: a list (children `"0"`,
//! `"1"`, …) and a map (children by name, in insertion order), as PyTorch's
//! `ModuleList` and `ModuleDict`. Their parameters, buffers and generators get
//! dotted names through the container (`"blocks.0.weight"`), and `train`/`eval`
//! reach every module inside.

use tapegrad_tape::{Float, Var};

use crate::error::{NnError, Result};
use crate::module::Module;

/// The error of calling `forward` on a container, which has none.
fn no_forward(op: &'static str) -> NnError {
    NnError::InvalidArgument {
        op,
        name: "forward",
        value: "called".into(),
        reason: "a container has no forward of its own: call the modules it holds".into(),
    }
}

/// A list of modules, as `torch.nn.ModuleList`: its children are named by
/// position, so a model holding it as `"blocks"` has parameters
/// `"blocks.0.weight"`, `"blocks.1.weight"`, … Its `forward` is an error; the
/// model that holds it calls its modules.
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapegrad_nn::{Linear, Module, ModuleList};
/// let mut rng = StdRng::seed_from_u64(0);
/// let mut blocks = ModuleList::<f32>::new();
/// for _ in 0..3 {
///     blocks.push(Linear::new(4, 4, &mut rng));
/// }
/// assert_eq!(blocks.len(), 3);
/// assert_eq!(blocks.named_parameters()[2].0, "1.weight");
/// ```
pub struct ModuleList<T: Float = f32> {
    modules: Vec<Box<dyn Module<T>>>,
}

impl<T: Float> Default for ModuleList<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> ModuleList<T> {
    /// An empty list.
    pub fn new() -> Self {
        Self {
            modules: Vec::new(),
        }
    }

    /// Appends a module.
    pub fn push(&mut self, module: impl Module<T> + 'static) {
        self.modules.push(Box::new(module));
    }

    /// Appends a module already boxed.
    pub fn push_boxed(&mut self, module: Box<dyn Module<T>>) {
        self.modules.push(module);
    }

    /// The module at `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<&dyn Module<T>> {
        self.modules.get(index).map(|m| m.as_ref())
    }

    /// The modules in order.
    pub fn iter(&self) -> impl Iterator<Item = &dyn Module<T>> {
        self.modules.iter().map(|m| m.as_ref())
    }

    /// How many modules the list holds.
    pub fn len(&self) -> usize {
        self.modules.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }
}

impl<T: Float> FromIterator<Box<dyn Module<T>>> for ModuleList<T> {
    fn from_iter<I: IntoIterator<Item = Box<dyn Module<T>>>>(iter: I) -> Self {
        Self {
            modules: iter.into_iter().collect(),
        }
    }
}

impl<T: Float> Module<T> for ModuleList<T> {
    /// Always an error: a list has no forward.
    fn forward(&self, _x: &Var<T>) -> Result<Var<T>> {
        Err(no_forward("ModuleList"))
    }

    fn visit_children(&self, visit: &mut dyn FnMut(&str, &dyn Module<T>)) {
        for (i, m) in self.modules.iter().enumerate() {
            visit(&i.to_string(), m.as_ref());
        }
    }
}

/// Modules by name, in insertion order, as `torch.nn.ModuleDict`: a model
/// holding it as `"heads"` has parameters `"heads.<name>.weight"`. Names are
/// unique, non-empty and without dots (a dot would make the dotted names
/// ambiguous). Its `forward` is an error.
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapegrad_nn::{Linear, Module, ModuleDict};
/// let mut rng = StdRng::seed_from_u64(0);
/// let mut heads = ModuleDict::<f32>::new();
/// heads.insert("digits", Linear::new(8, 10, &mut rng)).unwrap();
/// heads.insert("parity", Linear::new(8, 2, &mut rng)).unwrap();
/// assert!(heads.insert("digits", Linear::new(8, 10, &mut rng)).is_err());
/// assert!(heads.get("parity").is_some());
/// assert_eq!(heads.named_parameters()[2].0, "parity.weight");
/// ```
pub struct ModuleDict<T: Float = f32> {
    modules: Vec<(String, Box<dyn Module<T>>)>,
}

impl<T: Float> Default for ModuleDict<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> ModuleDict<T> {
    /// An empty map.
    pub fn new() -> Self {
        Self {
            modules: Vec::new(),
        }
    }

    /// Adds `module` under `name`; errors when the name is empty, holds a dot
    /// or is taken.
    pub fn insert(&mut self, name: &str, module: impl Module<T> + 'static) -> Result<()> {
        self.insert_boxed(name, Box::new(module))
    }

    /// [`ModuleDict::insert`] for a module already boxed.
    pub fn insert_boxed(&mut self, name: &str, module: Box<dyn Module<T>>) -> Result<()> {
        let reason = if name.is_empty() || name.contains('.') {
            "a name must be non-empty and without dots"
        } else if self.get(name).is_some() {
            "the name is taken"
        } else {
            self.modules.push((name.to_owned(), module));
            return Ok(());
        };
        Err(NnError::InvalidArgument {
            op: "ModuleDict::insert",
            name: "name",
            value: format!("{name:?}"),
            reason: reason.into(),
        })
    }

    /// The module named `name`, if there is one.
    pub fn get(&self, name: &str) -> Option<&dyn Module<T>> {
        (self.modules.iter())
            .find(|(n, _)| n == name)
            .map(|(_, m)| m.as_ref())
    }

    /// The names and modules, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &dyn Module<T>)> {
        self.modules.iter().map(|(n, m)| (n.as_str(), m.as_ref()))
    }

    /// How many modules the map holds.
    pub fn len(&self) -> usize {
        self.modules.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }
}

impl<T: Float> Module<T> for ModuleDict<T> {
    /// Always an error: a map has no forward.
    fn forward(&self, _x: &Var<T>) -> Result<Var<T>> {
        Err(no_forward("ModuleDict"))
    }

    fn visit_children(&self, visit: &mut dyn FnMut(&str, &dyn Module<T>)) {
        for (name, m) in &self.modules {
            visit(name, m.as_ref());
        }
    }
}

crate::norm::debug_as_module!(ModuleList, ModuleDict);
