//! The state file reader on hostile payloads behind a valid header: what a
//! count or a length may make it allocate, and how much of a name an error
//! quotes.

use std::path::PathBuf;

use tapegrad_optim::{Adam, AdamConfig, OptimError, Optimizer};
use tapegrad_tape::{Tensor, Var};

/// FNV-1a 64, the file's checksum.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The payload's fields, little-endian, as the writer lays them out.
#[derive(Default)]
struct Payload(Vec<u8>);

impl Payload {
    fn u8(mut self, x: u8) -> Self {
        self.0.push(x);
        self
    }
    fn u32(mut self, x: u32) -> Self {
        self.0.extend_from_slice(&x.to_le_bytes());
        self
    }
    fn u64(mut self, x: u64) -> Self {
        self.0.extend_from_slice(&x.to_le_bytes());
        self
    }
    fn f64(self, x: f64) -> Self {
        self.u64(x.to_bits())
    }
    fn str(self, s: &str) -> Self {
        let mut out = self.u32(s.len() as u32);
        out.0.extend_from_slice(s.as_bytes());
        out
    }
    /// Adam's name, dtype and options, as Adam with the default config saves them.
    fn adam_start() -> Self {
        let adam = Adam::new(vec![param()], AdamConfig::default()).unwrap();
        let state = adam.state_dict();
        let mut out = Payload::default().str("Adam").str("f64");
        out = out.u32(state.options.len() as u32);
        for (name, value) in &state.options {
            out = out.str(name).f64(*value);
        }
        out
    }
}

fn param() -> Var<f64> {
    Var::parameter(Tensor::zeros(&[2]))
}

/// A file holding `payload` behind a valid header, removed on drop.
struct StateFile(PathBuf);

impl StateFile {
    fn new(name: &str, payload: &Payload) -> Self {
        let path = std::env::temp_dir().join(format!(
            "tapegrad-optim-limits-{name}-{}.state",
            std::process::id()
        ));
        let mut file = b"TGOPTIM\x01".to_vec();
        file.extend_from_slice(&(payload.0.len() as u64).to_le_bytes());
        file.extend_from_slice(&fnv1a(&payload.0).to_le_bytes());
        file.extend_from_slice(&payload.0);
        std::fs::write(&path, file).unwrap();
        Self(path)
    }
}

impl Drop for StateFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Loads `payload` into an Adam over one [2] parameter; the reason it is refused.
fn refusal(name: &str, payload: Payload) -> String {
    let file = StateFile::new(name, &payload);
    let mut adam = Adam::new(vec![param()], AdamConfig::default()).unwrap();
    let before = adam.state_dict();
    let err = adam.load(&file.0).unwrap_err();
    assert_eq!(adam.state_dict(), before, "a refused file changes nothing");
    match err {
        OptimError::CorruptFile { reason, .. } => reason,
        other => panic!("expected CorruptFile, got {other}"),
    }
}

#[test]
fn a_name_longer_than_any_identifier_is_refused_before_it_is_read() {
    let long = "A".repeat(100_000);
    let reason = refusal("long-name", Payload::default().str(&long).str("f64"));
    assert_eq!(
        reason,
        "optimizer name is 100000 bytes long, more than the 256 a name may have"
    );
    // A length claiming 4 GiB with nothing behind it: the same refusal, unread.
    let reason = refusal("huge-length", Payload::default().u32(u32::MAX));
    assert!(
        reason.starts_with("optimizer name is 4294967295 bytes long"),
        "{reason}"
    );
}

#[test]
fn a_buffer_length_beyond_the_payload_is_refused_before_allocating() {
    let payload = Payload::adam_start()
        .u32(1) // one group
        .f64(1e-3)
        .f64(0.0)
        .u32(1) // one parameter
        .u32(1)
        .u64(2) // shape [2]
        .u8(1) // state present
        .u64(3) // step
        .u32(1) // one buffer
        .str("exp_avg")
        .u64(1 << 60);
    let reason = refusal("huge-buffer", payload);
    assert_eq!(
        reason,
        "buffer exp_avg = 1152921504606846976 does not fit in the 0 bytes left"
    );
}

/// Adam's payload for one [2] parameter whose state has step count `step`.
fn adam_with_step(step: u64) -> Payload {
    Payload::adam_start()
        .u32(1)
        .f64(1e-3)
        .f64(0.0)
        .u32(1)
        .u32(1)
        .u64(2)
        .u8(1)
        .u64(step)
        .u32(2)
        .str("exp_avg")
        .u64(2)
        .f64(0.1)
        .f64(0.1)
        .str("exp_avg_sq")
        .u64(2)
        .f64(0.01)
        .f64(0.01)
}

/// Found by the `optim_state` fuzz target: a step count of `u64::MAX` loaded,
/// and the next step's `step += 1` overflowed. The reader refuses counts above
/// 2⁵³; at 2⁵³ itself the file loads and the next step is refused.
#[test]
fn a_step_count_no_run_can_reach_is_refused() {
    let reason = refusal("huge-step", adam_with_step(u64::MAX));
    assert_eq!(
        reason,
        "step count 18446744073709551615 is more than the 9007199254740992 any run can take"
    );
    let file = StateFile::new("large-step", &adam_with_step(1 << 53));
    let w = param();
    let mut adam = Adam::new(vec![w.clone()], AdamConfig::default()).unwrap();
    adam.load(&file.0).unwrap();
    w.set_grad(Some(Tensor::ones(&[2])));
    let before = w.value();
    let err = adam.step().unwrap_err();
    assert!(
        matches!(err, tapegrad_optim::OptimError::CounterLimit { limit, .. } if limit == 1 << 53),
        "{err}"
    );
    assert_eq!(
        adam.state_dict().state[0][0].as_ref().unwrap().step,
        1 << 53
    );
    assert_eq!(
        w.value().data(),
        before.data(),
        "a refused step changes nothing"
    );
}

#[test]
fn a_learning_rate_the_constructors_would_refuse_is_refused() {
    for (lr, decay, message) in [
        (f64::NAN, 0.0, "group lr is NaN, not a finite number >= 0"),
        (-1e-3, 0.0, "group lr is -0.001, not a finite number >= 0"),
        (
            1e-3,
            f64::INFINITY,
            "group weight_decay is inf, not a finite number >= 0",
        ),
    ] {
        let payload = Payload::adam_start().u32(1).f64(lr).f64(decay);
        assert_eq!(refusal("bad-lr", payload), message);
    }
}

#[test]
fn huge_counts_end_at_the_end_of_the_payload() {
    for (what, payload) in [
        (
            "option count",
            Payload::default().str("Adam").str("f64").u32(u32::MAX),
        ),
        ("group count", Payload::adam_start().u32(u32::MAX)),
        (
            "parameter rank",
            Payload::adam_start()
                .u32(1)
                .f64(1e-3)
                .f64(0.0)
                .u32(1)
                .u32(u32::MAX),
        ),
    ] {
        let reason = refusal("counts", payload);
        assert!(
            reason.starts_with("payload ends at byte"),
            "{what}: {reason}"
        );
    }
}

#[test]
fn a_long_buffer_name_is_quoted_cut() {
    let name = "b".repeat(200);
    let payload = Payload::adam_start()
        .u32(1)
        .f64(1e-3)
        .f64(0.0)
        .u32(1)
        .u32(1)
        .u64(2)
        .u8(1)
        .u64(3)
        .u32(1)
        .str(&name)
        .u64(99);
    let reason = refusal("buffer-name", payload);
    let quoted = format!("buffer {}… = 99", "b".repeat(64));
    assert!(reason.starts_with(&quoted), "{reason}");
}
