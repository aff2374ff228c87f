//! Step counters no run can produce are refused on restore, and a step that
//! would push a counter past MAX_STEP is refused before anything changes.

mod common;

use common::table::{Row, rows};
use common::{bits, noise, param, set_grad};
use tapegrad_optim::{Adam, AdamConfig, MAX_STEP, OptimError, Optimizer, StateDict};
use tapegrad_tape::Var;

/// An optimizer, its parameters and its state.
type Stepped = (Box<dyn Optimizer<f64>>, Vec<Var<f64>>, StateDict<f64>);

/// The row's optimizer over two parameters after three steps; `None` for a
/// configuration that keeps no state (plain SGD).
fn stepped(row: &Row) -> Option<Stepped> {
    let params = vec![param(&noise(1, 6), &[2, 3]), param(&noise(2, 4), &[4])];
    let mut opt = row.over(params.clone());
    for step in 0..3 {
        params
            .iter()
            .for_each(|p| set_grad(p, &noise(10 + step, p.numel())));
        opt.step().unwrap();
    }
    let state = opt.state_dict();
    state.state[0][0].as_ref()?;
    Some((opt, params, state))
}

fn with_step(state: &StateDict<f64>, step: u64) -> StateDict<f64> {
    let mut state = state.clone();
    state.state[0][1].as_mut().unwrap().step = step;
    state
}

/// The error is ImpossibleCounter for the second parameter with `value`.
fn assert_impossible(row: &str, err: OptimError, value: u64, reason: &str) {
    match &err {
        OptimError::ImpossibleCounter {
            counter, value: v, ..
        } => {
            assert_eq!(counter, "step of group 0, parameter 1", "{row}: {err}");
            assert_eq!(v, &value.to_string(), "{row}: {err}");
        }
        other => panic!("{row}: expected ImpossibleCounter, got {other:?}"),
    }
    assert!(err.to_string().ends_with(reason), "{row}: {err}");
}

#[test]
fn impossible_step_counts_are_refused_and_change_nothing() {
    for row in rows() {
        let Some((mut opt, _, state)) = stepped(&row) else {
            continue;
        };
        let counts = state.state[0][1].as_ref().unwrap().step == 3;
        let impossible: Vec<(u64, &str)> = if counts {
            vec![
                (0, "a parameter with state has taken at least one step"),
                (
                    MAX_STEP + 1,
                    "the largest step count kept exactly is 2^53 = 9007199254740992",
                ),
                (
                    u64::MAX,
                    "the largest step count kept exactly is 2^53 = 9007199254740992",
                ),
            ]
        } else {
            vec![
                (1, "SGD does not count steps, its saved step is always 0"),
                (
                    u64::MAX,
                    "SGD does not count steps, its saved step is always 0",
                ),
            ]
        };
        for (step, reason) in impossible {
            let err = opt.load_state_dict(&with_step(&state, step)).unwrap_err();
            assert_impossible(row.name, err, step, reason);
            assert_eq!(
                opt.state_dict(),
                state,
                "{}: changed by a refused state",
                row.name
            );
        }
        if counts {
            opt.load_state_dict(&with_step(&state, MAX_STEP)).unwrap();
            assert_eq!(
                opt.state_dict().state[0][1].as_ref().unwrap().step,
                MAX_STEP
            );
        }
    }
}

