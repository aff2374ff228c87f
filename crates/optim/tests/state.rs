//! Save and restore: a run restored mid-trajectory continues bit for bit, and a
//! damaged or foreign state is refused with an error that says why.

mod common;

use std::path::{Path, PathBuf};

use common::table::{Dtype, rows};
use common::{noise, param, set_grad};
use tapegrad_optim::{
    Adam, AdamConfig, CosineAnnealingLr, CyclicLr, CyclicMode, OptimError, Optimizer, ParamGroup,
    RmsProp, RmsPropConfig, Scheduler, Sgd, SgdConfig,
};
use tapegrad_tape::{Float, Var};

const SHAPES: [&[usize]; 3] = [&[3, 4], &[5], &[2]];
const STEPS: usize = 10;
const SAVE_AT: usize = 4;

/// Two groups (the second without weight decay); the last parameter gets no
/// gradient before the save, so its state is created only after the restore.
fn groups<T: Float>(params: &[Var<T>]) -> Vec<ParamGroup<T>> {
    vec![
        ParamGroup::new(vec![params[0].clone(), params[2].clone()]),
        ParamGroup::new(vec![params[1].clone()])
            .with_weight_decay(0.0)
            .with_lr(0.02),
    ]
}

fn fresh_params<T: Float>() -> Vec<Var<T>> {
    SHAPES
        .iter()
        .enumerate()
        .map(|(i, s)| param(&noise(100 + i as u64, s.iter().product()), s))
        .collect()
}

fn give_grads<T: Float>(params: &[Var<T>], step: usize) {
    for (i, p) in params.iter().enumerate() {
        if i == 2 && step < SAVE_AT + 2 {
            p.zero_grad();
        } else {
            set_grad(p, &noise((step * 10 + i) as u64, p.numel()));
        }
    }
}

fn snapshot<T: Float>(params: &[Var<T>]) -> Vec<Vec<u64>> {
    params
        .iter()
        .map(|p| {
            p.value()
                .data()
                .iter()
                .map(|x| x.to_f64().to_bits())
                .collect()
        })
        .collect()
}

/// Copies of the parameters' current values, as a model restored from a checkpoint.
fn copies<T: Float>(params: &[Var<T>]) -> Vec<Var<T>> {
    params
        .iter()
        .map(|p| Var::parameter(p.value().clone()))
        .collect()
}

