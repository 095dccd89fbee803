//! The `pj` binary as a user meets it: exit codes (0 ok, 1 user error,
//! 2 usage), messages that name the problem, output files written whole or
//! not at all, and never a Rust backtrace.

mod common;

use common::root;
use std::path::Path;
use std::process::{Command, Output};

fn pj(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pj"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("pj runs")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn assert_no_backtrace(stderr: &str) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
}

#[test]
fn run_writes_the_result_and_it_matches_numpy() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.npy");
    let o = pj(&[
        "run",
        "examples/blur.pj",
        "--kernel",
        "blur",
        "--arg",
        "input=examples/data/blur/input.npy",
        "--out",
        &format!("out={}", out.display()),
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let got = picojoule::npy::read(&out).unwrap();
    let want = picojoule::npy::read(&root().join("examples/data/blur/expected_out.npy")).unwrap();
    common::assert_close(&got, &want, 1e-5, "blur via the CLI");
}

#[test]
fn run_without_out_prints_a_summary_and_scalars_parse_from_text() {
    let o = pj(&[
        "run",
        "examples/chain.pj",
        "--arg",
        "x=examples/data/chain/x.npy",
        "--arg",
        "a=0.75",
        "--arg",
        "b=-0.25",
    ]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        out.starts_with("y: f32[1000]  min 0.000000 max 15.350210"),
        "{out}"
    );
}

#[test]
fn shape_mismatch_names_the_size_the_params_and_both_extents() {
    let o = pj(&[
        "run",
        "examples/matmul.pj",
        "--arg",
        "a=examples/data/matmul/a.npy",
        "--arg",
        "b=examples/data/matmul/a.npy",
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        err.trim(),
        "error: size `K` is 19 (from `a` dim 1) but `b` dim 0 is 7"
    );
}

#[test]
fn a_failed_run_leaves_no_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.npy");
    let o = pj(&[
        "run",
        "examples/matmul.pj",
        "--arg",
        "a=examples/data/matmul/a.npy",
        "--arg",
        "b=examples/data/matmul/a.npy",
        "--out",
        &format!("c={}", out.display()),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no temporary file left behind"
    );
    let o = pj(&[
        "run",
        "examples/blur.pj",
        "--arg",
        "input=examples/data/blur/input.npy",
        "--out",
        "out=/nonexistent/dir/x.npy",
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("directory `/nonexistent/dir` does not exist"),
        "{err}"
    );
}

#[test]
fn user_errors_exit_1_with_a_clear_message() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["check", "examples/missing.pj"],
            "cannot read `examples/missing.pj`",
        ),
        (
            &["run", "examples/blur.pj"],
            "missing argument `input` (f32[H, W]); pass --arg input=PATH.npy",
        ),
        (
            &["run", "examples/blur.pj", "--arg", "input=nope.npy"],
            "cannot open `nope.npy`",
        ),
        (
            &["run", "examples/blur.pj", "--arg", "img=x.npy"],
            "kernel `blur` has no parameter `img`; its parameters are: input",
        ),
        (
            &["run", "examples/blur.pj", "--kernel", "sharpen"],
            "no kernel named `sharpen`",
        ),
        (
            &[
                "run",
                "examples/chain.pj",
                "--arg",
                "x=examples/data/chain/x.npy",
                "--arg",
                "a=zero",
                "--arg",
                "b=1",
            ],
            "argument `a`: `zero` is not a valid f32",
        ),
        (
            &["run", "examples/blur.pj", "--arg", "input=examples/blur.pj"],
            "is not a valid .npy file",
        ),
        (
            &["opt", "examples/blur.pj", "--passes", "canonicalize,fuse"],
            "unknown pass `fuse`; available passes: canonicalize, cse, dce",
        ),
    ];
    for (args, want) in cases {
        let o = pj(args);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: expected {want:?} in:\n{err}");
        assert_no_backtrace(&err);
    }
}

#[test]
fn diagnostics_exit_1_and_usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.pj");
    std::fs::write(
        &bad,
        "kernel k(x: f32[N]) -> y: f32[N] {\n    y[i] = x[i] + 1;\n    z[i] = q;\n}\n",
    )
    .unwrap();
    let o = pj(&["check", bad.to_str().unwrap()]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("bad.pj:3:12"), "{err}");
    assert!(err.contains("unknown name `q`"), "{err}");
    assert!(
        err.ends_with(&format!("error: 1 error in `{}`\n", bad.display())),
        "{err}"
    );
    assert_eq!(pj(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(pj(&["run"]).status.code(), Some(2));
}

#[test]
fn binary_garbage_gets_a_diagnostic_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    for (i, bytes) in [
        &b"\xff\xfe\x00kernel"[..],
        b"kernel k(",
        b"}}}}",
        b"kernel k(x: f32[N]) -> y: f32[N] { y[i] = x[i] / 0; }",
    ]
    .iter()
    .enumerate()
    {
        let f = dir.path().join(format!("g{i}.pj"));
        std::fs::write(&f, bytes).unwrap();
        let o = pj(&["check", f.to_str().unwrap()]);
        let (_, err) = text(&o);
        assert_no_backtrace(&err);
        assert!(
            o.status.code() == Some(1) || o.status.code() == Some(0),
            "{err}"
        );
    }
}

