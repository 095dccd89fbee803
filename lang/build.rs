//! Generates the LALRPOP parser (`src/grammar.lalrpop`). This is the one
//! build-time code generator in the project.
fn main() {
    lalrpop::Configuration::new()
        .use_cargo_dir_conventions()
        .emit_rerun_directives(true)
        .process()
        .expect("LALRPOP failed to generate the parser");
}
