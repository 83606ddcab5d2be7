//! Fuzzes the scenario readers with the property of `vnx::scenario::fuzz::check_one`.
//! `tests/fuzz_corpus.rs` runs the same property on the corpus kept here
//! (`fuzz/corpus/scenario_read`) and on generated inputs, on stable Rust.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| vnx::scenario::fuzz::check_one(data));
