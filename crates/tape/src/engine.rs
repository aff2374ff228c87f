//! Reverse mode: walks the graph from the outputs in decreasing id order (ids grow
//! with creation, so this is a topological order), without recursion.

use std::collections::hash_map::Entry;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::Ordering;

use smallvec::SmallVec;

use crate::anomaly;
use crate::error::{Result, TapeError};
use crate::float::Float;
use crate::ops::Ctx;
use crate::tensor::Tensor;
use crate::var::{Kind, Var, is_grad_enabled, lock, with_grad_mode};

/// Hashes node ids (unique integers) with one multiplication: the default
/// SipHash costs more than the rest of a small op's backward.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, id: u64) {
        self.0 = id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// Options of [`grad`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GradOptions {
    /// Record the backward pass, so the gradients can be differentiated again.
    /// Implies `retain_graph`.
    pub create_graph: bool,
    /// Keep the graph's rules for another backward pass.
    pub retain_graph: bool,
    /// Return `None` for an input the outputs do not depend on, instead of an error.
    pub allow_unused: bool,
}

/// Where the walk delivers gradients.
enum Sink<'a, T: Float> {
    /// Accumulate into every parameter's `.grad()`.
    Parameters,
    /// Collect the gradients of these vars (by id → position) and leave `.grad()` alone.
    Inputs(&'a IdMap<usize>, &'a mut [Option<Var<T>>]),
}

/// Adds `g` into a gradient slot, with a recorded op when building a graph.
fn accumulate<T: Float>(slot: &mut Option<Var<T>>, g: Var<T>) -> Result<()> {
    *slot = Some(match slot.take() {
        None => g,
        Some(acc) => acc.add(&g)?,
    });
    Ok(())
}

/// Runs the rule of `node` on its incoming gradient and delivers the gradients
/// of its inputs, summed back to their shapes, to the frontier.
fn apply_rule<T: Float>(
    node: &Var<T>,
    grad: &Var<T>,
    op: &'static str,
    retain: bool,
    frontier: &mut Frontier<T>,
) -> Result<()> {
    let check = frontier.check_gradients;
    let min_id = frontier.min_id;
    let mut guard = lock(&node.0.grad_fn);
    let grad_fn = guard.as_ref().ok_or(TapeError::GraphFreed { op })?;
    for (i, (input, &saved)) in grad_fn.inputs.iter().zip(&grad_fn.versions).enumerate() {
        let current = input.0.version.load(Ordering::Acquire);
        if current != saved {
            return Err(TapeError::ModifiedInPlace {
                name: input.name(),
                op,
                input: i,
                saved,
                current,
            });
        }
    }
    if !retain && !grad_fn.rule.reads_output() {
        release_value(node);
    }
    let mut needs: SmallVec<[bool; 4]> = SmallVec::new();
    for v in &grad_fn.inputs {
        needs.push(v.requires_grad() && v.0.id >= min_id);
    }
    let ctx = Ctx {
        inputs: &grad_fn.inputs,
        output: node,
        grad,
        needs: &needs,
    };
    let grads = grad_fn.rule.backward(&ctx)?;
    for (i, ((input, g), &needed)) in grad_fn.inputs.iter().zip(grads).zip(&needs).enumerate() {
        if let (true, Some(g)) = (needed, g) {
            let g = if g.shape() == input.shape() {
                g
            } else {
                g.sum_to(input.shape())?
            };
            if check {
                anomaly::check_gradient(op, i, &g, &grad_fn.inputs)?;
            }
            frontier.deliver(input, g)?;
        }
    }
    if !retain {
        // Frees the rule and the references to the inputs (and so the saved values).
        guard.take();
    }
    Ok(())
}

/// Frees the value of an op result whose rule is about to run without reading
/// it, when nothing but the engine can reach the node: no `Var` or `WeakVar`
/// of the user's, and no consumer (their rules have run and released it). Its
/// shape stays; the node is dropped once the rule is done.
fn release_value<T: Float>(node: &Var<T>) {
    drop(node.take_unreachable_value());
}

/// `acc += g` for two gradients of one node. Outside recording, a sum that
/// nothing else holds is added to in place instead of allocating a new one.
fn add_gradient<T: Float>(acc: &mut Var<T>, g: &Var<T>) -> Result<()> {
    if !is_grad_enabled()
        && acc.shape() == g.shape()
        && let Some(mut sum) = acc.take_unshared_value()
    {
        g.with_value(|g| sum.add_assign(g))?;
        *acc = Var::constant(sum);
    } else {
        *acc = acc.add(g)?;
    }
    Ok(())
}

