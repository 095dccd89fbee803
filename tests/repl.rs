//! `pj repl`: scripted sessions (tests/repl/*.pjs, run with `--script` in a
//! scratch directory holding the examples; a snapshot of what they print,
//! with timings and temporary paths masked), the same script through stdin,
//! and the interactive mode through a pseudo-terminal (multi-line input,
//! completion, Ctrl-C at the prompt and during a kernel, history).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

/// A scratch directory with the examples' sources and the tutorial image.
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = common::root();
    for e in std::fs::read_dir(root.join("examples")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "pj") {
            std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
        }
    }
    std::fs::copy(
        root.join("examples/data/shapes.png"),
        dir.path().join("shapes.png"),
    )
    .unwrap();
    dir
}

/// Timings and the scratch directory vary from run to run.
fn mask(text: &str, dir: &Path) -> String {
    let mut out = String::new();
    for line in text.replace(&dir.display().to_string(), "<dir>").lines() {
        let masked = if line.starts_with("compile  ") {
            "compile  <ms> (<phases>)".to_string()
        } else if line.starts_with("run      median") {
            let backend = line.rsplit('(').next().unwrap_or("");
            format!("run      median <ms> ... ({backend}")
        } else {
            line.to_string()
        };
        out.push_str(&masked);
        out.push('\n');
    }
    out
}

