//! Writes the seed inputs of every fuzz target into `fuzz/corpus/<target>/`:
//! small valid files of each format (and a few near misses), built with the
//! crates' own writers so they follow the formats exactly.
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml -p tapegrad-fuzz-seeds
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use tapegrad_data::{IdxArray, IdxData};
use tapegrad_nn::save_safetensors;
use tapegrad_tape::{Float, Tensor};

#[path = "../../entries/optim_state.rs"]
#[allow(dead_code)]
mod optim_entry;
#[path = "../../entries/safetensors.rs"]
#[allow(dead_code)]
mod safetensors_entry;

fn corpus(target: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../corpus")
        .join(target);
    std::fs::create_dir_all(&dir).expect("create the corpus directory");
    dir
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    std::fs::write(corpus(target).join(format!("seed-{name}")), bytes).expect("write a seed");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).expect("writing to a Vec");
    encoder.finish().expect("writing to a Vec")
}

fn idx_arrays() -> Vec<(&'static str, IdxArray)> {
    let array = |dims: &[usize], data| IdxArray::new(dims, data).expect("consistent seed");
    vec![
        (
            "u8-images",
            array(&[2, 3, 3], IdxData::U8((0..18).collect())),
        ),
        ("u8-labels", array(&[4], IdxData::U8(vec![0, 9, 3, 1]))),
        ("i8", array(&[3], IdxData::I8(vec![-128, 0, 127]))),
        ("i16", array(&[2, 2], IdxData::I16(vec![-1, 300, 0, 7]))),
        ("i32", array(&[2], IdxData::I32(vec![i32::MIN, 5]))),
        (
            "f32",
            array(&[1, 3], IdxData::F32(vec![0.5, -1.0, f32::NAN])),
        ),
        ("f64", array(&[2], IdxData::F64(vec![1e300, -0.0]))),
        ("scalar", array(&[], IdxData::U8(vec![42]))),
        ("empty", array(&[0, 5], IdxData::U8(vec![]))),
    ]
}

fn idx_seeds() {
    for (name, array) in idx_arrays() {
        let raw = array.to_bytes();
        write("idx_raw", name, &raw);
        write("idx_raw", &format!("{name}-cut"), &raw[..raw.len() - 1]);
        let mut gz = vec![0u8];
        gz.extend_from_slice(&gzip(&raw));
        write("idx_gzip", &format!("{name}-stored"), &gz);
        let mut inflated = vec![1u8];
        inflated.extend_from_slice(&raw);
        write("idx_gzip", &format!("{name}-compressed"), &inflated);
    }
    // Two gzip members, as `cat a.gz b.gz` makes.
    let raw = idx_arrays()[0].1.to_bytes();
    let mut members = vec![0u8];
    members.extend_from_slice(&gzip(&raw[..10]));
    members.extend_from_slice(&gzip(&raw[10..]));
    write("idx_gzip", "two-members", &members);
}

fn libsvm_seeds() {
    let texts = [
        ("basic", "+1 1:0.5 3:-1 # a comment\n\n-1 2:2\n"),
        ("qid", "3 qid:1 1:1 2:0.5\n1 qid:2 4:1e-3\n"),
        ("crlf-tabs", "1\t1:1\t2:2\r\n-1  3:3\r\n"),
        ("comments", "# header\n1 1:1 # tail\n#\n2 5:-0.25\n"),
        (
            "regression",
            "24.0 1:0.00632 2:18 3:2.31\n21.6 1:0.02731 3:7.07\n",
        ),
        (
            "multiclass",
            "1 1:-0.55 2:0.25\n2 1:0.11 4:0.5\n3 2:-0.9 3:1\n",
        ),
        ("no-features", "1\n-1\n"),
        ("bad-order", "1 5:1 2:1\n"),
    ];
    for (name, text) in texts {
        for options in [0u8, 1, 2, 4, 6, 8] {
            let mut input = vec![options];
            input.extend_from_slice(text.as_bytes());
            write("libsvm", &format!("{name}-{options}"), &input);
        }
    }
}

fn safetensors_seeds<T: Float>(tag: &str) {
    let model = safetensors_entry::model::<T>();
    let path = std::env::temp_dir().join(format!("tapegrad-seed-{tag}-{}", std::process::id()));
    save_safetensors(&model, &path).expect("save the seed model");
    let bytes = std::fs::read(&path).expect("read the seed back");
    std::fs::remove_file(&path).expect("remove the temporary file");
    write("safetensors", tag, &bytes);
    // The same tensors with PyTorch's metadata entry in the header.
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + n]).expect("a JSON header");
    let with_meta = header.replacen('{', r#"{"__metadata__":{"format":"pt"},"#, 1);
    let mut json = with_meta.trim_end().as_bytes().to_vec();
    json.resize(json.len().div_ceil(8) * 8, b' ');
    let mut torch = (json.len() as u64).to_le_bytes().to_vec();
    torch.extend_from_slice(&json);
    torch.extend_from_slice(&bytes[8 + n..]);
    write("safetensors", &format!("{tag}-metadata"), &torch);
    write(
        "safetensors",
        &format!("{tag}-cut"),
        &bytes[..bytes.len() - 4],
    );
}

fn optim_seeds<T: Float>(dtype_bit: u8) {
    for kind in 0..10u8 {
        for steps in [0, 2] {
            let params = optim_entry::params::<T>();
            let mut opt = optim_entry::optimizer(kind, &params);
            for _ in 0..steps {
                for (i, p) in params.iter().enumerate() {
                    // The last parameter gets no gradient: its state stays empty.
                    if i < 2 {
                        p.set_grad(Some(Tensor::ones(p.shape())));
                    }
                }
                opt.step().expect("a step on finite gradients");
            }
            let path =
                std::env::temp_dir().join(format!("tapegrad-seed-optim-{}", std::process::id()));
            opt.save(&path).expect("save the seed state");
            let file = std::fs::read(&path).expect("read the seed back");
            std::fs::remove_file(&path).expect("remove the temporary file");
            let options = (kind << 2) | dtype_bit;
            let name = format!(
                "{kind}-{}-{}-{steps}",
                opt.name(),
                if dtype_bit == 0 { "f32" } else { "f64" }
            );
            let mut whole = vec![options];
            whole.extend_from_slice(&file);
            write("optim_state", &format!("{name}-file"), &whole);
            let mut payload = vec![options | 1];
            payload.extend_from_slice(&file[24..]);
            write("optim_state", &format!("{name}-payload"), &payload);
        }
    }
}

fn main() {
    idx_seeds();
    libsvm_seeds();
    safetensors_seeds::<f32>("f32");
    safetensors_seeds::<f64>("f64");
    optim_seeds::<f32>(0);
    optim_seeds::<f64>(2);
    for target in [
        "idx_raw",
        "idx_gzip",
        "libsvm",
        "safetensors",
        "optim_state",
    ] {
        let count = std::fs::read_dir(corpus(target)).map_or(0, |d| d.count());
        println!("{target}: {count} files");
    }
}
