//! The `Module` trait: a forward function, its parameters under stable names,
//! and a train/eval mode.

use tapegrad_tape::{Float, Var};

use crate::buffer::Buffer;
use crate::error::{NnError, Result};
use crate::generator::{Generator, GeneratorState};

/// A building block of a network: maps an input var to an output var and owns
/// parameters.
///
/// A module declares what it holds with two visitors, and gets the rest for free:
/// [`Module::visit_own_parameters`] lists the parameters it holds directly
/// (`"weight"`, `"bias"`), [`Module::visit_children`] the sub-modules it is made
/// of (`"fc1"`, or `"0"`, `"1"`, … in a [`crate::Sequential`]). Names are joined
/// with dots (`"fc1.weight"`, `"0.bias"`), exactly as PyTorch's `state_dict`
/// keys, so weights can be exchanged with it.
///
/// The train/eval mode is kept inside the layers that use it ([`crate::Dropout`])
/// behind an atomic, so `train()` and `eval()` take `&self`: a model shared
/// between threads or held as `Box<dyn Module<T>>` is switched without `&mut`.
/// The trait is object safe, and `Send + Sync` so that a model can be shared.
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapegrad_nn::{Dropout, Linear, Module};
/// use tapegrad_tape::{Tensor, Var};
///
/// /// y = fc2(dropout(tanh(fc1(x))))
/// struct Mlp { fc1: Linear<f64>, drop: Dropout, fc2: Linear<f64> }
///
/// impl Module<f64> for Mlp {
///     fn forward(&self, x: &Var<f64>) -> tapegrad_nn::Result<Var<f64>> {
///         let h = self.fc1.forward(x)?.tanh();
///         self.fc2.forward(&self.drop.forward(&h)?)
///     }
///     fn visit_children(&self, visit: &mut dyn FnMut(&str, &dyn Module<f64>)) {
///         visit("fc1", &self.fc1);
///         visit("drop", &self.drop);
///         visit("fc2", &self.fc2);
///     }
/// }
///
/// let mut rng = StdRng::seed_from_u64(0);
/// let mlp = Mlp {
///     fc1: Linear::new(4, 8, &mut rng),
///     drop: Dropout::new(0.5, 1).unwrap(),
///     fc2: Linear::new(8, 2, &mut rng),
/// };
/// let names: Vec<String> = mlp.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]);
/// mlp.eval();
/// assert!(!mlp.drop.is_training());
/// let y = mlp.forward(&Var::constant(Tensor::zeros(&[3, 4]))).unwrap();
/// assert_eq!(y.shape(), &[3, 2]);
/// ```
pub trait Module<T: Float>: Send + Sync {
    /// Computes the output for the input `x`.
    fn forward(&self, x: &Var<T>) -> Result<Var<T>>;

    /// [`Module::forward`], reporting to `trace(dotted_name, output)` the
    /// output of each sub-module it runs, for [`crate::summary`]. By default
    /// nothing is reported; containers that call their children
    /// ([`crate::Sequential`]) report each child's output and its own
    /// sub-modules'. A model of one's own may override it the same way.
    fn forward_traced(&self, x: &Var<T>, _trace: &mut dyn FnMut(&str, &Var<T>)) -> Result<Var<T>> {
        self.forward(x)
    }

    /// Calls `visit(name, parameter)` for each parameter held directly by this
    /// module (not by its children), in a fixed order.
    fn visit_own_parameters(&self, _visit: &mut dyn FnMut(&str, &Var<T>)) {}

    /// Calls `visit(name, child)` for each sub-module, in a fixed order.
    fn visit_children(&self, _visit: &mut dyn FnMut(&str, &dyn Module<T>)) {}

    /// Calls `visit(name, generator)` for each random generator held directly
    /// by this module ([`crate::Dropout`]'s `"generator"`), in a fixed order.
    fn visit_own_generators(&self, _visit: &mut dyn FnMut(&str, &Generator)) {}

