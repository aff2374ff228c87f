//! LIBSVM text, plain or gzipped, under each reader option.
#![no_main]

#[path = "../entries/libsvm.rs"]
mod entry;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entry::run(data));
