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
        assert!(
            !diags.is_empty(),
            "{name}: expected at least one diagnostic"
        );
        let has_error = diags.iter().any(|d| d.is_error());
        assert_eq!(
            program.is_none(),
            has_error,
            "{name}: a program is returned exactly when there is no error"
        );
        insta::assert_snapshot!(pj_lang::diagnostic::render_all(&diags, &name, &src));
    });
}