/// A path in a directory of its own, so that tests running in parallel do not
/// see each other's temporary files; the directory goes when this is dropped.
struct Scratch {
    dir: PathBuf,
    path: PathBuf,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Each directory sits directly in the temporary directory: a shared parent
/// removed by one test's drop while another creates its directory in it made
/// `create_dir_all` fail now and then.
fn temp_file(name: &str) -> Scratch {
    let dir =
        std::env::temp_dir().join(format!("tapegrad-optim-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    Scratch {
        path: dir.join(name),
        dir,
    }
}

fn check_resume_is_exact<T: Dtype>() {
    for row in rows() {
        let name = row.name;
        // Uninterrupted, with a cosine schedule so that the lr is part of the state.
        let params = fresh_params::<T>();
        let mut opt = row.build(groups(&params));
        let mut sched =
            Scheduler::new(CosineAnnealingLr::new(6, 0.001).unwrap(), opt.as_mut()).unwrap();
        let mut reference = Vec::new();
        let mut saved_params = Vec::new();
        let mut saved_schedule = None;
        let scratch = temp_file(&format!("{name}-{}.state", T::NAME));
        let path = &scratch.path;
        for step in 0..STEPS {
            if step == SAVE_AT {
                opt.save(path).unwrap();
                saved_params = copies(&params);
                saved_schedule = Some(sched.state());
            }
            give_grads(&params, step);
            opt.step().unwrap();
            sched.step(opt.as_mut()).unwrap();
            reference.push(snapshot(&params));
        }
        // Restored from the file into a new optimizer over new parameter handles.
        let params = saved_params;
        let mut opt = row.build(groups(&params));
        opt.load(path).unwrap();
        let schedule = CosineAnnealingLr::new(6, 0.001).unwrap();
        let saved_schedule = saved_schedule.unwrap();
        let mut sched = Scheduler::restore(schedule, &saved_schedule, opt.as_mut()).unwrap();
        for (step, want) in reference.iter().enumerate().skip(SAVE_AT) {
            give_grads(&params, step);
            opt.step().unwrap();
            sched.step(opt.as_mut()).unwrap();
            assert_eq!(
                &snapshot(&params),
                want,
                "{name} ({}) differs at step {step}",
                T::NAME
            );
        }
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }
}

#[test]
fn resuming_from_a_file_gives_bit_identical_steps_f64() {
    check_resume_is_exact::<f64>();
}

#[test]
fn resuming_from_a_file_gives_bit_identical_steps_f32() {
    check_resume_is_exact::<f32>();
}

fn cyclic() -> CyclicLr {
    CyclicLr {
        step_size_down: 3,
        mode: CyclicMode::Triangular2,
        cycle_momentum: Some((0.8, 0.95)),
        ..CyclicLr::new(0.001, 0.01, 2).unwrap()
    }
}

/// A schedule that cycles the momentum saves it in the optimizer's options:
/// restoring the schedule first sets it, then the optimizer's state loads.
#[test]
fn a_cycled_momentum_resumes_bit_for_bit() {
    let mut cycled = Vec::new();
    for row in rows() {
        let params = fresh_params::<f64>();
        let mut opt = row.build(groups(&params));
        if !opt.momentum().is_some_and(|m| m > 0.0) {
            continue; // no momentum, or one whose buffer does not exist yet
        }
        cycled.push(row.name);
        let mut sched = Scheduler::new(cyclic(), opt.as_mut()).unwrap();
        let (mut reference, mut saved) = (Vec::new(), None);
        for step in 0..STEPS {
            if step == SAVE_AT {
                saved = Some((opt.state_dict(), sched.state(), copies(&params)));
            }
            give_grads(&params, step);
            opt.step().unwrap();
            sched.step(opt.as_mut()).unwrap();
            reference.push((snapshot(&params), opt.momentum()));
        }
        let (state, schedule, params) = saved.unwrap();
        let mut opt = row.build(groups(&params));
        let mut sched = Scheduler::restore(cyclic(), &schedule, opt.as_mut()).unwrap();
        opt.load_state_dict(&state).unwrap();
        for (step, want) in reference.iter().enumerate().skip(SAVE_AT) {
            give_grads(&params, step);
            opt.step().unwrap();
            sched.step(opt.as_mut()).unwrap();
            assert_eq!(
                &(snapshot(&params), opt.momentum()),
                want,
                "{} at step {step}",
                row.name
            );
        }
    }
    assert!(
        cycled.len() >= 8,
        "rows with a momentum to cycle: {cycled:?}"
    );
}

#[test]
fn state_dict_round_trips_in_memory_and_through_a_file() {
    for row in rows() {
        let name = row.name;
        let params = fresh_params::<f32>();
        let mut opt = row.build(groups(&params));
        for step in 0..STEPS {
            give_grads(&params, step);
            opt.step().unwrap();
        }
        let state = opt.state_dict();
        let keeps_state = state.state.iter().flatten().any(Option::is_some);
        assert!(
            !keeps_state || state.state.iter().flatten().all(Option::is_some),
            "{name}: all params stepped"
        );
        let scratch = temp_file(&format!("{name}-roundtrip.state"));
        opt.save(&scratch.path).unwrap();
        let mut other = row.build(groups(&copies(&params)));
        other.load(&scratch.path).unwrap();
        assert_eq!(other.state_dict(), state, "{name}");
    }
}

/// A stepped Adam over [3, 4] and [5] with its state saved to a file.
fn saved_adam(file: &str) -> (Scratch, Vec<Var<f64>>) {
    let params = vec![param(&noise(1, 12), &[3, 4]), param(&noise(2, 5), &[5])];
    let mut opt = Adam::new(params.clone(), AdamConfig::default()).unwrap();
    for step in 0..3 {
        params
            .iter()
            .for_each(|p| set_grad(p, &noise(step, p.numel())));
        opt.step().unwrap();
    }
    let scratch = temp_file(file);
    opt.save(&scratch.path).unwrap();
    (scratch, params)
}

fn load_into_adam(path: &Path, params: Vec<Var<f64>>) -> Result<Adam<f64>, OptimError> {
    let mut opt = Adam::new(params, AdamConfig::default()).unwrap();
    opt.load(path)?;
    Ok(opt)
}

fn corrupt_reason(err: OptimError) -> String {
    match err {
        OptimError::CorruptFile { reason, .. } => reason,
        other => panic!("expected CorruptFile, got {other}"),
    }
}

#[test]
fn truncated_file_is_refused() {
    let (scratch, params) = saved_adam("truncated.state");
    let path = &scratch.path;
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, &bytes[..bytes.len() - 7]).unwrap();
    let reason = corrupt_reason(load_into_adam(path, params.clone()).unwrap_err());
    assert!(
        reason.starts_with("truncated or padded: the header announces"),
        "{reason}"
    );
    std::fs::write(path, &bytes[..10]).unwrap();
    let err = load_into_adam(path, params).unwrap_err();
    assert!(
        err.to_string()
            .contains("truncated: 10 bytes, the header alone is 24"),
        "{err}"
    );
}

#[test]
fn flipped_byte_is_refused_by_the_checksum() {
    let (scratch, params) = saved_adam("flipped.state");
    let path = &scratch.path;
    let mut bytes = std::fs::read(path).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x10;
    std::fs::write(path, &bytes).unwrap();
    let reason = corrupt_reason(load_into_adam(path, params).unwrap_err());
    assert!(reason.starts_with("checksum mismatch"), "{reason}");
}

#[test]
fn foreign_file_is_refused_by_the_magic() {
    let scratch = temp_file("foreign.state");
    let path = &scratch.path;
    std::fs::write(path, b"{\"not\": \"an optimizer state file at all\"}").unwrap();
    let err = load_into_adam(path, vec![param(&[0.0], &[1])]).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("corrupt optimizer state file: not a tapegrad optimizer state file"),
        "{msg}"
    );
    assert!(
        msg.starts_with(&path.display().to_string()),
        "names the file: {msg}"
    );
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let scratch = temp_file("does-not-exist.state");
    let path = &scratch.path;
    let err = load_into_adam(path, vec![param(&[0.0], &[1])]).unwrap_err();
    assert!(matches!(err, OptimError::Io { .. }), "{err}");
    assert!(err.to_string().contains("does-not-exist.state"), "{err}");
}

