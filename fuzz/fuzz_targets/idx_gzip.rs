//! IDX through gzip: a stored gzip stream, or an IDX file compressed first.
#![no_main]

#[path = "../entries/idx.rs"]
#[allow(dead_code)] // the entry of the other IDX target
mod entry;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entry::gzip(data));
