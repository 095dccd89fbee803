//! `.pj` text: lexer, parser, checker, bounds inference, lowering to IR,
//! and, when it compiles, the whole pass pipeline to loop level (every
//! pass verifies its output). Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = pj_compiler::compile_source("fuzz.pj", src) {
        let mut m = c.module;
        let _ = pj_compiler::passes::PassManager::parse(pj_compiler::codegen::LOWERING_PIPELINE)
            .expect("registered passes")
            .run(&mut m);
    }
});
