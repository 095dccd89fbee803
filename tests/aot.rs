//! Ahead-of-time compilation: objects for every supported target are well
//! formed, and the C example links an object with the runtime and runs.

mod common;

use common::root;
use object::{Object, ObjectSymbol};
use std::path::{Path, PathBuf};
use std::process::Command;

fn pj(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pj"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("pj runs")
}

/// target/<profile>/, where cargo puts the runtime's staticlib.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

/// The runtime as a static library. `cargo test` builds only the rlib, so
/// ask cargo for the staticlib every time (instant when it is up to date).
fn runtime_staticlib() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // the profile of this test (its target dir is where `pj` was built)
    let profile: &[&str] = if cfg!(debug_assertions) {
        &[]
    } else {
        &["--release"]
    };
    let st = Command::new(cargo)
        .args(["build", "-p", "pj-runtime"])
        .args(profile)
        .current_dir(root())
        .status()
        .expect("cargo runs");
    assert!(st.success(), "building the runtime staticlib failed");
    let lib = target_dir().join("libpj_runtime.a");
    assert!(lib.exists(), "no staticlib at {}", lib.display());
    lib
}

#[test]
fn objects_for_every_target_export_the_kernels_and_import_only_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    for (triple, arch, macho) in [
        (
            "x86_64-unknown-linux-gnu",
            object::Architecture::X86_64,
            false,
        ),
        (
            "aarch64-unknown-linux-gnu",
            object::Architecture::Aarch64,
            false,
        ),
        ("aarch64-apple-darwin", object::Architecture::Aarch64, true),
        ("x86_64-apple-darwin", object::Architecture::X86_64, true),
    ] {
        for (example, backend) in ["blur", "softmax", "qdot", "chain"]
            .into_iter()
            .flat_map(|e| common::backends().into_iter().map(move |b| (e, b)))
        {
            let out = dir.path().join(format!("{example}-{triple}-{backend}.o"));
            let o = pj(&[
                "build",
                &format!("examples/{example}.pj"),
                "--target",
                triple,
                "--backend",
                backend.name(),
                "-o",
                out.to_str().unwrap(),
            ]);
            assert!(
                o.status.success(),
                "{triple} ({backend}): {}",
                String::from_utf8_lossy(&o.stderr)
            );
            assert!(out.with_extension("h").exists());
            let bytes = std::fs::read(&out).unwrap();
            let file = object::File::parse(&*bytes).unwrap();
            assert_eq!(file.architecture(), arch, "{triple} ({backend})");
            assert_eq!(
                file.format() == object::BinaryFormat::MachO,
                macho,
                "{triple} ({backend})"
            );
            let prefix = if macho { "_" } else { "" };
            let names: Vec<String> = file
                .symbols()
                .filter_map(|s| s.name().ok().map(str::to_string))
                .collect();
            for want in [example.to_string(), format!("{example}_shape")] {
                let sym = format!("{prefix}{want}");
                let s = file
                    .symbols()
                    .find(|s| s.name() == Ok(sym.as_str()))
                    .unwrap_or_else(|| panic!("{triple} ({backend}): no {sym} in {names:?}"));
                assert!(
                    s.is_global() && s.is_definition(),
                    "{triple} ({backend}): {sym} is not exported"
                );
            }
            for s in file
                .symbols()
                .filter(|s| s.is_undefined() && !s.name().unwrap_or("").is_empty())
            {
                let n = s.name().unwrap().trim_start_matches('_');
                assert!(
                    n.starts_with("pj_rt_"),
                    "{triple} ({backend}): unexpected import {n}"
                );
            }
        }
    }
}