/// `pj repl --script path` run in `dir`, without colours; the script is
/// copied there first, so that messages name it as `file.pjs:LINE`
/// wherever the repository is.
fn script_output(path: &Path, dir: &Path) -> std::process::Output {
    let name = path.file_name().unwrap();
    if path.parent() != Some(dir) {
        std::fs::copy(path, dir.join(name)).unwrap();
    }
    Command::new(env!("CARGO_BIN_EXE_pj"))
        .args(["repl", "--script"])
        .arg(name)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn run_script(path: &Path, dir: &Path) -> (bool, String) {
    let out = script_output(path, dir);
    let text = format!(
        "{}--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), mask(&text, dir))
}

#[test]
fn scripted_sessions() {
    insta::glob!("repl/*.pjs", |path| {
        let dir = scratch();
        let (ok, text) = run_script(path, dir.path());
        let name = path.file_stem().unwrap().to_str().unwrap();
        // the exit status says whether every statement succeeded
        assert_eq!(ok, name != "errors", "{name}:\n{text}");
        insta::assert_snapshot!(text);
        if name == "tutorial" {
            // what :save wrote: a PNG of the blur, the exact sharpened array
            let png = picojoule::image_io::read(&dir.path().join("soft.png")).unwrap();
            let npy = picojoule::npy::read(&dir.path().join("crisp.npy")).unwrap();
            assert_eq!(png.shape, vec![128, 128]);
            assert_eq!(npy.shape, vec![128, 128]);
            let img = picojoule::image_io::read(&dir.path().join("shapes.png")).unwrap();
            let m = common::compile(
                "blur.pj",
                &std::fs::read_to_string(dir.path().join("blur.pj")).unwrap(),
            );
            let want =
                pj_compiler::interp::run(&m, "blur", &[pj_compiler::interp::Value::Array(img)])
                    .unwrap();
            for (p, w) in png.data.iter().zip(&want[0].data) {
                assert!((p.as_f64() - w.as_f64()).abs() <= 0.5 / 255.0 + 1e-6);
            }
        }
        if name == "errors" {
            // a refused :save leaves no file behind
            assert!(!dir.path().join("a.png").exists());
        }
    });
}

/// `:asm` for this machine and for another target (a triple, or a
/// built-in profile's machine); `:energy` on another target's profile.
#[test]
fn machine_code_and_models_for_other_targets() {
    let dir = scratch();
    let script = dir.path().join("asm.pjs");
    std::fs::write(
        &script,
        ":load chain.pj\n:asm chain --target aarch64-unknown-linux-gnu\n:target apple-m1\n:asm chain\n:target x86_64-unknown-linux-gnu\n:asm chain\nchain(arange(f32, 8), 0.5, 1)\n:energy chain\n",
    )
    .unwrap();
    let (ok, text) = run_script(&script, dir.path());
    assert!(ok, "{text}");
    let sections: Vec<&str> = text.split("; chain\n").collect();
    // aarch64 (twice: by triple, by profile) returns with `ret`, x86_64 with `retq`
    assert!(text.matches("; chain.shape").count() == 3, "{text}");
    assert!(
        sections.iter().filter(|s| s.contains("  ret\n")).count() >= 2,
        "{text}"
    );
    assert!(text.contains("retq"), "{text}");
    assert!(text.contains("profile: x86_64-avx2"), "{text}");
}

/// `pj repl < script` behaves as `--script` (its input named `<stdin>`).
#[test]
fn stdin_is_a_script() {
    let dir = scratch();
    let script = common::root().join("tests/repl/session.pjs");
    let out = Command::new(env!("CARGO_BIN_EXE_pj"))
        .arg("repl")
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::from(std::fs::File::open(&script).unwrap()))
        .output()
        .unwrap();
    assert!(out.status.success());
    let (_, expected) = run_script(&script, dir.path());
    let got = mask(
        &format!(
            "{}--- stderr ---\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        dir.path(),
    );
    // the same, but that the kernels' source is named `<stdin>`
    assert_eq!(got, expected.replace("(session.pjs)", "(<stdin>)"));
}

/// The terminal: prompts, a kernel typed over several lines with the
/// continuation prompt, Tab completion of a built-in and of a kernel,
/// Ctrl-C dropping a half-typed line, Ctrl-C stopping a long kernel call
/// between parallel chunks and in the interpreter (the session lives on),
/// history kept in the
/// data directory across sessions, Ctrl-D leaving.
#[cfg(unix)]
#[test]
fn the_terminal_session() {
    use expectrl::{ControlCode, Eof};
    use std::time::Duration;
    let dir = scratch();
    let data = tempfile::tempdir().unwrap();
    let start = || terminal(dir.path(), data.path(), "xterm");
    let mut p = start();
    p.expect("pj> ").unwrap();
    p.send_line("kernel twice(x: f32[N]) -> y: f32[N] {")
        .unwrap();
    p.expect("... ").unwrap();
    p.send_line("    y[i] = x[i] * 2.0;").unwrap();
    p.expect("... ").unwrap();
    p.send_line("}").unwrap();
    p.expect("defined twice(x: f32[N]) -> y").unwrap();
    p.expect("pj> ").unwrap();
    // Tab completes the built-in `arange`
    p.send("let v = ara").unwrap();
    p.send("\t").unwrap();
    p.send_line("(f32, 5)").unwrap();
    p.expect("v: f32[5]").unwrap();
    p.expect("pj> ").unwrap();
    // ... and the kernel's name
    p.send("twi").unwrap();
    p.send("\t").unwrap();
    p.send_line("(v)").unwrap();
    p.expect("y: f32[5]").unwrap();
    p.expect("[0. 2. 4. 6. 8.]").unwrap();
    p.expect("pj> ").unwrap();
    // Ctrl-C drops a half-typed line
    p.send("let lost = twice(").unwrap();
    p.send(ControlCode::EndOfText).unwrap();
    p.expect("pj> ").unwrap();
    p.send_line(":vars").unwrap();
    p.expect("v: f32[5]").unwrap();
    p.expect("pj> ").unwrap();
    // Ctrl-C during a long call: the kernel stops between chunks
    p.send_line(":load matmul.pj").unwrap();
    p.expect("defined matmul").unwrap();
    p.send_line(":threads 1").unwrap();
    p.expect("threads: 1").unwrap();
    p.send_line("let big = rand(f32, 2500, 2500)").unwrap();
    p.expect("big: f32[2500, 2500]").unwrap();
    p.expect("pj> ").unwrap();
    p.send_line("let slow = matmul(big, big)").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    p.send(ControlCode::EndOfText).unwrap();
    p.expect("interrupted").unwrap();
    p.expect("pj> ").unwrap();
    // the interpreter stops too
    p.send_line(":backend interp").unwrap();
    p.expect("backend: interp").unwrap();
    p.send_line("let slow = matmul(big, big)").unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    p.send(ControlCode::EndOfText).unwrap();
    p.expect("the interpreter stopped").unwrap();
    p.send_line(":backend cranelift").unwrap();
    p.expect("backend: cranelift").unwrap();
    // the session keeps its state
    p.send_line("twice(v)").unwrap();
    p.expect("[0. 2. 4. 6. 8.]").unwrap();
    p.expect("pj> ").unwrap();
    p.send(ControlCode::EndOfTransmission).unwrap();
    p.expect(Eof).unwrap();
    // history survives into the next session
    let history = std::fs::read_to_string(data.path().join("picojoule/repl-history.txt"))
        .expect("history file in the data directory");
    assert!(history.contains("kernel twice"), "{history}");
    let mut p = start();
    p.expect("pj> ").unwrap();
    // Up arrow recalls the last line of the previous session
    p.send("\x1b[A").unwrap();
    p.send_line("").unwrap();
    p.expect("no kernel `twice`").unwrap();
    // at the prompt: rustyline flushes input typed before it takes the
    // terminal, so a Ctrl-D sent earlier can be lost on a busy machine
    p.expect("pj> ").unwrap();
    p.send(ControlCode::EndOfTransmission).unwrap();
    p.expect(Eof).unwrap();
}

/// `:backend llvm` runs calls with LLVM's code and gives Cranelift's
/// bits in the reference order; `:fast-math` is a setting of calls like
/// `:opt`; a build without LLVM says how to get it.
#[test]
fn backends_and_fast_math_at_the_prompt() {
    let dir = scratch();
    let script = dir.path().join("backends.pjs");
    std::fs::write(
        &script,
        "kernel dot(x: f32[N], y: f32[N]) -> s: f32[1] {\n    s[z] = sum(i) (x[i] * y[i] + 0.5);\n}\n\
         let v = arange(f32, 1000)\n\
         :fast-math contract\n\
         let c = dot(v, v)\n\
         :fast-math off\n\
         let d = dot(v, v)\n\
         :save d cranelift.npy\n\
         :backend llvm\n\
         let e = dot(v, v)\n\
         :save e llvm.npy\n",
    )
    .unwrap();
    let out = script_output(&script, dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("fast-math: contract"), "{stdout}");
    assert!(stdout.contains("fast-math: off"), "{stdout}");
    if cfg!(feature = "llvm") {
        assert!(out.status.success(), "{stdout}\n{stderr}");
        assert!(stdout.contains("backend: llvm"), "{stdout}");
        let read = |f: &str| std::fs::read(dir.path().join(f)).unwrap();
        assert_eq!(read("cranelift.npy"), read("llvm.npy"));
    } else {
        assert!(
            stderr.contains("built without the `llvm` backend")
                && stderr.contains("--features llvm"),
            "{stderr}"
        );
    }
}

/// A long call starts LLVM's compile in the background; the session goes
/// on, and once the code is ready (`:tiering wait` here, so the script
/// does not depend on timing) calls run it, with the same bits as
/// Cranelift's under `--fast-math off`. Scripts have it off unless asked.
#[test]
fn long_calls_tier_up_to_llvm_in_the_background() {
    let dir = scratch();
    let script = dir.path().join("tiering.pjs");
    std::fs::write(
        &script,
        ":tiering\n\
         :tiering on\n\
         :tiering after 0\n\
         :fast-math off\n\
         kernel mm(a: f32[M, K], b: f32[K, N]) -> c: f32[M, N] {\n    c[i, j] = sum(k) a[i, k] * b[k, j];\n}\n\
         let a = rand(f32, 37, 53)\n\
         let b = rand(f32, 53, 29)\n\
         let c = mm(a, b)\n\
         :save c first.npy\n\
         :tiering wait\n\
         let d = mm(a, b)\n\
         :save d upgraded.npy\n\
         :tiering\n",
    )
    .unwrap();
    let out = script_output(&script, dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if cfg!(feature = "llvm") {
        assert!(out.status.success(), "{stdout}\n{stderr}");
        // off in a script until `:tiering on`
        assert!(
            stdout.contains("background compiles with LLVM: off"),
            "{stdout}"
        );
        assert!(
            stdout.contains("tiering: a call over 0 ms recompiles"),
            "{stdout}"
        );
        assert!(
            stdout.contains("tiering: 1 background compile finished"),
            "{stdout}"
        );
        assert!(
            stderr.contains("note: `mm` runs LLVM's optimized code from now on"),
            "{stderr}"
        );
        assert!(
            stdout.contains("(0 under way; 1 running LLVM's code)"),
            "{stdout}"
        );
        let read = |f: &str| std::fs::read(dir.path().join(f)).unwrap();
        assert_eq!(read("first.npy"), read("upgraded.npy"));
    } else {
        assert!(
            stdout.contains("LLVM is not built in, so nothing compiles in the background"),
            "{stdout}"
        );
        assert!(
            stderr.contains("built without the `llvm` backend")
                && stderr.contains("nothing to compile in the background"),
            "{stderr}"
        );
    }
}

/// `:show` of a 1-D array draws it in the terminal (braille) and as an
/// SVG file; `:plot energy|explain` draws the model's reports; a wrong
/// file name or kind is refused before anything is drawn.
#[test]
fn plots_in_the_repl() {
    let dir = scratch();
    let script = dir.path().join("plots.pjs");
    std::fs::write(
        &script,
        "kernel sq(x: f32[N]) -> y: f32[N] { y[i] = (x[i] - 20.0) * (x[i] - 20.0); }\n\
         let a = arange(f32, 40)\n\
         let b = sq(a)\n\
         :show b\n\
         :plot energy sq e.svg\n\
         :plot explain sq x.svg\n\
         :plot energy sq e.png\n\
         :plot costs sq c.svg\n\
         :asm sq --hot\n\
         :plot energy sq\n",
    )
    .unwrap();
    let out = script_output(&script, dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout
            .chars()
            .any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)),
        "{stdout}"
    );
    // the range of the values, drawn beside the plot
    assert!(
        stdout.contains("400.0") || stdout.contains("420.0"),
        "{stdout}"
    );
    let shown = stdout
        .lines()
        .find(|l| l.ends_with("-b.svg"))
        .expect("the SVG's path");
    let svg = std::fs::read_to_string(shown).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("b: 40 values"),
        "{svg}"
    );
    let _ = std::fs::remove_file(shown);
    let energy = std::fs::read_to_string(dir.path().join("e.svg")).unwrap();
    assert!(energy.contains("estimated energy by where it goes") && energy.contains("DRAM"));
    let explain = std::fs::read_to_string(dir.path().join("x.svg")).unwrap();
    assert!(explain.contains("alternatives on") && explain.contains("time (ms)"));
    assert!(stderr.contains("name a `.svg` file"), "{stderr}");
    assert!(!dir.path().join("e.png").exists());
    assert!(
        stderr.contains("`costs`: usage: :plot energy|explain"),
        "{stderr}"
    );
    // :asm --hot: the innermost loops, with the line they compute
    assert!(stdout.contains("innermost loop 1 of"), "{stdout}");
    assert!(stdout.contains(":1: kernel sq(x: f32[N])"), "{stdout}");
    // :plot without a file: bars here
    assert!(
        stdout.contains("sq: estimated energy by where it goes"),
        "{stdout}"
    );
    assert!(
        stdout.contains("# arithmetic  = instruction issue"),
        "{stdout}"
    );
}