    /// The module's name in its `Debug` form (`"Linear"`): by default its type's
    /// name without path and generics.
    fn layer_name(&self) -> &'static str {
        crate::describe::short_type_name(std::any::type_name::<Self>())
    }

    /// Switches the mode of this module alone; layers that behave differently in
    /// training (dropout) override it.
    fn set_own_training(&self, _training: bool) {}

    /// Calls `visit(dotted_name, module)` for every module below this one
    /// (children, their children, …), depth first, each before its own
    /// children: the order of PyTorch's `named_modules` without the root.
    fn visit_descendants(&self, visit: &mut dyn FnMut(&str, &dyn Module<T>)) {
        self.visit_children(&mut |name, child| {
            visit(name, child);
            child.visit_descendants(&mut |sub, m| visit(&format!("{name}.{sub}"), m));
        });
    }

    /// Every parameter with its dotted name: own parameters first, then each
    /// child's, prefixed with the child's name.
    fn named_parameters(&self) -> Vec<(String, Var<T>)> {
        let mut out = Vec::new();
        self.visit_own_parameters(&mut |name, p| out.push((name.to_string(), p.clone())));
        self.visit_descendants(&mut |prefix, m| {
            m.visit_own_parameters(&mut |name, p| {
                out.push((format!("{prefix}.{name}"), p.clone()))
            });
        });
        out
    }

    /// Calls `visit(name, buffer)` for each buffer held directly by this module
    /// (BatchNorm's `"running_mean"`, `"running_var"`,
    /// `"num_batches_tracked"`), in a fixed order.
    fn visit_own_buffers(&self, _visit: &mut dyn FnMut(&str, &Buffer<T>)) {}

    /// Every buffer with its dotted name, in the order of
    /// [`Module::named_parameters`]: the non-trainable state that
    /// [`crate::save_safetensors`] writes beside the parameters and no
    /// optimizer sees.
    ///
    /// ```
    /// use tapegrad_nn::{BatchNorm1d, Linear, Module, Sequential};
    /// use rand::{SeedableRng, rngs::StdRng};
    /// let model = Sequential::<f32>::new()
    ///     .push(Linear::new(4, 8, &mut StdRng::seed_from_u64(0)))
    ///     .push(BatchNorm1d::new(8));
    /// let names: Vec<String> = model.named_buffers().into_iter().map(|(n, _)| n).collect();
    /// assert_eq!(names, ["1.running_mean", "1.running_var", "1.num_batches_tracked"]);
    /// ```
    fn named_buffers(&self) -> Vec<(String, Buffer<T>)> {
        let mut out = Vec::new();
        self.visit_own_buffers(&mut |name, b| out.push((name.to_string(), b.clone())));
        self.visit_descendants(&mut |prefix, m| {
            m.visit_own_buffers(&mut |name, b| out.push((format!("{prefix}.{name}"), b.clone())));
        });
        out
    }

    /// Freezes (`false`) or unfreezes (`true`) every parameter, as PyTorch's
    /// `module.requires_grad_(flag)`: `backward` then computes nothing for a
    /// frozen parameter and optimizers leave it unchanged (see
    /// [`Var::set_requires_grad`]). Freeze a part of a model by calling it on
    /// that part (`model.encoder.set_requires_grad(false)`).
    ///
    /// Errors: a parameter that is not a leaf parameter (a layer built with
    /// `from_parameters` over a constant); the parameters before it have
    /// been switched.
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use tapegrad_nn::{Linear, Module, Sequential};
    /// use tapegrad_tape::{Tensor, Var};
    /// let mut rng = StdRng::seed_from_u64(0);
    /// let head = Linear::<f64>::new(8, 2, &mut rng);
    /// let body = Linear::<f64>::new(4, 8, &mut rng);
    /// body.set_requires_grad(false).unwrap();
    /// let x = Var::constant(Tensor::ones(&[3, 4]));
    /// head.forward(&body.forward(&x).unwrap()).unwrap().sum().backward().unwrap();
    /// assert!(body.parameters().iter().all(|p| p.grad().is_none()));
    /// assert!(head.parameters().iter().all(|p| p.grad().is_some()));
    /// ```
    fn set_requires_grad(&self, requires_grad: bool) -> Result<()> {
        for (_, p) in self.named_parameters() {
            p.set_requires_grad(requires_grad)?;
        }
        Ok(())
    }

    /// Every parameter, in the order of [`Module::named_parameters`] (the order
    /// an optimizer receives them in).
    fn parameters(&self) -> Vec<Var<T>> {
        self.named_parameters()
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    }

    /// The state of every random generator with its dotted name (`"2.generator"`
    /// for a dropout layer at index 2 of a [`crate::Sequential`]), in the order
    /// of [`Module::named_parameters`]: what a checkpoint saves so that a model
    /// with dropout resumes bit for bit.
    ///
    /// ```
    /// use tapegrad_nn::{Dropout, Module, Relu, Sequential};
    /// let model = Sequential::<f32>::new().push(Relu).push(Dropout::new(0.5, 1).unwrap());
    /// let saved = model.generator_states();
    /// assert_eq!(saved[0].0, "1.generator");
    /// model.set_generator_states(&saved).unwrap();
    /// ```
    fn generator_states(&self) -> Vec<(String, GeneratorState)> {
        let mut out = Vec::new();
        self.visit_own_generators(&mut |name, g| out.push((name.to_string(), g.state())));
        self.visit_descendants(&mut |prefix, m| {
            m.visit_own_generators(&mut |name, g| {
                out.push((format!("{prefix}.{name}"), g.state()))
            });
        });
        out
    }

    /// Sets every generator from saved [`Module::generator_states`]. The names
    /// must be exactly the module's: otherwise [`NnError::GeneratorMismatch`]
    /// lists the missing and the unexpected ones, and no generator changes.
    fn set_generator_states(&self, states: &[(String, GeneratorState)]) -> Result<()> {
        let own: Vec<String> = self
            .generator_states()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        let missing: Vec<String> = (own.iter())
            .filter(|n| !states.iter().any(|(s, _)| s == *n))
            .cloned()
            .collect();
        let unexpected: Vec<String> = (states.iter())
            .filter(|(s, _)| !own.contains(s))
            .map(|(s, _)| s.clone())
            .collect();
        if !missing.is_empty() || !unexpected.is_empty() {
            return Err(NnError::GeneratorMismatch {
                missing,
                unexpected,
            });
        }
        let set = |name: &str, g: &Generator| {
            if let Some((_, state)) = states.iter().find(|(n, _)| n == name) {
                g.set_state(state);
            }
        };
        self.visit_own_generators(&mut |name, g| set(name, g));
        self.visit_descendants(&mut |prefix, m| {
            m.visit_own_generators(&mut |name, g| set(&format!("{prefix}.{name}"), g));
        });
        Ok(())
    }

    /// Sets the mode of this module and, recursively, of all its children.
    fn set_training(&self, training: bool) {
        self.set_own_training(training);
        self.visit_children(&mut |_, child| child.set_training(training));
    }

    /// Training mode (the mode modules start in): dropout drops.
    fn train(&self) {
        self.set_training(true);
    }

    /// Evaluation mode: dropout is the identity.
    fn eval(&self) {
        self.set_training(false);
    }
}