fn mismatch_reason(err: OptimError) -> String {
    match err {
        OptimError::StateMismatch { reason, .. } => reason,
        other => panic!("expected StateMismatch, got {other}"),
    }
}

#[test]
fn state_for_other_parameters_is_refused() {
    let (scratch, _) = saved_adam("shapes.state");
    let path = &scratch.path;
    let wrong_shape = vec![param(&noise(1, 12), &[4, 3]), param(&noise(2, 5), &[5])];
    let reason = mismatch_reason(load_into_adam(path, wrong_shape).unwrap_err());
    assert_eq!(
        reason,
        "group 0, parameter 0 has shape [3, 4] in the state, [4, 3] in this optimizer"
    );
    let too_few = vec![param(&noise(1, 12), &[3, 4])];
    let reason = mismatch_reason(load_into_adam(path, too_few).unwrap_err());
    assert_eq!(
        reason,
        "group 0 has 2 parameters in the state, 1 in this optimizer"
    );
}

#[test]
fn state_of_another_optimizer_options_or_dtype_is_refused() {
    let (scratch, params) = saved_adam("options.state");
    let path = &scratch.path;
    let mut sgd = Sgd::new(params.clone(), SgdConfig::default()).unwrap();
    let reason = mismatch_reason(sgd.load(path).unwrap_err());
    assert_eq!(reason, "the state was saved by Adam");

    let cfg = AdamConfig {
        betas: (0.8, 0.999),
        ..Default::default()
    };
    let mut adam = Adam::new(params, cfg).unwrap();
    let reason = mismatch_reason(adam.load(path).unwrap_err());
    assert_eq!(
        reason,
        "option betas.0 was 0.9 when saved, this optimizer has 0.8"
    );

    let params32 = vec![
        param::<f32>(&noise(1, 12), &[3, 4]),
        param(&noise(2, 5), &[5]),
    ];
    let mut adam32 = Adam::new(params32, AdamConfig::default()).unwrap();
    let err = adam32.load(path).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Adam: cannot load state: the file holds f64 state, the optimizer's parameters are f32"
    );
}

