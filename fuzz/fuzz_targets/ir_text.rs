//! IR text: the parser and the verifier; a module that verifies prints
//! back to text that parses and verifies again. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pj_compiler::ir::{parse::parse_module, print, verify::verify};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(m) = parse_module(text) else {
        return;
    };
    if verify(&m).is_ok() {
        let again = print::print_module(&m, print::PrintOptions { locs: true });
        let m2 = parse_module(&again).expect("printed IR parses");
        verify(&m2).expect("printed IR verifies");
    }
});