#[test]
fn emit_opt_and_pjir_input_agree() {
    let dir = tempfile::tempdir().unwrap();
    let ir = dir.path().join("softmax.pjir");
    let o = pj(&["opt", "examples/softmax.pj"]);
    assert_eq!(o.status.code(), Some(0));
    std::fs::write(&ir, &o.stdout).unwrap();
    // Running the optimized IR file gives the same numbers as the source.
    let run = |file: &Path| {
        let o = pj(&[
            "run",
            file.to_str().unwrap(),
            "--arg",
            "x=examples/data/softmax/x.npy",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
        o.stdout
    };
    assert_eq!(run(&ir), run(Path::new("examples/softmax.pj")));
    // An empty pipeline over the .pjir prints it unchanged.
    let again = pj(&["opt", ir.to_str().unwrap(), "--passes="]);
    assert_eq!(again.stdout, o.stdout);

    let o = pj(&[
        "opt",
        "examples/blur.pj",
        "--print-ir-after-all",
        "--time-passes",
    ]);
    let (out, err) = text(&o);
    for pass in ["canonicalize", "cse", "dce"] {
        assert!(
            out.contains(&format!("// ----- IR after {pass} -----")),
            "{out}"
        );
        assert!(err.contains(pass), "{err}");
    }
    // `--fast-math` reaches the named passes: partial sums in four vector
    // accumulators under `reassoc`, `exp` fused under `contract`; the
    // reference order without it
    let to_vectors = "canonicalize,cse,dce,inline-pointwise,schedule,lower-stages,canonicalize,licm,vectorize,licm,cse,dce";
    let lowered = |fm: Option<&str>| {
        let mut args = vec!["opt", "examples/softmax.pj", "--passes", to_vectors];
        if let Some(f) = fm {
            args.extend(["--fast-math", f]);
        }
        let o = pj(&args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
        text(&o).0
    };
    let sums = |ir: &str| ir.matches("kind = \"sum\"").count();
    let (off, reassoc, contract) = (
        lowered(None),
        lowered(Some("reassoc")),
        lowered(Some("contract")),
    );
    assert_eq!(sums(&off), 0, "{off}");
    assert!(
        sums(&reassoc) > 0 && !reassoc.contains("fused = true"),
        "{reassoc}"
    );
    assert!(contract.contains("fused = true"), "{contract}");
    let o = pj(&["emit", "examples/matmul.pj", "--stage", "ast"]);
    assert_eq!(
        text(&o).0,
        "kernel matmul(a: f32[M, K], b: f32[K, N]) -> (c: f32[M, N]) {\n    c[i, j] = sum(k) (a[i, k] * b[k, j]);\n}\n"
    );
    let o = pj(&["emit", "examples/blur.pj", "--locs"]);
    assert!(
        text(&o).0.contains("loc(\"examples/blur.pj\":3:5)"),
        "{}",
        text(&o).0
    );
}

#[test]
fn bench_reports_compile_time_run_statistics_and_traffic() {
    let o = pj(&[
        "bench",
        "examples/softmax.pj",
        "--size",
        "N=8,C=33",
        "--reps",
        "2",
        "--json",
        "--threads",
        "1",
    ]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(report["kernel"], "softmax");
    assert_eq!(report["sizes"], serde_json::json!([["N", 8], ["C", 33]]));
    // x in, y out: 2 * 8 * 33 f32
    assert_eq!(report["compulsory_bytes"], 2 * 8 * 33 * 4);
    assert!(report["runs"].as_u64().unwrap() >= 2);
    for field in ["median_ms", "min_ms", "max_ms", "gb_per_s"] {
        assert!(report[field].as_f64().is_some(), "{field} in {out}");
    }
    assert!(report["compile_ms"]["cranelift"].as_f64().is_some());
    let o = pj(&["bench", "examples/softmax.pj", "--size", "N=eight"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o)
            .1
            .contains("`N=eight`: `eight` is not a whole number"),
        "{}",
        text(&o).1
    );
}

/// `pj energy` and `pj explain` work on every example, and the model's
/// headline holds where it is a target: fused stencils and row reductions
/// move close to their compulsory DRAM traffic.
#[test]
fn energy_and_explain_work_on_every_example() {
    for &ex in common::EXAMPLES {
        let file = format!("examples/{ex}.pj");
        let o = pj(&["energy", &file, "--json"]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{ex}: {err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let opt = &v[0]["optimized"]["total"];
        assert!(opt["microjoules"].as_f64().unwrap() > 0.0, "{ex}: {out}");
        let ratio =
            opt["dram_bytes"].as_f64().unwrap() / v[0]["compulsory_bytes"].as_f64().unwrap();
        // every array crosses from memory at least once (the model's
        // conv2d once counted half: one tap's rows for a block of six)
        assert!(
            ratio >= 0.95,
            "{ex}: optimized DRAM traffic {ratio:.2}x compulsory, below it"
        );
        if ["blur", "unsharp", "softmax", "layernorm"].contains(&ex) {
            assert!(
                ratio <= 1.15,
                "{ex}: optimized DRAM traffic {ratio:.2}x compulsory"
            );
        }
        let o = pj(&["explain", &file, "--size", "H=64,W=64,N=64,C=64,M=64,K=64"]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{ex}: {err}");
        assert!(out.contains("whole kernel (estimated):"), "{ex}: {out}");
    }
    // energies in the unit that suits them: blur at 4096² takes
    // millijoules, at 64² microjoules
    let (out, _) = text(&pj(&["explain", "examples/blur.pj"]));
    let whole = |out: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix("whole kernel (estimated): "))
            .map(|l| l.split(',').next().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    assert!(
        out.contains("energy mJ") && whole(&out).ends_with(" mJ"),
        "{out}"
    );
    let (out, _) = text(&pj(&["explain", "examples/blur.pj", "--size", "H=64,W=64"]));
    assert!(
        out.contains("energy µJ") && whole(&out).ends_with(" µJ"),
        "{out}"
    );
    let (out, _) = text(&pj(&["explain", "examples/blur.pj"]));
    assert!(
        out.contains("stage `out`: tiles of rows, `bx` as a sliding window of 3 rows"),
        "{out}"
    );
    // `--backend` and `--threads` reach every alternative: explain's total
    // is `pj energy`'s for the same backend and threads, LLVM's differs
    // from Cranelift's, and two threads take less time than one
    let seconds = |command: &str, extra: &[&str]| -> f64 {
        let mut args = vec![command, "examples/blur.pj", "--json"];
        args.extend(extra);
        let (out, err) = text(&pj(&args));
        let v: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
        // `pj energy --json` lists one report per profile
        let total = if command == "explain" {
            &v["total"]
        } else {
            &v[0]["optimized"]["total"]
        };
        total["seconds"].as_f64().unwrap()
    };
    for extra in [
        &["--backend", "llvm"][..],
        &["--backend", "cranelift", "--threads", "2"],
        &["--backend", "llvm", "--threads", "2"],
    ] {
        assert_eq!(
            seconds("explain", extra),
            seconds("energy", extra),
            "{extra:?}"
        );
    }
    assert_ne!(
        seconds("explain", &["--backend", "llvm"]),
        seconds("explain", &[])
    );
    assert!(seconds("explain", &["--threads", "2"]) < 0.75 * seconds("explain", &[]));
    // a product followed by its ReLU is split from it and runs as a
    // product does; a product in cache blocks is stored, never computed
    // per tile of its reader (it would pack its operand again per tile)
    let (out, _) = text(&pj(&["explain", "bench/mlp_relu.pj"]));
    assert!(
        out.contains("stage `h_sum`: reduction over blocks of vectors")
            && out.contains("stage `h_sum`: cache blocks of")
            && !out.contains("computing `h_sum`"),
        "{out}"
    );
    let (out, _) = text(&pj(&["energy", "examples/softmax.pj", "--compare"]));
    for p in ["x86_64-avx512", "x86_64-avx2", "aarch64", "apple-m1"] {
        assert!(out.contains(p), "--compare lists {p}: {out}");
    }
    // each row says what bounds it and that level's rate: why one profile
    // is faster than another
    let (out, _) = text(&pj(&["energy", "examples/chain.pj", "--compare"]));
    let row = out
        .lines()
        .find(|l| l.trim_start().starts_with("x86_64-avx2"))
        .unwrap();
    assert!(row.ends_with("DRAM, 25 GB/s"), "{row}");
}

#[test]
fn a_bad_target_profile_is_a_clear_error() {
    let o = pj(&["energy", "examples/blur.pj", "--target", "no-such"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("no target profile `no-such`; built in:"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("mine.toml");
    std::fs::write(&bad, "name = \"x\"\n").unwrap();
    let o = pj(&[
        "energy",
        "examples/blur.pj",
        "--target",
        bad.to_str().unwrap(),
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("mine.toml") && err.contains("invalid"),
        "{err}"
    );
    assert_no_backtrace(&err);
    // sizes no machine can hold are refused, not estimated with overflowed arithmetic
    let o = pj(&[
        "energy",
        "examples/blur.pj",
        "--size",
        "H=1099511627776,W=1099511627776",
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("would exceed 2^48 bytes"), "{err}");
}

/// `-O0` lowers without optimizing; the results are the same bits.
#[test]
fn unoptimized_and_optimized_runs_agree_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let mut outs = Vec::new();
    for level in ["0", "2"] {
        let out = dir.path().join(format!("out{level}.npy"));
        let o = pj(&[
            "run",
            "examples/unsharp.pj",
            "-O",
            level,
            "--arg",
            "img=examples/data/unsharp/img.npy",
            "--arg",
            "amount=0.7",
            "--out",
            &format!("out={}", out.display()),
        ]);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(0), "-O{level}: {err}");
        outs.push(std::fs::read(&out).unwrap());
    }
    assert_eq!(outs[0], outs[1]);
    let o = pj(&["run", "examples/blur.pj", "-O", "7"]);
    assert_eq!(o.status.code(), Some(2), "-O7 is a usage error");
}

/// `--strict-fp` gives the interpreter's bits; the default reassociates
/// float sums and `--fast-math=contract` also fuses multiply-adds (both
/// close, not necessarily equal); asking for both is a usage error.
/// Results written past the caches (non-temporal stores, which the LLVM
/// backend uses for results many times the last-level cache; here forced
/// at every size) are the interpreter's, bit for bit.
#[cfg(feature = "llvm")]
#[test]
fn streamed_results_match_the_interpreter_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    // rows of 68 and 70 elements start at every alignment: the vector loop
    // over a streamed row starts at the first aligned element, after an
    // element loop (`aligned_stream_loops` in the LLVM lowering)
    let wide = |h: usize, w: usize| {
        let file = dir.path().join(format!("input-{h}x{w}.npy"));
        let data: Vec<f32> = (0..h * w)
            .map(|i| ((i * 7919) % 1009) as f32 / 37.0 - 13.0)
            .collect();
        write_f32_npy(&file, &[h, w], &data);
        format!("input={}", file.display())
    };
    let (valid, clamped) = (wide(37, 70), wide(19, 70));
    for (example, args, out) in [
        ("valid_blur", &[valid.as_str()][..], "out"),
        ("blur", &[clamped.as_str()][..], "out"),
        ("blur", &["input=examples/data/blur/input.npy"][..], "out"),
        (
            "valid_blur",
            &["input=examples/data/valid_blur/input.npy"][..],
            "out",
        ),
        (
            "chain",
            &["x=examples/data/chain/x.npy", "a=0.75", "b=-0.25"][..],
            "y",
        ),
    ] {
        let run = |backend: &str| {
            let file = dir.path().join(format!("{example}-{backend}.npy"));
            let mut c = Command::new(env!("CARGO_BIN_EXE_pj"));
            c.current_dir(common::root())
                .env("PJ_NONTEMPORAL_BYTES", "0")
                .args(["run", &format!("examples/{example}.pj"), "--strict-fp"])
                .args(["--backend", backend]);
            for a in args {
                c.args(["--arg", a]);
            }
            let spec = format!("{out}={}", file.display());
            let o = c.args(["--out", &spec]).output().unwrap();
            let (_, err) = text(&o);
            assert_eq!(o.status.code(), Some(0), "{example}, {backend}: {err}");
            std::fs::read(&file).unwrap()
        };
        assert_eq!(run("llvm"), run("interp"), "{example}");
    }
}

/// A little-endian `f32` `.npy` file (format 1.0) of `shape`.
fn write_f32_npy(path: &std::path::Path, shape: &[usize], data: &[f32]) {
    let dims: Vec<String> = shape.iter().map(|n| n.to_string()).collect();
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({},), }}",
        dims.join(", ")
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    for x in data {
        bytes.extend(x.to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn strict_fp_matches_the_interpreter_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str], file: &str| {
        let out = dir.path().join(file);
        let mut args = vec![
            "run",
            "examples/layernorm.pj",
            "--arg",
            "x=examples/data/layernorm/x.npy",
            "--arg",
            "gamma=examples/data/layernorm/gamma.npy",
            "--arg",
            "beta=examples/data/layernorm/beta.npy",
            "--arg",
            "eps=0.00001",
        ];
        args.extend_from_slice(extra);
        let spec = format!("y={}", out.display());
        args.extend_from_slice(&["--out", &spec]);
        let o = pj(&args);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(0), "{extra:?}: {err}");
        std::fs::read(&out).unwrap()
    };
    let strict = run(&["--strict-fp"], "strict.npy");
    let interp = run(&["--backend", "interp"], "interp.npy");
    // every native backend built reads the .npy files straight into buffers
    if cfg!(feature = "llvm") {
        assert_eq!(
            run(&["--strict-fp", "--backend", "llvm"], "llvm.npy"),
            interp
        );
    }
    run(&[], "fast.npy");
    run(&["--fast-math=contract"], "contract.npy");
    assert_eq!(strict, interp);
    let read = |f: &str| picojoule::npy::read(&dir.path().join(f)).unwrap();
    let i = read("interp.npy");
    common::assert_close(
        &read("fast.npy"),
        &i,
        1e-5,
        "layernorm, --fast-math=reassoc",
    );
    common::assert_close(
        &read("contract.npy"),
        &i,
        1e-5,
        "layernorm, --fast-math=contract",
    );
    // an object for a machine without FMA: told, not silently unfused
    let obj = dir.path().join("mm.o");
    let o = pj(&[
        "build",
        "examples/matmul.pj",
        "--target",
        "x86_64-unknown-linux-gnu",
        "--fast-math=contract",
        "-o",
        obj.to_str().unwrap(),
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("no fused multiply-add instructions"), "{err}");
    let o = pj(&[
        "run",
        "examples/blur.pj",
        "--strict-fp",
        "--fast-math",
        "reassoc",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn build_refuses_reserved_symbols_and_outputs_that_clobber() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("k.pj");
    std::fs::write(
        &src,
        "kernel memcpy(x: f32[N]) -> y: f32[N] { y[i] = x[i]; }\n\
         kernel k(x: f32[N]) -> y: f32[N] { y[i] = x[i]; }\n\
         kernel k_shape(x: f32[N]) -> y: f32[N] { y[i] = x[i]; }\n",
    )
    .unwrap();
    let s = src.to_str().unwrap();
    let obj = dir.path().join("k.o");
    let o = pj(&["build", s, "-o", obj.to_str().unwrap()]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("kernel `memcpy` cannot be compiled ahead of time"),
        "{err}"
    );
    assert!(
        err.contains("kernels `k` and `k_shape` both need the C symbol `k_shape`"),
        "{err}"
    );
    assert!(!obj.exists());
    // one kernel that is fine builds; -o naming the header or the source is refused
    let o = pj(&["build", s, "--kernel", "k", "-o", obj.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o).1);
    let before = std::fs::read(&src).unwrap();
    for bad in [dir.path().join("k.h"), src.clone()] {
        let o = pj(&["build", s, "--kernel", "k", "-o", bad.to_str().unwrap()]);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains("header") || err.contains("overwrite its input"),
            "{err}"
        );
    }
    assert_eq!(
        std::fs::read(&src).unwrap(),
        before,
        "the source is untouched"
    );
}

#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_pj_quietly() {
    use std::io::Read as _;
    // `pj passes` prints more than nothing; the reader closes at once
    let mut child = Command::new(env!("CARGO_BIN_EXE_pj"))
        .args(["explain", "examples/matmul.pj", "--json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!err.contains("internal compiler error"), "{err}");
    assert!(!err.contains("Broken pipe"), "{err}");
    assert_ne!(status.code(), Some(101), "{err}");
}

#[test]
fn bench_and_energy_refuse_sizes_they_cannot_honour() {
    let blur = "examples/blur.pj";
    for (args, want) in [
        (
            vec!["bench", blur, "--once", "--size", "H=1000000,W=1000000"],
            "cannot allocate 4000000000000 bytes",
        ),
        (
            vec!["bench", blur, "--once", "--size", "H=5,H=6"],
            "the size `H` is given twice",
        ),
    ] {
        let o = pj(&args);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_no_backtrace(&err);
    }
    // a name the kernel does not have is said, not silently ignored (one
    // list of sizes may serve several kernels: a warning)
    for args in [
        vec!["bench", blur, "--once", "--size", "H=8,W=8,Q=5"],
        vec!["energy", blur, "--size", "HH=5"],
    ] {
        let o = pj(&args);
        let (_, err) = text(&o);
        assert!(o.status.success(), "{args:?}: {err}");
        let want = "kernel `blur` has no size of that name (its sizes are H, W); ignored";
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn thread_counts_are_checked_not_aborted_on() {
    let args = [
        "run",
        "examples/blur.pj",
        "--arg",
        "input=examples/data/blur/input.npy",
    ];
    let run = |extra: &[&str], env: Option<(&str, &str)>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pj"));
        c.args(args)
            .args(extra)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if let Some((k, v)) = env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let o = run(&["--threads", "5000"], None);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--threads 5000 threads: a pool has 1 to 1024 threads"),
        "{err}"
    );
    for (extra, env) in [
        (&["--threads", "3"][..], None),
        (&[][..], Some(("PJ_THREADS", "0"))),
        (&[][..], Some(("PJ_THREADS", "lots"))),
        (&[][..], Some(("PJ_THREADS", "2"))),
    ] {
        let o = run(extra, env);
        assert!(o.status.success(), "{extra:?} {env:?}: {}", text(&o).1);
    }
}

/// `pj build --cpu`: an unknown processor is refused with the names the
/// architecture takes, Cranelift refuses a processor, and neither leaves a
/// file behind.
#[test]
fn build_cpu_names_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.o");
    let o = pj(&[
        "build",
        "examples/matmul.pj",
        "--backend",
        "llvm",
        "--cpu",
        "znver9",
        "-o",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("unknown processor `znver9` for x86_64") || err.contains("for aarch64"),
        "{err}"
    );
    assert!(err.contains("`--cpu` takes:"), "{err}");
    let o = pj(&[
        "build",
        "examples/matmul.pj",
        "--target",
        "aarch64-unknown-linux-gnu",
        "--cpu",
        "neoverse-v2",
        "-o",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("`--cpu` chooses a processor for LLVM"),
        "{err}"
    );
    assert!(!out.exists() && !out.with_extension("h").exists());
}

/// `--fast-math=contract` fuses multiply-adds where the target has them: a
/// bare x86_64 triple means the baseline (no FMA3), and says so, naming
/// the processor when `--cpu` chose one without; `--cpu znver4` has them
/// and builds without a word.
#[cfg(feature = "llvm")]
#[test]
fn contract_warns_only_for_processors_without_fused_multiply_adds() {
    let dir = tempfile::tempdir().unwrap();
    let build = |cpu: Option<&str>| {
        let out = dir.path().join("chain.o");
        let out = out.to_str().unwrap();
        let mut args = vec!["build", "examples/chain.pj", "--backend", "llvm"];
        args.extend(["--target", "x86_64-unknown-linux-gnu"]);
        args.extend(["--fast-math", "contract", "-o", out]);
        if let Some(c) = cpu {
            args.extend(["--cpu", c]);
        }
        let o = pj(&args);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(0), "{cpu:?}: {err}");
        err
    };
    let bare = build(None);
    assert!(
        bare.contains("`x86_64-unknown-linux-gnu` has no fused multiply-add instructions"),
        "{bare}"
    );
    let narrow = build(Some("x86-64-v2"));
    assert!(
        narrow.contains("with `--cpu x86-64-v2` has no fused multiply-add instructions"),
        "{narrow}"
    );
    let zen = build(Some("znver4"));
    assert!(!zen.contains("warning"), "{zen}");
}

/// `pj calibrate` prints each input's observed range beside its declared
/// one and each result's, warns when data breaks a declared `@range`, and
/// with `--write` puts the observed ranges into the source — replacing
/// the old `@range`, keeping every other annotation — whole or not at all.
#[test]
fn calibrate_measures_ranges_warns_of_broken_promises_and_writes_them() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("unsharp.pj");
    std::fs::copy(root().join("examples/unsharp.pj"), &src).unwrap();
    let data = root().join("examples/data/unsharp");
    let img = picojoule::npy::read(&data.join("img.npy")).unwrap();
    let (lo, hi) = img
        .data
        .iter()
        .map(|s| s.as_f64() as f32)
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), x| {
            (l.min(x), h.max(x))
        });
    let args = |write: bool| {
        let mut a = vec![
            "calibrate".to_string(),
            src.display().to_string(),
            "--arg".into(),
            format!("img={}", data.join("img.npy").display()),
            "--arg".into(),
            "amount=0.5".into(),
        ];
        if write {
            a.push("--write".into());
        }
        a
    };
    let run = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        pj(&a)
    };
    let o = run(args(false));
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(out.contains(&format!("observed [{lo}, {hi}]")), "{out}");
    assert!(out.contains("declared @range(0.0, 1.0)"), "{out}");
    assert!(out.contains("-> f32["), "a result's range: {out}");
    // the clamp to [0, 1] bounds the result, whatever the analysis loses
    assert!(out.contains("proven [0.0, 1.0"), "the proven range: {out}");
    assert!(!err.contains("warning"), "{err}");

    let o = run(args(true));
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let edited = std::fs::read_to_string(&src).unwrap();
    assert!(edited.contains(&format!("@range({lo}, {hi})")), "{edited}");
    assert!(!edited.contains("@range(0.0, 1.0)"), "{edited}");
    assert!(
        edited.contains("@boundary("),
        "other annotations stay: {edited}"
    );
    // the written file compiles, and its promise holds for the data
    let o = run(args(false));
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        out.contains(&format!("declared @range({lo}, {hi})")),
        "{out}"
    );
    assert!(!err.contains("warning"), "{err}");

    // a promise the data breaks is reported
    let narrow = edited.replace(&format!("@range({lo}, {hi})"), "@range(0.0, 0.25)");
    std::fs::write(&src, narrow).unwrap();
    let o = run(args(false));
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("lie outside its declared @range"), "{err}");

    // --write needs a source to edit
    let o = pj(&["calibrate", "kernel.pjir", "--write"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("--write edits a .pj source"), "{err}");
    assert_no_backtrace(&err);
}

/// `--quantize`: what each stage got is said on every command that
/// compiles; `pj energy` and `pj explain` estimate the quantized kernel
/// beside the float one; what is not implemented, or a `--tolerance`
/// without `--quantize`, is a usage error.
#[test]
fn quantize_says_what_it_chose_and_the_model_compares_it_with_float() {
    let dir = tempfile::tempdir().unwrap();
    let (x, w, out) = (
        dir.path().join("x.npy"),
        dir.path().join("w.npy"),
        dir.path().join("y.npy"),
    );
    let xs: Vec<f32> = (0..64)
        .map(|i| ((i * 37) % 64) as f32 / 32.0 - 1.0)
        .collect();
    let ws: Vec<f32> = (0..48)
        .map(|i| ((i * 11) % 48) as f32 / 48.0 - 0.5)
        .collect();
    write_f32_npy(&x, &[4, 16], &xs);
    write_f32_npy(&w, &[16, 3], &ws);
    for backend in ["interp", "cranelift"] {
        let o = pj(&[
            "run",
            "bench/dense.pj",
            "--arg",
            &format!("x={}", x.display()),
            "--arg",
            &format!("w={}", w.display()),
            "--out",
            &format!("y={}", out.display()),
            "--backend",
            backend,
            "--quantize",
            "int8",
        ]);
        let (_, err) = text(&o);
        assert!(o.status.success(), "{backend}: {err}");
        assert!(
            err.contains("quantize: stage `y` of `dense`: int8"),
            "{err}"
        );
        assert!(err.contains("proven within"), "{err}");
        assert!(out.exists());
    }
    // auto weighs its choice at the sizes the data binds, and says so
    let o = pj(&[
        "run",
        "examples/blur_u8.pj",
        "--arg",
        "input=examples/data/blur_u8/input.npy",
        "--out",
        &format!("out={}", dir.path().join("b.npy").display()),
        "--quantize",
        "auto",
    ]);
    let (_, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("stage `out` of `blur_u8`: int16")
            && err.contains("int16 estimated")
            && err.contains("µs without it (the energy model on this target)"),
        "{err}"
    );
    // `pj energy`/`pj explain` of `file` with `--quantize mode` at `sizes`
    let model = |cmd: &str, file: &str, mode: &str, sizes: &str| {
        let o = pj(&[cmd, file, "--quantize", mode, "--size", sizes]);
        let (s, err) = text(&o);
        (o.status.success(), s, err)
    };
    let (ok, s, err) = model("energy", "bench/dense.pj", "int8", "M=64,K=64,N=64");
    assert!(ok, "{err}");
    assert!(
        s.contains("quantized (--quantize") && s.contains("x less energy"),
        "{s}"
    );
    let (ok, s, err) = model("explain", "bench/dense.pj", "int8", "M=64,K=64,N=64");
    assert!(ok, "{err}");
    assert!(
        s.contains("quantization:") && s.contains("made by the quantize pass"),
        "{s}"
    );
    // `auto` keeps products no dot-product instruction takes in f32
    let conv = dir.path().join("conv.pj");
    std::fs::write(
        &conv,
        "kernel conv(img: f32[H, W] @range(0.0, 1.0), f: f32[R, S] @range(-1.0, 1.0)) -> out: f32[H - R + 1, W - S + 1] @tolerance(abs = 1.0) {\n    out[y, x] = sum(r, s) img[y + r, x + s] * f[r, s];\n}\n",
    )
    .unwrap();
    let conv = conv.display().to_string();
    let (ok, s, err) = model("explain", &conv, "auto", "H=16,W=16,R=3,S=3");
    assert!(ok, "{err}");
    assert!(s.contains("auto keeps it in f32"), "{s}");
    let (_, s, _) = model("explain", &conv, "int8", "H=16,W=16,R=3,S=3");
    assert!(
        s.contains("int8") && s.contains("expect it slower than f32"),
        "{s}"
    );
    // an example without ranges is left alone, and says what it needs
    let (_, s, _) = model("explain", "examples/matmul.pj", "int8", "M=8,K=8,N=8");
    assert!(s.contains("declare @range"), "{s}");
    // a schedule block's request, without --quantize: explain and run apply it
    let directed = dir.path().join("directed.pj");
    std::fs::write(
        &directed,
        common::read(&root().join("bench/unfused.pj")).replace(
            "t.compute_root();",
            "t.compute_root();\n        t.quantize(bf16);",
        ),
    )
    .unwrap();
    let directed = directed.display().to_string();
    for cmd in ["explain", "energy"] {
        let o = pj(&[cmd, &directed, "--size", "N=32"]);
        let (s, err) = text(&o);
        assert!(o.status.success(), "{err}");
        assert!(s.contains("stage `t` of `unfused`: bf16"), "{cmd}: {s}");
    }
    // binary16 storage: the ranges keep `t` below 65504, and its bound is
    // tighter than bfloat16's
    let (ok, s, err) = model("explain", "bench/unfused.pj", "f16", "N=32");
    assert!(ok, "{err}");
    assert!(
        s.contains("stage `t` of `unfused`: f16 — stored as binary16"),
        "{s}"
    );
    // the 8-bit blur written in f32: exact in 16-bit integers
    for mode in ["int16", "auto"] {
        let (ok, s, err) = model("explain", "examples/blur_u8.pj", mode, "H=64,W=64");
        assert!(ok, "{err}");
        assert!(
            s.contains("stage `out` of `blur_u8`: int16 — exact")
                && s.contains("high half of × 3641"),
            "{s}"
        );
    }
    for bad in [
        vec!["run", "bench/dense.pj", "--quantize", "f8"],
        vec!["run", "bench/dense.pj", "--tolerance", "abs=1"],
        vec![
            "run",
            "bench/dense.pj",
            "--quantize",
            "int8",
            "--tolerance",
            "abs=-1",
        ],
    ] {
        let o = pj(&bad);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {err}");
        assert_no_backtrace(&err);
    }
}

#[test]
fn sixteen_bit_float_arrays_travel_through_npy_files_and_the_c_header() {
    use pj_compiler::ir::ScalarType;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("h.pj");
    std::fs::write(
        &src,
        "kernel h(x: f16[N], b: bf16[N], a: f16) -> (y: f16[N], z: bf16[N]) {
            y[i] = x[i] * a;
            z[i] = b[i] + 1.0;
        }",
    )
    .unwrap();
    let src = src.to_str().unwrap();
    // NumPy's float16 is `<f2`; np.save writes ml_dtypes.bfloat16 as `<V2`
    let x: Vec<u16> = vec![0x3c00, 0x4000, 0xc200, 0x7bff, 0x0001];
    let b: Vec<u16> = vec![0x3f80, 0x4000, 0xc040, 0x7f7f, 0x0001];
    let tensor = common::half_tensor;
    let (xp, bp) = (dir.path().join("x.npy"), dir.path().join("b.npy"));
    picojoule::npy::write(&xp, &tensor(ScalarType::F16, &x)).unwrap();
    picojoule::npy::write(&bp, &tensor(ScalarType::Bf16, &b)).unwrap();
    let header = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap()[..64]).to_string();
    assert!(header(&xp).contains("'descr': '<f2'"), "{}", header(&xp));
    assert!(header(&bp).contains("'descr': '<V2'"), "{}", header(&bp));
    for backend in ["interp", "cranelift"] {
        let (yp, zp) = (dir.path().join("y.npy"), dir.path().join("z.npy"));
        let o = pj(&[
            "run",
            src,
            "--backend",
            backend,
            "--arg",
            &format!("x={}", xp.display()),
            "--arg",
            &format!("b={}", bp.display()),
            "--arg",
            "a=-2",
            "--out",
            &format!("y={}", yp.display()),
            "--out",
            &format!("z={}", zp.display()),
        ]);
        let (_, err) = text(&o);
        assert!(o.status.success(), "{backend}: {err}");
        let y = picojoule::npy::read(&yp).unwrap();
        let z = picojoule::npy::read(&zp).unwrap();
        // -2x, exactly: 1 → -2, 2 → -4, -3 → 6, 65504 → -inf, 2^-24 → -2^-23
        let want_y = [0xc000u16, 0xc400, 0x4600, 0xfc00, 0x8002];
        assert_eq!(y, tensor(ScalarType::F16, &want_y), "{backend}");
        // b + 1, rounded to bfloat16: 2, 3, -2, bf16's max, 1
        let want_z = [0x4000u16, 0x4040, 0xc000, 0x7f7f, 0x3f80];
        assert_eq!(z, tensor(ScalarType::Bf16, &want_z), "{backend}");
        assert!(header(&zp).contains("'descr': '<V2'"));
    }
    // calibrate reads and prints them as the values they are
    let o = pj(&[
        "calibrate",
        src,
        "--arg",
        &format!("x={}", xp.display()),
        "--arg",
        &format!("b={}", bp.display()),
        "--arg",
        "a=1.5",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        out.contains("observed [1.5, 1.5]") && out.contains("observed [-3.0, 65504.0]"),
        "{out}"
    );
    // the C header names the element codes and passes `a` as its bits
    let h = dir.path().join("h.h");
    let o = pj(&["build", src, "-o", dir.path().join("h.o").to_str().unwrap()]);
    let (_, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let header = std::fs::read_to_string(&h).unwrap();
    assert!(
        header.contains("PJ_F16") && header.contains("PJ_BF16") && header.contains("uint16_t a"),
        "{header}"
    );
}

#[test]
fn run_reads_and_writes_pictures_and_says_how_to_convert_a_wrong_dtype() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let shapes = root()
        .join("examples/data/shapes.png")
        .display()
        .to_string();
    for backend in ["interp", "cranelift"] {
        let out = path(&format!("blurred_{backend}.png"));
        let o = pj(&[
            "run",
            "examples/blur.pj",
            "--backend",
            backend,
            "--arg",
            &format!("input={shapes}"),
            "--out",
            &format!("out={out}"),
        ]);
        let (_, err) = text(&o);
        assert!(o.status.success(), "{backend}: {err}");
        let png = std::fs::read(&out).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{backend}");
    }
    // the same picture either way: the interpreter's and the native code's
    assert_eq!(
        std::fs::read(path("blurred_interp.png")).unwrap(),
        std::fs::read(path("blurred_cranelift.png")).unwrap()
    );
    // an extension pj does not write: refused before the kernel runs
    let tiff = path("out.tiff");
    let o = pj(&[
        "run",
        "examples/blur.pj",
        "--arg",
        &format!("input={shapes}"),
        "--out",
        &format!("out={tiff}"),
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("writes .npy files (the array) or .png files"),
        "{err}"
    );
    assert!(!Path::new(&tiff).exists());
    // an f64 array for an f32 parameter: what to do about it
    let f64_input = path("x64.npy");
    let t = pj_compiler::interp::Tensor::new(
        pj_compiler::ir::ScalarType::F64,
        vec![2, 2],
        vec![pj_compiler::dialects::arith::Scalar::F64(0.5); 4],
    );
    picojoule::npy::write(Path::new(&f64_input), &t).unwrap();
    for backend in ["interp", "cranelift"] {
        let o = pj(&[
            "run",
            "examples/blur.pj",
            "--backend",
            backend,
            "--arg",
            &format!("input={f64_input}"),
        ]);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains("holds f64 values") && err.contains(".astype(numpy.float32)"),
            "{err}"
        );
        assert_no_backtrace(&err);
    }
}

#[test]
fn bench_energy_and_explain_take_real_data_and_scalar_values() {
    // data: the picture's shape binds H and W
    let shapes = root()
        .join("examples/data/shapes.png")
        .display()
        .to_string();
    let o = pj(&[
        "bench",
        "examples/blur.pj",
        "--arg",
        &format!("input={shapes}"),
        "--reps",
        "1",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.starts_with("blur (H=128, W=128)"), "{out}");
    // the model's estimate beside the measurement, said to be one
    assert!(
        out.contains("  estimate   ") && out.contains("energy is never measured"),
        "{out}"
    );
    // a scalar given, and one left to its default, which says so
    let o = pj(&[
        "bench",
        "examples/chain.pj",
        "--size",
        "N=1000",
        "--arg",
        "a=1.5",
        "--reps",
        "1",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        out.contains("scalars    a=1.5, b=0.5 (default; --arg b=VALUE)"),
        "{out}"
    );
    // an integer scalar defaults to 1, not 0.5 truncated to 0
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("w.pj");
    std::fs::write(
        &src,
        "kernel w(x: f32[N], k: i32) -> y: f32[N] { y[i] = x[i] * f32(k); }",
    )
    .unwrap();
    let o = pj(&[
        "bench",
        src.to_str().unwrap(),
        "--size",
        "N=64",
        "--reps",
        "1",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("k=1 (default"), "{out}");
    // pj run says what the reading, the kernel and the writing cost
    let out = std::env::temp_dir().join(format!("pj_time_{}.npy", std::process::id()));
    let o = pj(&[
        "run",
        "examples/blur.pj",
        "--arg",
        &format!("input={shapes}"),
        "--out",
        &format!("out={}", out.display()),
        "--time-passes",
    ]);
    let (_, err) = text(&o);
    let _ = std::fs::remove_file(&out);
    assert!(o.status.success(), "{err}");
    for phase in ["read arguments", "run (the kernel)", "write results"] {
        assert!(err.contains(phase), "{phase}: {err}");
    }
    // the model at the data's sizes
    for cmd in ["explain", "energy"] {
        let o = pj(&[cmd, "examples/blur.pj", "--arg", &format!("input={shapes}")]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{cmd}: {err}");
        assert!(out.contains("at H=128, W=128"), "{cmd}: {out}");
    }
    // what is wrong with an argument, named
    for (arg, says) in [
        ("a=x", "`x` is not a valid f32"),
        ("nope=1", "has no parameter `nope`"),
    ] {
        let o = pj(&["bench", "examples/chain.pj", "--arg", arg]);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains(says), "{err}");
    }
}

#[test]
fn a_listing_labels_each_function_it_holds() {
    // the entry (which copies strided arrays), its body, the parallel
    // loop's body, the shape function: each under its own name
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("blur.s");
    let o = pj(&[
        "build",
        "examples/blur.pj",
        "--emit",
        "asm",
        "-o",
        out.to_str().unwrap(),
    ]);
    let (_, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let listing = std::fs::read_to_string(&out).unwrap();
    let labels: Vec<&str> = listing.lines().filter(|l| l.starts_with("; ")).collect();
    assert_eq!(
        labels,
        ["; blur", "; blur.body", "; blur.par1", "; blur.shape"],
        "{err}"
    );
}

fn pj_with_data(data: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pj"))
        .args(args)
        .current_dir(root())
        .env("PJ_DATA_DIR", data)
        .output()
        .expect("pj runs")
}

/// `pj calibrate` without a file measures this machine, prints what it
/// measured beside the class's constants, and keeps it where the host
/// profile finds it: the estimates then say they describe this machine.
/// A damaged file is ignored, never trusted; `--dry-run` keeps nothing.
#[test]
fn calibrate_measures_the_machine_and_the_host_profile_uses_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (before, _) = text(&pj_with_data(&data, &["energy", "examples/chain.pj"]));
    assert!(!before.contains("measured"), "{before}");

    let o = pj_with_data(&data, &["calibrate", "--dry-run"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    for row in [
        "clock",
        "L1 bandwidth",
        "DRAM bandwidth, 1 core",
        "last level (effective)",
        "bandwidth by working set (one core)",
        "measured",
    ] {
        assert!(out.contains(row), "{row}: {out}");
    }
    // with more than one core, the last level and the bandwidth of every
    // core together
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let all_cores_rows = [
        format!("last level, {cores} cores"),
        format!("bandwidth by working set ({cores} cores)"),
    ];
    for row in all_cores_rows.iter().filter(|_| cores > 1) {
        assert!(out.contains(row.as_str()), "{row}: {out}");
    }
    assert!(err.contains("measuring this machine"), "{err}");
    assert!(!data.exists(), "--dry-run wrote {}", data.display());

    let o = pj_with_data(&data, &["calibrate"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("stored in"), "{out}");
    let stored: Vec<_> = std::fs::read_dir(&data).unwrap().flatten().collect();
    assert_eq!(stored.len(), 1, "one file per machine, no temporary left");
    let file = stored[0].path();
    let toml = std::fs::read_to_string(&file).unwrap();
    assert!(
        toml.contains("identity = ") && toml.contains("dram_gbs = "),
        "{toml}"
    );
    assert_eq!(
        toml.contains("llc_bytes_all_cores = ") && toml.contains("curve_all_cores = "),
        cores > 1,
        "{toml}"
    );

    let (after, _) = text(&pj_with_data(&data, &["energy", "examples/chain.pj"]));
    assert!(after.contains("measured by `pj calibrate`"), "{after}");
    let (bench, _) = text(&pj_with_data(
        &data,
        &[
            "bench",
            "examples/chain.pj",
            "--size",
            "N=4096",
            "--reps",
            "1",
            "--threads",
            "1",
        ],
    ));
    assert!(bench.contains("as `pj calibrate` measured it"), "{bench}");

    // a damaged file: the class's constants again, and no crash
    std::fs::write(&file, "identity = 3\n[[").unwrap();
    let o = pj_with_data(&data, &["energy", "examples/chain.pj"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(!out.contains("measured by"), "{out}");

    // where the data directory cannot be: a clear error, nothing replaced
    let blocked = dir.path().join("a-file");
    std::fs::write(&blocked, "keep").unwrap();
    let o = pj_with_data(&blocked, &["calibrate"]);
    let (_, err) = text(&o);
    assert!(
        !o.status.success() && err.contains("cannot create"),
        "{err}"
    );
    assert_no_backtrace(&err);
    assert_eq!(std::fs::read_to_string(&blocked).unwrap(), "keep");

    // the kernel-range flags need a file, --dry-run needs none
    let (_, err) = text(&pj(&["calibrate", "--write"]));
    assert!(err.contains("give its file"), "{err}");
    let (_, err) = text(&pj(&["calibrate", "examples/chain.pj", "--dry-run"]));
    assert!(err.contains("--dry-run belongs to"), "{err}");
}

/// `pj energy --threads` and `--backend`: a parallel nest's time divides
/// by the threads, its energy does not; a recurrence (serial) keeps its
/// time; LLVM's wider vectors issue fewer instructions.
#[test]
fn energy_estimates_threads_and_backends() {
    // `pj energy --json` on the x86_64-avx512 profile: the report, and
    // its optimized total
    let report = |args: &[&str]| -> serde_json::Value {
        let mut a = vec!["energy", "--json", "--target", "x86_64-avx512"];
        a.extend_from_slice(args);
        let (out, err) = text(&pj(&a));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{err}"));
        v[0].clone()
    };
    let total = |args: &[&str]| report(args)["optimized"]["total"].clone();
    let one = total(&["examples/chain.pj", "--size", "N=16777216"]);
    let two = total(&[
        "examples/chain.pj",
        "--size",
        "N=16777216",
        "--threads",
        "2",
    ]);
    let (t1, t2) = (
        one["seconds"].as_f64().unwrap(),
        two["seconds"].as_f64().unwrap(),
    );
    assert!(t2 < 0.75 * t1 && t2 >= 0.45 * t1, "{t1} -> {t2}");
    assert_eq!(one["microjoules"], two["microjoules"]);
    let dir = tempfile::tempdir().unwrap();
    // a kernel of its own, written to a file: its path
    let kernel_file = |name: &str, src: &str| -> String {
        let path = dir.path().join(format!("{name}.pj"));
        std::fs::write(&path, src).unwrap();
        path.to_str().unwrap().to_string()
    };
    let scan = kernel_file(
        "scan",
        "kernel scan(x: f32[N]) -> y: f32[N] {\n    y[i] = y[i - 1] + x[i] init 0.0;\n}\n",
    );
    let serial = |t: &str| {
        total(&[&scan, "--size", "N=1000000", "--threads", t])["seconds"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(serial("1"), serial("2"));
    let cl = total(&["examples/gelu.pj"]);
    let llvm = total(&["examples/gelu.pj", "--backend", "llvm"]);
    assert!(
        llvm["instructions"].as_f64().unwrap() < 0.5 * cl["instructions"].as_f64().unwrap(),
        "{cl} {llvm}"
    );
    // each nest names the source lines it computes: unsharp's three
    // stages fused into one nest
    let (out, _) = text(&pj(&[
        "energy",
        "examples/unsharp.pj",
        "--size",
        "H=64,W=64",
    ]));
    let nest = out
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("bx, out"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(nest.ends_with(" 4-6"), "{nest}");
    // divisions wait on the divider: eight per element, in 128-bit
    // vectors, at the profile's 3 cycles each, bound the time from below
    let div_file = kernel_file(
        "div",
        "kernel div(x: f32[N] @range(0.0, 1.0)) -> y: f32[N] {\n    y[i] = x[i] / (x[i] + 1.0) / (x[i] + 2.0) / (x[i] + 3.0) / (x[i] + 4.0) / (x[i] + 5.0) / (x[i] + 6.0) / (x[i] + 7.0) / (x[i] + 8.0);\n}\n",
    );
    let div = total(&[&div_file, "--size", "N=1048576"]);
    let vectors = div["divider_vectors"].as_f64().unwrap();
    assert!((vectors - 8.0 * 1048576.0 / 4.0).abs() < 64.0, "{div}");
    let ghz = 2.6; // the x86_64-avx512 profile's
    assert!(
        div["seconds"].as_f64().unwrap() >= vectors * 3.0 / (ghz * 1e9),
        "{div}"
    );
    // integers divide lane by lane, a 64-bit division a whole divider's
    // turn with Cranelift; LLVM on x86 takes the 32-bit instruction when
    // the operands fit (its slow-division bypass); a constant divisor is
    // a multiply
    let idiv = kernel_file(
        "idiv",
        "kernel idiv(x: i64[N], d: i64) -> (y: i64[N], z: i64[N]) {\n    y[i] = x[i] / d;\n    z[i] = x[i] / 7;\n}\n",
    );
    let divisions = |backend: &str| {
        total(&[&idiv, "--size", "N=4096", "--backend", backend])["int_divisions"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(divisions("cranelift"), 4096.0);
    assert!((divisions("llvm") - 0.6 * 4096.0).abs() < 1e-6);
    // a scalar sum adds one term after another: conv2d four columns wide
    // is all edge columns, each a sum of 25 taps in the reference order,
    // at least 3 cycles a tap at the profile's 2.6 GHz
    let edges = total(&["examples/conv2d.pj", "--size", "H=4096,W=4,R=5,S=5"]);
    let floor = 4096.0 * 4.0 * 25.0 * 3.0 / 2.6e9;
    assert!(
        edges["seconds"].as_f64().unwrap() >= floor,
        "{edges} {floor}"
    );
    // a kernel whose buffers fit in the last level together (3.75 MiB on
    // this profile) is priced, on a repeated call, from there; one larger
    // finds the last level's share of them there; the DRAM column stays a
    // first call's traffic
    let scale = kernel_file(
        "scale",
        "kernel scale(x: f32[N]) -> y: f32[N] {\n    y[i] = x[i] * 2.0;\n}\n",
    );
    let at = |n: u64| report(&[&scale, "--size", &format!("N={n}")]);
    let small = at(262_144); // 2 MiB of buffers
    let larger = at(4 * 262_144); // 8 MiB
    let large = at(64 * 262_144); // 128 MiB
    assert_eq!(small["footprint_bytes"], 2.0 * 1048576.0, "{small}");
    let total_of = |r: &serde_json::Value| r["optimized"]["total"].clone();
    let (s, m, l) = (total_of(&small), total_of(&larger), total_of(&large));
    assert_eq!(s["llc_retained"], 1.0, "{s}");
    assert_eq!(s["bound"], "LLC", "{s}");
    let llc = 3932160.0;
    let share = |t: &serde_json::Value| t["llc_retained"].as_f64().unwrap();
    assert!((share(&m) - llc / (8.0 * 1048576.0)).abs() < 1e-9, "{m}");
    assert!((share(&l) - llc / (128.0 * 1048576.0)).abs() < 1e-9, "{l}");
    assert_eq!(l["bound"], "DRAM", "{l}");
    assert!(s["dram_bytes"].as_f64().unwrap() >= 2.0 * 1048576.0, "{s}");
    // the last level at 30 GB/s against DRAM at 15: per byte, the small
    // one is more than twice as fast as the large one, the one between
    // in between
    let per_byte =
        |t: &serde_json::Value| t["seconds"].as_f64().unwrap() / t["dram_bytes"].as_f64().unwrap();
    assert!(per_byte(&s) < 0.6 * per_byte(&l), "{s} {l}");
    assert!(
        per_byte(&s) < per_byte(&m) && per_byte(&m) < per_byte(&l),
        "{m}"
    );
    // LLVM writes the large result past the caches: only the input is
    // held, and the result moves to DRAM on every call
    let streamed = report(&[&scale, "--size", "N=16777216", "--backend", "llvm"]);
    assert_eq!(streamed["footprint_bytes"], 64.0 * 1048576.0, "{streamed}");
    let t = total_of(&streamed);
    let result = 64.0 * 1048576.0;
    assert!(
        (t["streamed_bytes"].as_f64().unwrap() - result).abs() <= 64.0,
        "{t}"
    );
    let (out, _) = text(&pj(&[
        "energy",
        "--target",
        "x86_64-avx512",
        &scale,
        "--size",
        "N=262144",
    ]));
    assert!(
        out.contains("fit in the last level's 3.9 MB: times and energies are of a repeated call"),
        "{out}"
    );
    let (_, err) = text(&pj(&["energy", "examples/gelu.pj", "--backend", "interp"]));
    assert!(err.contains("no code to estimate"), "{err}");
    let (_, err) = text(&pj(&["energy", "examples/gelu.pj", "--threads", "0"]));
    assert!(err.contains("at least 1"), "{err}");
}

/// The plots: `pj explain --plot` (the alternatives as bars), `pj energy
/// --plot` (energy by where it goes), `pj bench --roofline --plot` (the
/// kernel on the roofline) — SVG files of a sensible size whose labels
/// are there; a file that is not `.svg`, or a directory, is refused
/// before any work, and nothing is left behind.
#[test]
fn plots_are_svg_pictures_with_their_labels() {
    let dir = tempfile::tempdir().unwrap();
    let svg = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let read = |path: &str| -> String {
        let s = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(
            s.starts_with("<svg") && s.trim_end().ends_with("</svg>"),
            "{s}"
        );
        assert!(s.len() > 2_000 && s.len() < 200_000, "{} bytes", s.len());
        s
    };

    let path = svg("explain.svg");
    let o = pj(&[
        "explain",
        "examples/unsharp.pj",
        "--size",
        "H=512,W=512",
        "--plot",
        &path,
    ]);
    assert!(o.status.success(), "{}", text(&o).1);
    let s = read(&path);
    for label in [
        "unsharp: the schedule",
        "energy (",
        "time (ms)",
        "DRAM (MB)",
        "a sliding window",
        "every stage stored whole",
    ] {
        assert!(s.contains(label), "{label}");
    }
    // one bar per alternative and metric, the chosen one in its colour
    assert!(s.matches("<rect").count() >= 3 * 5, "{s}");
    assert!(s.contains("#1F77B4"), "{s}");

    let path = svg("energy.svg");
    let o = pj(&[
        "energy",
        "examples/blur.pj",
        "--size",
        "H=256,W=256",
        "--plot",
        &path,
    ]);
    assert!(o.status.success(), "{}", text(&o).1);
    let s = read(&path);
    for label in [
        "estimated energy by where it goes",
        "-O0",
        "optimized",
        "instruction issue",
        "DRAM",
        "last level",
    ] {
        assert!(s.contains(label), "{label}");
    }

    let path = svg("roofline.svg");
    let o = pj(&[
        "bench",
        "examples/chain.pj",
        "--size",
        "N=65536",
        "--reps",
        "1",
        "--roofline",
        "--plot",
        &path,
    ]);
    assert!(o.status.success(), "{}", text(&o).1);
    let s = read(&path);
    for label in [
        "of this machine",
        "operations per byte",
        "roofline: memory",
        "chain (measured)",
    ] {
        assert!(s.contains(label), "{label}");
    }
    assert!(s.contains("<circle"), "the kernel's point");

    let (_, err) = text(&pj(&[
        "energy",
        "examples/blur.pj",
        "--plot",
        &svg("e.png"),
    ]));
    assert!(err.contains("name a `.svg` file"), "{err}");
    assert!(!dir.path().join("e.png").exists());
    let sub = dir.path().join("d.svg");
    std::fs::create_dir(&sub).unwrap();
    let (_, err) = text(&pj(&[
        "explain",
        "examples/blur.pj",
        "--plot",
        sub.to_str().unwrap(),
    ]));
    assert!(err.contains("is a directory"), "{err}");
    let (_, err) = text(&pj(&[
        "bench",
        "examples/chain.pj",
        "--plot",
        &svg("r.svg"),
    ]));
    assert!(err.contains("--roofline"), "{err}");
    let (_, err) = text(&pj(&[
        "energy",
        "examples/blur.pj",
        "--compare",
        "--plot",
        &svg("c.svg"),
    ]));
    assert!(err.contains("one profile"), "{err}");
    assert!(!dir.path().join("c.svg").exists());
}

/// `pj build --emit asm --hot`: only the innermost loops of each
/// function, each under its function's name with the source lines it
/// computes (a fused stage's too); every backend; `--hot` needs a listing.
#[test]
fn hot_listings_show_the_innermost_loops_with_their_source_lines() {
    let dir = tempfile::tempdir().unwrap();
    for backend in common::backends() {
        let full = dir.path().join(format!("full-{}.s", backend.name()));
        let hot = dir.path().join(format!("hot-{}.s", backend.name()));
        for (out, extra) in [(&full, None), (&hot, Some("--hot"))] {
            let mut args = vec![
                "build",
                "examples/chain.pj",
                "--emit",
                "asm",
                "--backend",
                backend.name(),
                "-o",
            ];
            args.push(out.to_str().unwrap());
            args.extend(extra);
            let o = pj(&args);
            assert!(o.status.success(), "{}", text(&o).1);
        }
        let (full, hot) = (
            std::fs::read_to_string(&full).unwrap(),
            std::fs::read_to_string(&hot).unwrap(),
        );
        assert!(
            hot.len() < full.len(),
            "{backend:?}: the hot part is a part"
        );
        assert!(hot.contains(": innermost loop 1 of "), "{hot}");
        assert!(hot.contains(".par1: innermost loop"), "{hot}");
        assert!(
            hot.contains("examples/chain.pj:5: y[i] = t[i] * t[i];"),
            "{hot}"
        );
        assert!(
            hot.contains("examples/chain.pj:4: t[i] = max(scale * x[i] + b, 0.0);"),
            "{hot}"
        );
        // every line of a loop comes from the listing
        for line in hot.lines().filter(|l| !l.starts_with(';') && !l.is_empty()) {
            assert!(full.contains(line), "{line}");
        }
    }
    let (_, err) = text(&pj(&["build", "examples/chain.pj", "--hot", "-o", "x.o"]));
    assert!(err.contains("use it with `--emit asm`"), "{err}");
}

/// On a terminal a command that runs for more than two seconds shows where
/// it is, on one line rewritten in place and erased at the end; through a
/// pipe (every other test here) nothing of it appears.
#[cfg(unix)]
#[test]
fn long_commands_show_progress_on_a_terminal_only() {
    use expectrl::Session;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pj"));
    // shown at once here (two seconds by default: the machine's speed
    // would decide whether the test sees it)
    cmd.args(["difftest", "--count", "5"])
        .current_dir(root())
        .env("PJ_PROGRESS_AFTER_MS", "0");
    let mut p = Session::spawn(cmd).unwrap();
    p.set_expect_timeout(Some(std::time::Duration::from_secs(300)));
    p.expect("difftest: ").unwrap();
    p.expect(" of 5 programs (").unwrap();
    p.expect("5 programs from seed 0").unwrap();
    let piped = Command::new(env!("CARGO_BIN_EXE_pj"))
        .args(["difftest", "--count", "5"])
        .current_dir(root())
        .env("PJ_PROGRESS_AFTER_MS", "0")
        .output()
        .unwrap();
    let (out, err) = text(&piped);
    assert!(
        !out.contains('\r') && !err.contains('\r') && !err.contains("difftest: "),
        "{err}"
    );
}

/// A person's first estimate on an unmeasured machine measures it (at a
/// terminal only: a pipe or CI may be a busy machine whose figures would
/// be kept), says so, and keeps the result; PJ_NO_CALIBRATE skips it.
#[cfg(unix)]
#[test]
fn the_first_estimate_at_a_terminal_measures_the_machine() {
    use expectrl::Session;
    let data = tempfile::tempdir().unwrap();
    let spawn = |skip: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pj"));
        cmd.args(["energy", "examples/chain.pj", "--size", "N=4096"])
            .current_dir(root())
            .env("PJ_DATA_DIR", data.path());
        if skip {
            cmd.env("PJ_NO_CALIBRATE", "1");
        }
        let mut p = Session::spawn(cmd).unwrap();
        p.set_expect_timeout(Some(std::time::Duration::from_secs(300)));
        p
    };
    let mut p = spawn(true);
    p.expect("energy model: `chain`").unwrap();
    p.expect(expectrl::Eof).unwrap();
    assert_eq!(std::fs::read_dir(data.path()).unwrap().count(), 0);
    let mut p = spawn(false);
    p.expect("measuring it once").unwrap();
    p.expect("kept in").unwrap();
    p.expect("measured by `pj calibrate`").unwrap();
    p.expect(expectrl::Eof).unwrap();
    assert_eq!(std::fs::read_dir(data.path()).unwrap().count(), 1);
    // and not again
    let mut p = spawn(false);
    let out = p.expect(expectrl::Eof).unwrap();
    assert!(!String::from_utf8_lossy(out.before()).contains("measuring it once"));
}

/// x86 without VNNI (this machine taken as one,
/// `PJ_HOST_DOT_PRODUCTS=pairs16`): int8 matrix products go through
/// `pmaddubsw`/`pmaddwd` with rows of 7 bits, clamped below 128 in the
/// quantized copy so its pairs never saturate — bit for bit the
/// interpreter's results on every backend, rows never negative or centered
/// by a zero point, and on data beyond the declared ranges too.
#[test]
fn int8_products_without_vnni_use_pmaddubsw_and_match_the_interpreter() {
    #[cfg(target_arch = "x86_64")]
    if !std::arch::is_x86_feature_detected!("ssse3") {
        return;
    }
    if !cfg!(target_arch = "x86_64") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // the data (in [-2.6, 2.9]) reach beyond the declared ranges: the
    // promise broken on purpose, the clamps then at work
    for (name, range) in [("signed", "(-0.5, 0.5)"), ("unsigned", "(0.0, 0.5)")] {
        let file = dir.path().join(format!("{name}.pj"));
        std::fs::write(
            &file,
            format!(
                "kernel mm(a: f32[M, K] @range{range}, b: f32[K, N] @range(-1.0, 1.0)) -> c: f32[M, N] @tolerance(abs = 100) {{\n    c[i, j] = sum(k) a[i, k] * b[k, j];\n}}\n"
            ),
        )
        .unwrap();
        let file = file.to_str().unwrap();
        let run = |backend: &str| {
            let out = dir.path().join(format!("{name}_{backend}.npy"));
            let o = Command::new(env!("CARGO_BIN_EXE_pj"))
                .args(["run", file, "--backend", backend, "--quantize", "int8"])
                .args(["--arg", "a=examples/data/matmul/a.npy"])
                .args(["--arg", "b=examples/data/matmul/b.npy"])
                .args(["--out", &format!("c={}", out.display())])
                .env("PJ_HOST_DOT_PRODUCTS", "pairs16")
                .current_dir(root())
                .output()
                .unwrap();
            let (_, err) = text(&o);
            assert!(o.status.success(), "{name} {backend}: {err}");
            std::fs::read(out).unwrap()
        };
        let want = run("interp");
        for b in common::backends() {
            assert_eq!(run(b.name()), want, "{name}: {}", b.name());
            let asm = dir.path().join(format!("{name}_{}.s", b.name()));
            let o = Command::new(env!("CARGO_BIN_EXE_pj"))
                .args(["build", file, "--backend", b.name(), "--quantize", "int8"])
                .args(["--target", "host"])
                .args(["--emit", "asm", "-o", asm.to_str().unwrap()])
                .env("PJ_HOST_DOT_PRODUCTS", "pairs16")
                .current_dir(root())
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", text(&o).1);
            let asm = std::fs::read_to_string(asm).unwrap();
            // (the pairs' sum by `pmaddwd`, which LLVM fuses with the add
            // into `vpdpwssd` where, as here, the machine has VNNI's words)
            assert!(
                asm.contains("pmaddubsw") && !asm.contains("vpdpbusd"),
                "{name}, {}: no pmaddubsw pairs",
                b.name()
            );
        }
    }
}
