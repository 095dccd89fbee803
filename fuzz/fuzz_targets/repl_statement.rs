//! A `pj repl` line: the statement parser and the completeness check the
//! prompt uses. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/repl/syntax.rs"]
#[allow(dead_code)]
mod syntax;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let _ = syntax::balanced(line);
    let _ = syntax::parse(line);
});
