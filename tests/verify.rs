//! Hand-written invalid IR in tests/verify/: the parser or the verifier
//! must reject it, and every violation is reported (snapshot).

mod common;

use common::read;
use pj_compiler::ir::{parse::parse_module, verify::verify};

#[test]
fn invalid_ir_is_rejected() {
    insta::glob!("verify/*.pjir", |path| {
        let src = read(path);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let report = match parse_module(&src) {
            Err(d) => format!("parse error:\n{}", d.render(&name, &src)),
            Ok(m) => match verify(&m) {
                Ok(()) => panic!("{name}: invalid IR was accepted"),
                Err(e) => format!("verify errors:\n{e}\n"),
            },
        };
        insta::assert_snapshot!(report);
    });
}