/// The nodes waiting for their rule, each with the sum of the gradients
/// delivered to it so far. Nodes come out in decreasing id order: every consumer
/// of a node was created after it, so by the time a node is taken all its
/// gradient contributions have arrived. Only the frontier is stored, so the map
/// stays small and a node is released as soon as its rule has run.
struct Frontier<T: Float> {
    order: BinaryHeap<u64>,
    pending: IdMap<(Var<T>, Var<T>)>,
    min_id: u64,
    /// Anomaly mode was on when the pass started: rules' gradients are scanned.
    check_gradients: bool,
}

impl<T: Float> Frontier<T> {
    fn new(min_id: u64) -> Self {
        Self {
            order: BinaryHeap::new(),
            pending: IdMap::default(),
            min_id,
            check_gradients: anomaly::checks_gradients(),
        }
    }

    /// Adds `g` to the gradient waiting at `var` (nodes that cannot lead to a
    /// wanted input are dropped here).
    fn deliver(&mut self, var: &Var<T>, g: Var<T>) -> Result<()> {
        let id = var.0.id;
        if id < self.min_id || !var.requires_grad() {
            return Ok(());
        }
        match self.pending.entry(id) {
            Entry::Occupied(mut slot) => add_gradient(&mut slot.get_mut().1, &g)?,
            Entry::Vacant(slot) => {
                slot.insert((var.clone(), g));
                self.order.push(id);
            }
        }
        Ok(())
    }

    /// The node with the largest id and its summed gradient.
    fn take(&mut self) -> Option<(Var<T>, Var<T>)> {
        let id = self.order.pop()?;
        self.pending.remove(&id)
    }
}

fn run<T: Float>(
    roots: &[Var<T>],
    seeds: Vec<Var<T>>,
    mut sink: Sink<'_, T>,
    opts: GradOptions,
    min_id: u64,
) -> Result<()> {
    // A forward anomaly not yet returned is this call's error.
    anomaly::take_kept()?;
    let retain = opts.retain_graph || opts.create_graph;
    let mut frontier = Frontier::new(min_id);
    anomaly::in_backward(|| run_rules(&mut frontier, roots, seeds, &mut sink, opts, retain))
}

/// The walk of [`run`]: seeds the roots, then runs each node's rule in
/// decreasing id order.
fn run_rules<T: Float>(
    frontier: &mut Frontier<T>,
    roots: &[Var<T>],
    seeds: Vec<Var<T>>,
    sink: &mut Sink<'_, T>,
    opts: GradOptions,
    retain: bool,
) -> Result<()> {
    with_grad_mode(opts.create_graph, || {
        for (root, seed) in roots.iter().zip(seeds) {
            frontier.deliver(root, seed)?;
        }
        while let Some((node, grad)) = frontier.take() {
            if let Sink::Inputs(wanted, out) = &mut *sink
                && let Some(&k) = wanted.get(&node.0.id)
            {
                accumulate(&mut out[k], grad.clone())?;
            }
            match node.0.kind {
                Kind::Op(op) => {
                    apply_rule(&node, &grad, op, retain, frontier)?;
                }
                Kind::Parameter if matches!(sink, Sink::Parameters) => {
                    accumulate_into_leaf(&node, grad.value())?;
                }
                _ => {}
            }
        }
        Ok(())
    })
}

fn accumulate_into_leaf<T: Float>(leaf: &Var<T>, g: Tensor<T>) -> Result<()> {
    let mut slot = lock(&leaf.0.grad);
    match slot.as_mut() {
        None => *slot = Some(g),
        Some(acc) => acc.add_assign(&g)?,
    }
    Ok(())
}

fn ones_like<T: Float>(v: &Var<T>) -> Var<T> {
    Var::constant(Tensor::ones(v.shape()))
}

impl<T: Float> Var<T> {
    /// Computes the gradient of this one-element result with respect to every
    /// parameter it depends on, and adds it to their [`Var::grad`]. Frees the graph;
    /// a second call through the same graph is an error ([`Var::backward_retain`]
    /// keeps it).
    pub fn backward(&self) -> Result<()> {
        self.backward_with(false)
    }

    /// As [`Var::backward`], keeping the graph for another pass.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::parameter(Tensor::scalar(3.0f64));
    /// let y = x.mul(&x).unwrap();
    /// y.backward_retain().unwrap();
    /// y.backward().unwrap();                      // accumulates: 6 + 6
    /// assert_eq!(x.grad().unwrap().item().unwrap(), 12.0);
    /// assert!(y.backward().is_err());             // the graph is gone now
    /// ```
    pub fn backward_retain(&self) -> Result<()> {
        self.backward_with(true)
    }