#[test]
fn the_c_example_links_with_the_runtime_and_runs() {
    for backend in common::backends() {
        let dir = tempfile::tempdir().unwrap();
        let obj = dir.path().join("blur.o");
        let o = pj(&[
            "build",
            "examples/blur.pj",
            "--backend",
            backend.name(),
            "-o",
            obj.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let exe = dir.path().join("blur_demo");
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let o = Command::new(cc)
            .args(["-O2", "-Wall", "-Werror", "-I"])
            .arg(dir.path())
            .arg(root().join("examples/aot_c/main.c"))
            .arg(&obj)
            .arg(runtime_staticlib())
            .args(["-lpthread", "-ldl", "-lm", "-o"])
            .arg(&exe)
            .output()
            .expect("a C compiler");
        assert!(
            o.status.success(),
            "cc failed:\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let o = Command::new(&exe).output().unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{out}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(
            out.trim(),
            "blur 37x53 ok; wrong shape refused: output `out` dim 0 must be 37, got 36; overlap refused: result `out` overlaps argument `input` in memory: results must not share memory with arguments"
        );
    }
}

/// `pj build --emit shared`: a shared library exporting the header's
/// functions only, with just the runtime the kernel uses (a fraction of
/// the 5.7 MB the whole archive made), that the C example links against
/// and runs; refused for another machine's target and without a runtime
/// archive, leaving nothing behind.
#[test]
fn a_shared_library_holds_the_kernels_and_only_the_runtime_they_use() {
    let archive = runtime_staticlib();
    for backend in common::backends() {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("libblur.so");
        let o = Command::new(env!("CARGO_BIN_EXE_pj"))
            .args([
                "build",
                "examples/blur.pj",
                "--emit",
                "shared",
                "--backend",
                backend.name(),
                "-o",
            ])
            .arg(&lib)
            .env("PJ_RUNTIME", &archive)
            .current_dir(root())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let bytes = std::fs::read(&lib).unwrap();
        assert!(bytes.len() < 2 << 20, "{} bytes", bytes.len());
        let file = object::File::parse(&*bytes).unwrap();
        let mut exported: Vec<String> = file
            .dynamic_symbols()
            .filter(|s| s.is_definition() && s.is_global())
            .map(|s| s.name().unwrap().to_string())
            .collect();
        exported.sort();
        assert_eq!(
            exported,
            ["blur", "blur_shape", "pj_last_error", "pj_set_threads"]
        );
        // the example includes "blur.h"; the header is named after the library
        std::fs::copy(dir.path().join("libblur.h"), dir.path().join("blur.h")).unwrap();
        let exe = dir.path().join("blur_demo");
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let o = Command::new(cc)
            .args(["-O2", "-Wall", "-Werror", "-I"])
            .arg(dir.path())
            .arg(root().join("examples/aot_c/main.c"))
            .arg("-L")
            .arg(dir.path())
            .arg("-lblur")
            .arg(format!("-Wl,-rpath,{}", dir.path().display()))
            .arg("-o")
            .arg(&exe)
            .output()
            .expect("a C compiler");
        assert!(
            o.status.success(),
            "cc failed:\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let o = Command::new(&exe).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(String::from_utf8_lossy(&o.stdout).starts_with("blur 37x53 ok"));
    }
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("libk.so");
    let run = |target: &str, runtime: &Path| {
        Command::new(env!("CARGO_BIN_EXE_pj"))
            .args([
                "build",
                "examples/blur.pj",
                "--emit",
                "shared",
                "--target",
                target,
                "-o",
            ])
            .arg(&lib)
            .env("PJ_RUNTIME", runtime)
            .current_dir(root())
            .output()
            .unwrap()
    };
    let o = run("aarch64-apple-darwin", &archive);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("links for this machine"),
        "{err}"
    );
    let o = run("host", &dir.path().join("missing.a"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("PJ_RUNTIME names"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing left behind"
    );
}

#[test]
fn build_refuses_unknown_targets_and_leaves_no_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("k.o");
    let o = pj(&[
        "build",
        "examples/blur.pj",
        "--target",
        "riscv64gc-unknown-linux-gnu",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("unsupported target `riscv64gc-unknown-linux-gnu`")
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
