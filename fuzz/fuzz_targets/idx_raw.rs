//! IDX from raw bytes: `IdxReader::read` on the input as it is.
#![no_main]

#[path = "../entries/idx.rs"]
#[allow(dead_code)] // the entry of the other IDX target
mod entry;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entry::raw(data));