/// `:quantize auto` weighs its choices with the energy model at the sizes
/// of the kernel's last call once it has one: the first call at 1024, the
/// second compiles again at the sizes it now knows, the third reuses it.
#[test]
fn auto_quantization_weighs_at_the_sizes_of_the_last_call() {
    let dir = scratch();
    let script = dir.path().join("auto.pjs");
    std::fs::write(
        &script,
        "kernel dense(x: f32[M, K] @range(-1.0, 1.0), w: f32[K, N] @range(-0.5, 0.5)) -> y: f32[M, N] @tolerance(abs = 0.5) {\n    y[i, j] = sum(k) x[i, k] * w[k, j];\n}\n\
         let x = ones(f32, 4, 8)\n\
         let w = ones(f32, 8, 4)\n\
         :quantize auto\n\
         let a = dense(x, w)\n\
         let b = dense(x, w)\n\
         let c = dense(x, w)\n",
    )
    .unwrap();
    let out = script_output(&script, dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let estimates: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("quantize: stage `y`"))
        .collect();
    assert_eq!(estimates.len(), 2, "{stdout}");
    // the same choice, weighed at 1024 each and then at the call's 4 x 8 x 4
    assert_ne!(estimates[0], estimates[1], "{stdout}");
}

/// In a terminal that shows images (kitty's protocol here, `TERM=xterm-kitty`):
/// `:show` of a 1-D array and `:plot` without a file send the pictures
/// themselves (rasterized), a 2-D array its PNG; in one that does not
/// (`the_terminal_session`), braille and bars instead.
#[cfg(unix)]
#[test]
fn pictures_inline_in_a_terminal_that_shows_images() {
    use expectrl::{ControlCode, Eof};
    let dir = scratch();
    let data = tempfile::tempdir().unwrap();
    let mut p = terminal(dir.path(), data.path(), "xterm-kitty");
    p.expect("pj> ").unwrap();
    p.send_line("kernel twice(x: f32[N]) -> y: f32[N] { y[i] = x[i] * 2.0; }")
        .unwrap();
    p.expect("defined twice").unwrap();
    p.send_line("let v = arange(f32, 50)").unwrap();
    p.expect("v: f32[50]").unwrap();
    p.send_line(":show v").unwrap();
    // a PNG's first bytes in base64, in kitty's first chunk
    p.expect("\x1b_Gf=100,a=T,m=1;iVBORw0KGgo").unwrap();
    p.expect("pj-show-").unwrap();
    p.expect("pj> ").unwrap();
    p.send_line("let w = twice(v)").unwrap();
    p.expect("w: f32[50]").unwrap();
    p.send_line(":plot energy twice").unwrap();
    p.expect("\x1b_Gf=100,a=T,m=").unwrap();
    p.expect("pj> ").unwrap();
    p.send(ControlCode::EndOfTransmission).unwrap();
    p.expect(Eof).unwrap();
}

/// `pj repl` in a pseudo-terminal that says it is `term`, in `dir`, its
/// data directory (the history) `data`.
#[cfg(unix)]
fn terminal(dir: &Path, data: &Path, term: &str) -> expectrl::Session {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pj"));
    cmd.arg("repl")
        .current_dir(dir)
        .env("XDG_DATA_HOME", data)
        .env("HOME", data)
        .env("NO_COLOR", "1")
        // the model's estimates from the profile as written: no measuring
        .env("PJ_NO_CALIBRATE", "1")
        .env("TERM", term);
    let mut p = expectrl::Session::spawn(cmd).unwrap();
    p.set_expect_timeout(Some(std::time::Duration::from_secs(120)));
    p
}
