#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dropcast_fuzz::conditional(data));
