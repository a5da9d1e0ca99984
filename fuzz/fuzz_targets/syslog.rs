#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| daemonic_fuzz::syslog(data));
