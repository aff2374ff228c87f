//! `checkpoint.txt`: one `key = value` line per item, the format's name first
//! and the CRC-32 of the text before it last.

use tapegrad_nn::GeneratorState;
use tapegrad_optim::{PlateauState, SchedulerState};

use crate::checkpoint::Checkpoint;
use crate::error::quote;
use crate::manifest::{self, Manifest, text_crc};

/// The first line of `checkpoint.txt`.
pub const FORMAT: &str = "tapegrad-checkpoint 1";
/// The key of the last line: the CRC-32 of the text before it.
const CRC_KEY: &str = "crc32";

/// What `checkpoint.txt` holds besides the files' manifest.
pub(crate) struct Contents {
    pub(crate) checkpoint: Checkpoint,
    pub(crate) model_generators: Vec<(String, GeneratorState)>,
    pub(crate) manifest: Manifest,
}

/// The whole text, sealed with its CRC-32 line.
pub(crate) fn write(c: &Contents) -> String {
    let ck = &c.checkpoint;
    let mut body = format!("{FORMAT}\nstep = {}\nepoch = {}\n", ck.step, ck.epoch);
    if let Some(s) = &ck.scheduler {
        let lrs: Vec<String> = s.base_lrs.iter().map(|lr| format!("{lr:?}")).collect();
        body += &format!("scheduler = {} {} {}\n", s.schedule, s.steps, lrs.join(" "));
    }
    if let Some(p) = &ck.plateau {
        body += &format!(
            "plateau = {:?} {} {} {}\n",
            p.best, p.num_bad_epochs, p.cooldown_counter, p.steps
        );
    }
    for (name, state) in &c.model_generators {
        body += &format!("model_generator = {name} {state}\n");
    }
    for (name, state) in &ck.generators {
        body += &format!("generator = {name} {state}\n");
    }
    for (key, value) in &ck.meta {
        body += &format!("meta.{key} = {value}\n");
    }
    body += &c.manifest.lines();
    format!("{body}{CRC_KEY} = {:08x}\n", text_crc(&body))
}

/// Reads the text of [`write`]; the files named in `required` must be in the
/// manifest.
pub(crate) fn read(text: &str, required: &[&str]) -> Result<Contents, String> {
    match text.lines().next() {
        Some(FORMAT) => {}
        Some(first) => {
            return Err(format!(
                "the first line is {}, not `{FORMAT}`",
                quote(first)
            ));
        }
        None => return Err("the file is empty".into()),
    }
    let body = checked_body(text)?;
    let mut ck = Checkpoint::new(0, 0);
    let (mut step, mut epoch) = (None, None);
    let mut model_generators = Vec::new();
    let mut files = Vec::new();
    for line in body.lines().skip(1) {
        let (key, value) = line
            .split_once(" = ")
            .ok_or_else(|| format!("bad line {}", quote(line)))?;
        let once = |seen: bool| {
            (!seen)
                .then_some(())
                .ok_or_else(|| format!("a second `{key}` line"))
        };
        match key {
            "step" => {
                once(step.is_some())?;
                step = Some(number(key, value)?);
            }
            "epoch" => {
                once(epoch.is_some())?;
                epoch = Some(number(key, value)?);
            }
            "scheduler" => {
                once(ck.scheduler.is_some())?;
                ck.scheduler = Some(scheduler(value)?);
            }
            "plateau" => {
                once(ck.plateau.is_some())?;
                ck.plateau = Some(plateau(value)?);
            }
            "model_generator" => push_generator(&mut model_generators, value)?,
            "generator" => push_generator(&mut ck.generators, value)?,
            manifest::KEY => files.push(value),
            _ => match key.strip_prefix("meta.") {
                Some(name) if !ck.meta.iter().any(|(k, _)| k == name) => {
                    crate::names::check("metadata key", name).map_err(|e| e.to_string())?;
                    ck.meta.push((name.to_owned(), value.to_owned()));
                }
                Some(name) => return Err(format!("a second `meta.{name}` line")),
                None => return Err(format!("bad line {}", quote(line))),
            },
        }
    }
    ck.step = step.ok_or("no `step` line")?;
    ck.epoch = epoch.ok_or("no `epoch` line")?;
    let manifest = Manifest::parse(&files, required)?;
    Ok(Contents {
        checkpoint: ck,
        model_generators,
        manifest,
    })
}

/// The body once its last line, the CRC-32 of the text before it, is checked.
fn checked_body(text: &str) -> Result<&str, String> {
    let trimmed = text.strip_suffix('\n').unwrap_or(text);
    let (body, last) = match trimmed.rfind('\n') {
        Some(i) => (&text[..=i], &trimmed[i + 1..]),
        None => ("", trimmed),
    };
    let recorded = last
        .strip_prefix(CRC_KEY)
        .and_then(|l| l.strip_prefix(" = "))
        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
        .ok_or_else(|| format!("the last line is not `{CRC_KEY} = <hex>`"))?;
    if recorded != text_crc(body) {
        return Err(format!(
            "its CRC-32 is {:08x}, its last line records {recorded:08x}: the file changed after it was written",
            text_crc(body)
        ));
    }
    Ok(body)
}

fn number(key: &str, value: &str) -> Result<usize, String> {
    value
        .parse()
        .map_err(|_| format!("bad {key} {}", quote(value)))
}

/// `NAME STEPS LR…`.
fn scheduler(value: &str) -> Result<SchedulerState, String> {
    let bad = || format!("bad scheduler line {}", quote(value));
    let mut parts = value.split(' ');
    let (Some(name), Some(steps)) = (parts.next(), parts.next()) else {
        return Err(bad());
    };
    let base_lrs = parts
        .map(|lr| lr.parse::<f64>().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    Ok(SchedulerState {
        schedule: name.to_owned(),
        base_lrs,
        steps: steps.parse().map_err(|_| bad())?,
    })
}

/// `BEST BAD_EPOCHS COOLDOWN STEPS`.
fn plateau(value: &str) -> Result<PlateauState, String> {
    let bad = || format!("bad plateau line {}", quote(value));
    let parts: Vec<&str> = value.split(' ').collect();
    let [best, bad_epochs, cooldown, steps] = parts[..] else {
        return Err(bad());
    };
    let int = |s: &str| s.parse::<usize>().map_err(|_| bad());
    Ok(PlateauState {
        best: best.parse().map_err(|_| bad())?,
        num_bad_epochs: int(bad_epochs)?,
        cooldown_counter: int(cooldown)?,
        steps: int(steps)?,
    })
}

/// `NAME STATE`, a name not seen before.
fn push_generator(list: &mut Vec<(String, GeneratorState)>, value: &str) -> Result<(), String> {
    let bad = || format!("bad generator line {}", quote(value));
    let (name, state) = value.split_once(' ').ok_or_else(bad)?;
    if list.iter().any(|(n, _)| n == name) {
        return Err(format!("a second generator {}", quote(name)));
    }
    list.push((name.to_owned(), state.parse().map_err(|_| bad())?));
    Ok(())
}
