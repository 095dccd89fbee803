//! One `.pj` per class of user error in tests/diagnostics/; the snapshot is
//! exactly what the user sees (file:line:col, source line, caret, help).

mod common;

use common::read;

#[test]
fn diagnostics() {
    insta::glob!("diagnostics/*.pj", |path| {
        let src = read(path);
        let name = format!(
            "diagnostics/{}",
            path.file_name().unwrap().to_string_lossy()
        );
        let (program, diags) = pj_lang::compile_source(&src);
        let has_error = diags.iter().any(|d| d.is_error());
        assert_eq!(
            program.is_none(),
            has_error,
            "{name}: a program is returned exactly when there is no error"
        );
        // a program the front end accepts can still ask for an impossible
        // schedule: the compiler's legality check reports it the same way
        let diags = match program {
            Some(_) => match pj_compiler::compile_source(&name, &src) {
                Ok(c) => c.warnings,
                Err(d) => d,
            },
            None => diags,
        };
        assert!(
            !diags.is_empty(),
            "{name}: expected at least one diagnostic"
        );
        insta::assert_snapshot!(pj_lang::diagnostic::render_all(&diags, &name, &src));
    });
}