#[test]
fn refused_state_leaves_the_optimizer_unchanged() {
    let params = vec![param::<f64>(&noise(1, 4), &[4])];
    let mut opt = Adam::new(
        params.clone(),
        AdamConfig {
            lr: 0.1,
            ..Default::default()
        },
    )
    .unwrap();
    set_grad(&params[0], &noise(2, 4));
    opt.step().unwrap();
    let before = opt.state_dict();
    let mut bad = before.clone();
    bad.groups[0].lr = 0.5;
    let slot = bad.state[0][0].as_mut().unwrap();
    slot.buffers[1].1.pop();
    let reason = mismatch_reason(opt.load_state_dict(&bad).unwrap_err());
    assert_eq!(
        reason,
        "state of group 0, parameter 0: buffer exp_avg_sq has 3 elements, the parameter has 4"
    );
    assert_eq!(opt.state_dict(), before);
    assert_eq!(opt.lr(), 0.1);
}

#[test]
fn loading_restores_the_groups_learning_rates() {
    let params = vec![param::<f64>(&noise(1, 4), &[4])];
    let mut opt = Sgd::new(
        params.clone(),
        SgdConfig {
            lr: 0.1,
            ..Default::default()
        },
    )
    .unwrap();
    opt.set_lr(0.025).unwrap();
    let state = opt.state_dict();
    let mut other = Sgd::new(
        params,
        SgdConfig {
            lr: 0.1,
            ..Default::default()
        },
    )
    .unwrap();
    other.load_state_dict(&state).unwrap();
    assert_eq!(other.lr(), 0.025);
}

#[test]
fn state_without_the_buffers_the_options_need_is_refused() {
    let params = vec![param::<f64>(&noise(1, 4), &[4])];
    let mut plain = Adam::new(params.clone(), AdamConfig::default()).unwrap();
    set_grad(&params[0], &noise(2, 4));
    plain.step().unwrap();
    let mut state = plain.state_dict();
    state.options[3].1 = 1.0; // claims amsgrad, has no max_exp_avg_sq
    let mut ams = Adam::new(
        params.clone(),
        AdamConfig {
            amsgrad: true,
            ..Default::default()
        },
    )
    .unwrap();
    let reason = mismatch_reason(ams.load_state_dict(&state).unwrap_err());
    assert_eq!(
        reason,
        "state of group 0, parameter 0: buffer max_exp_avg_sq is missing"
    );

    let cfg = RmsPropConfig {
        momentum: 0.5,
        ..Default::default()
    };
    let mut with_momentum = RmsProp::new(params.clone(), cfg).unwrap();
    with_momentum.step().unwrap();
    let mut state = with_momentum.state_dict();
    state.options[2].1 = 0.0; // claims no momentum, has a momentum buffer
    let mut without = RmsProp::new(params, RmsPropConfig::default()).unwrap();
    let reason = mismatch_reason(without.load_state_dict(&state).unwrap_err());
    assert_eq!(
        reason,
        "state of group 0, parameter 0: buffer momentum_buffer is not used by this configuration"
    );
}