    fn backward_with(&self, retain_graph: bool) -> Result<()> {
        if self.numel() != 1 {
            return Err(TapeError::NonScalarOutput {
                shape: self.shape().into(),
            });
        }
        let opts = GradOptions {
            retain_graph,
            ..Default::default()
        };
        run(
            std::slice::from_ref(self),
            vec![ones_like(self)],
            Sink::Parameters,
            opts,
            0,
        )
    }

    /// Backward from a non-scalar result with an explicit ∂L/∂self (`grad_output`,
    /// same shape as `self`), accumulating into the parameters.
    pub fn backward_from(&self, grad_output: &Tensor<T>, retain_graph: bool) -> Result<()> {
        if grad_output.shape() != self.shape() {
            return Err(TapeError::ShapeMismatch {
                op: "backward_from",
                lhs: self.shape().into(),
                rhs: grad_output.shape().into(),
            });
        }
        let opts = GradOptions {
            retain_graph,
            ..Default::default()
        };
        let seed = Var::constant(grad_output.clone());
        run(
            std::slice::from_ref(self),
            vec![seed],
            Sink::Parameters,
            opts,
            0,
        )
    }
}

/// The gradients of `Σ_k ⟨grad_outputs[k], outputs[k]⟩` with respect to `inputs`,
/// returned as vars, without touching any [`Var::grad`]. `grad_outputs` defaults
/// to ones (then each output must have one element).
///
/// With `create_graph` the result is itself differentiable, so the gradient of
/// `⟨∇f, v⟩` is the Hessian-vector product `H v`:
///
/// ```
/// use tapegrad_tape::{grad, GradOptions, Tensor, Var};
/// // f(x) = Σ x³, ∇f = 3x², H = diag(6x)
/// let x = Var::parameter(Tensor::from_vec(vec![1.0f64, 2.0], &[2]).unwrap());
/// let f = x.mul(&x).unwrap().mul(&x).unwrap().sum();
/// let opts = GradOptions { create_graph: true, ..Default::default() };
/// let g = grad(&[f], &[x.clone()], None, opts).unwrap()[0].clone().unwrap();
/// let v = Var::constant(Tensor::from_vec(vec![1.0, 1.0], &[2]).unwrap());
/// let gv = g.mul(&v).unwrap().sum();
/// let hv = grad(&[gv], &[x.clone()], None, GradOptions::default()).unwrap()[0].clone().unwrap();
/// assert_eq!(hv.value().data(), &[6.0, 12.0]);
/// assert!(x.grad().is_none());
/// ```
pub fn grad<T: Float>(
    outputs: &[Var<T>],
    inputs: &[Var<T>],
    grad_outputs: Option<&[Var<T>]>,
    opts: GradOptions,
) -> Result<Vec<Option<Var<T>>>> {
    let seeds = match grad_outputs {
        Some(g) => {
            if g.len() != outputs.len() {
                return Err(TapeError::InvalidArgument {
                    op: "grad",
                    name: "grad_outputs",
                    value: format!("{} tensors", g.len()),
                    reason: format!("one per output is needed ({})", outputs.len()),
                });
            }
            for (o, s) in outputs.iter().zip(g) {
                if o.shape() != s.shape() {
                    return Err(TapeError::ShapeMismatch {
                        op: "grad",
                        lhs: o.shape().into(),
                        rhs: s.shape().into(),
                    });
                }
            }
            g.to_vec()
        }
        None => {
            if let Some(o) = outputs.iter().find(|o| o.numel() != 1) {
                return Err(TapeError::NonScalarOutput {
                    shape: o.shape().into(),
                });
            }
            outputs.iter().map(ones_like).collect()
        }
    };
    for (i, input) in inputs.iter().enumerate() {
        if !input.requires_grad() {
            return Err(TapeError::NoGradient {
                op: "grad",
                what: format!("input {i} ({})", input.name()),
            });
        }
    }
    let wanted: IdMap<usize> = inputs
        .iter()
        .enumerate()
        .map(|(i, v)| (v.0.id, i))
        .collect();
    let min_id = inputs.iter().map(|v| v.0.id).min().unwrap_or(0);
    let mut out = vec![None; inputs.len()];
    run(
        outputs,
        seeds,
        Sink::Inputs(&wanted, &mut out),
        opts,
        min_id,
    )?;
    if !opts.allow_unused
        && let Some(index) = out.iter().position(Option::is_none)
    {
        return Err(TapeError::UnusedInput { index });
    }
    Ok(out)
}