#[test]
fn a_step_past_max_step_is_refused_before_anything_changes() {
    for row in rows() {
        let Some((mut opt, params, state)) = stepped(&row) else {
            continue;
        };
        if state.state[0][1].as_ref().unwrap().step == 0 {
            continue; // SGD counts nothing, so nothing can overflow
        }
        // One step left: it is taken, and the count reaches MAX_STEP exactly.
        opt.load_state_dict(&with_step(&state, MAX_STEP - 1))
            .unwrap();
        opt.step().unwrap();
        let at_limit = opt.state_dict();
        assert_eq!(
            at_limit.state[0][1].as_ref().unwrap().step,
            MAX_STEP,
            "{}",
            row.name
        );
        assert_eq!(
            at_limit.state[0][0].as_ref().unwrap().step,
            4,
            "{}",
            row.name
        );
        // The next is refused, the first parameter (not at its limit) included.
        let before: Vec<Vec<u64>> = params.iter().map(bits).collect();
        let err = opt.step().unwrap_err();
        let message = format!(
            "{}: the step count of `{}` has reached 9007199254740992, the largest count kept exactly",
            opt.name(),
            params[1].name()
        );
        assert!(
            matches!(
                err,
                OptimError::CounterLimit {
                    limit: MAX_STEP,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(err.to_string(), message, "{}", row.name);
        assert_eq!(
            params.iter().map(bits).collect::<Vec<_>>(),
            before,
            "{}",
            row.name
        );
        assert_eq!(opt.state_dict(), at_limit, "{}", row.name);
        // Without a gradient the parameter at its limit is skipped, and the rest steps.
        params[1].zero_grad();
        opt.step().unwrap();
        assert_eq!(
            opt.state_dict().state[0][0].as_ref().unwrap().step,
            5,
            "{}",
            row.name
        );
    }
}

/// The bytes of a state file with every step count `from` replaced by `to`, and
/// the checksum recomputed (layout in `src/file.rs`): a file that is intact but
/// holds a counter no run can produce.
fn with_steps_rewritten(bytes: &[u8], from: u64, to: u64) -> Vec<u8> {
    const HEADER: usize = 24;
    // `present` flag 1, u64 step, u32 buffer count 2 (Adam: exp_avg, exp_avg_sq).
    let pattern: Vec<u8> = [&[1u8][..], &from.to_le_bytes(), &2u32.to_le_bytes()].concat();
    let mut payload = bytes[HEADER..].to_vec();
    let mut found = 0;
    let mut i = 0;
    while i + pattern.len() <= payload.len() {
        if payload[i..i + pattern.len()] == pattern[..] {
            payload[i + 1..i + 9].copy_from_slice(&to.to_le_bytes());
            found += 1;
            i += pattern.len();
        } else {
            i += 1;
        }
    }
    assert_eq!(found, 2, "both parameters' step counts located");
    let hash = payload.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    [&bytes[..16], &hash.to_le_bytes()[..], &payload].concat()
}

/// The regression: such a file used to load, and the next step overflowed
/// `step += 1` (a panic in debug, a wrap to 0 and a NaN bias correction in release).
#[test]
fn a_state_file_with_a_step_count_of_2_pow_64_minus_1_is_refused() {
    let params = vec![
        param::<f64>(&noise(1, 6), &[2, 3]),
        param(&noise(2, 4), &[4]),
    ];
    let mut opt = Adam::new(params.clone(), AdamConfig::default()).unwrap();
    for step in 0..7 {
        params
            .iter()
            .for_each(|p| set_grad(p, &noise(20 + step, p.numel())));
        opt.step().unwrap();
    }
    let dir = std::env::temp_dir().join(format!("tapegrad-counters-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("adam.state");
    opt.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, with_steps_rewritten(&bytes, 7, u64::MAX)).unwrap();
    let before = opt.state_dict();
    let err = opt.load(&path).unwrap_err();
    let _ = std::fs::remove_dir_all(&dir);
    match &err {
        OptimError::CorruptFile { path: p, reason } => {
            assert_eq!(p, &path);
            assert_eq!(
                reason,
                "step count 18446744073709551615 is more than the 9007199254740992 any run can take"
            );
        }
        other => panic!("expected CorruptFile, got {other:?}"),
    }
    assert_eq!(opt.state_dict(), before);
    opt.step().unwrap();
    assert_eq!(opt.state_dict().state[0][0].as_ref().unwrap().step, 8);
}
