//! Every example kernel, through the reference interpreter, against the
//! NumPy results in examples/data (made by examples/reference.py); and
//! neither the default pass pipeline nor lowering to loops may change a
//! single bit of any result.

mod common;

use common::*;
use pj_compiler::interp;
use pj_compiler::passes::PassManager;

#[test]
fn interpreter_matches_numpy_on_every_example() {
    for &name in EXAMPLES {
        let path = root().join(format!("examples/{name}.pj"));
        let raw = compile(name, &read(&path));
        let args = example_args(&raw, name);
        let got = interp::run(&raw, name, &args).unwrap_or_else(|e| panic!("{name}: {e}"));
        let k = raw.kernel(name).expect("kernel");
        for (r, t) in pj_compiler::dialects::signature(&raw, k)
            .results
            .iter()
            .zip(&got)
        {
            let want = picojoule::npy::read(
                &root().join(format!("examples/data/{name}/expected_{r}.npy")),
            )
            .expect("expected output");
            assert_close(t, &want, 1e-5, &format!("{name}.{r}"));
        }

        let loops = interp::run(&lowered(&raw), name, &args).expect("lowered run");
        assert_eq!(
            format!("{got:?}"),
            format!("{loops:?}"),
            "{name}: lowering to loops changed the results"
        );

        let mut optimized = raw.clone();
        PassManager::default_pipeline()
            .run(&mut optimized)
            .expect("default pipeline");
        let again = interp::run(&optimized, name, &args).expect("optimized run");
        assert_eq!(
            format!("{got:?}"),
            format!("{again:?}"),
            "{name}: the default passes changed the results"
        );
    }
}

#[test]
fn every_example_has_data() {
    let mut found: Vec<String> = std::fs::read_dir(root().join("examples"))
        .expect("examples/")
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "pj").then(|| p.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    found.sort();
    let mut listed: Vec<String> = EXAMPLES.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(
        found, listed,
        "add new examples to EXAMPLES and to examples/reference.py"
    );
}