/// A boxed module is the module it holds, so a model chosen at run time
/// (`Box<dyn Module<T>>`) goes wherever a module does.
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapegrad_nn::{Linear, Module, Relu};
/// let pick = |deep: bool| -> Box<dyn Module<f64>> {
///     let rng = &mut StdRng::seed_from_u64(0);
///     if deep { Box::new(tapegrad_nn::Sequential::new().push(Linear::new(3, 3, rng)).push(Relu)) } else { Box::new(Linear::new(3, 3, rng)) }
/// };
/// let count = |m: &dyn Module<f64>| m.parameters().len();
/// assert_eq!(count(&pick(true)), 2);
/// assert_eq!(format!("{:?}", pick(false)), format!("{:?}", &*pick(false) as &dyn Module<f64>));
/// ```
impl<T: Float, M: Module<T> + ?Sized> Module<T> for Box<M> {
    fn forward(&self, x: &Var<T>) -> Result<Var<T>> {
        (**self).forward(x)
    }
    fn forward_traced(&self, x: &Var<T>, trace: &mut dyn FnMut(&str, &Var<T>)) -> Result<Var<T>> {
        (**self).forward_traced(x, trace)
    }
    fn visit_own_parameters(&self, visit: &mut dyn FnMut(&str, &Var<T>)) {
        (**self).visit_own_parameters(visit)
    }
    fn visit_children(&self, visit: &mut dyn FnMut(&str, &dyn Module<T>)) {
        (**self).visit_children(visit)
    }
    fn visit_own_generators(&self, visit: &mut dyn FnMut(&str, &Generator)) {
        (**self).visit_own_generators(visit)
    }
    fn layer_name(&self) -> &'static str {
        (**self).layer_name()
    }
    fn set_own_training(&self, training: bool) {
        (**self).set_own_training(training)
    }
    fn visit_own_buffers(&self, visit: &mut dyn FnMut(&str, &Buffer<T>)) {
        (**self).visit_own_buffers(visit)
    }
}

/// A size given for both spatial axes at once (`3`) or per axis (`(3, 5)`), as
/// PyTorch's `int or tuple` arguments.
///
/// ```
/// use tapegrad_nn::IntoPair;
/// assert_eq!(3.into_pair(), (3, 3));
/// assert_eq!((2, 4).into_pair(), (2, 4));
/// ```
pub trait IntoPair {
    /// The (height, width) pair.
    fn into_pair(self) -> (usize, usize);
}

impl IntoPair for usize {
    fn into_pair(self) -> (usize, usize) {
        (self, self)
    }
}

impl IntoPair for (usize, usize) {
    fn into_pair(self) -> (usize, usize) {
        self
    }
}
