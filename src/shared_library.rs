//! `pj build --emit shared`: the kernels' object linked with the runtime
//! archive into a shared library that holds only what they use. Linked
//! whole, the 22 MB archive made a one-kernel library of 5.7 MB. Here only
//! the header's functions are exported (the kernels, their shape
//! functions, `pj_last_error`, `pj_set_threads`: a version script), so the
//! linker's section garbage collection can drop every runtime function
//! nothing of theirs reaches, and the symbol table is stripped (blur:
//! 0.43 MB).

use anyhow::{Context, Result, anyhow, bail};
use std::path::PathBuf;
use std::process::Command;

/// Where the runtime archive is: `$PJ_RUNTIME`, else beside the `pj`
/// executable (`cargo build --release` puts both in target/release).
fn runtime_archive() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("PJ_RUNTIME").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if !p.is_file() {
            bail!("PJ_RUNTIME names `{}`, which is not a file", p.display());
        }
        return Ok(p);
    }
    let exe = std::env::current_exe().context("where is pj?")?;
    let beside = exe
        .parent()
        .map(|d| d.join("libpj_runtime.a"))
        .filter(|p| p.is_file());
    beside.ok_or_else(|| {
        anyhow!(
            "the runtime archive `libpj_runtime.a` is not beside `{}`: build it (`cargo build --release -p pj-runtime`) or name it with PJ_RUNTIME",
            exe.display()
        )
    })
}

/// The runtime functions the C header declares.
const RUNTIME_API: [&str; 2] = ["pj_last_error", "pj_set_threads"];

/// The shared library of `object` (the kernels `kernels`, for this
/// machine) and the runtime, as bytes.
pub fn link(object: &[u8], kernels: &[String]) -> Result<Vec<u8>> {
    let exported: Vec<String> = kernels
        .iter()
        .flat_map(|k| [k.clone(), format!("{k}_shape")])
        .chain(RUNTIME_API.iter().map(|s| s.to_string()))
        .collect();
    let archive = runtime_archive()?;
    let dir = tempfile::tempdir()?;
    let obj = dir.path().join("kernels.o");
    std::fs::write(&obj, object)?;
    let out = dir.path().join("libkernels.so");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut cmd = Command::new(&cc);
    let list = dir.path().join("exports");
    if cfg!(target_vendor = "apple") {
        let names: String = exported.iter().map(|n| format!("_{n}\n")).collect();
        std::fs::write(&list, names)?;
        cmd.args(["-dynamiclib", "-Wl,-dead_strip", "-Wl,-x"]);
        cmd.arg(format!("-Wl,-exported_symbols_list,{}", list.display()));
    } else {
        let names: String = exported.iter().map(|n| format!("{n}; ")).collect();
        std::fs::write(&list, format!("{{ global: {names}local: *; }};\n"))?;
        cmd.args(["-shared", "-Wl,--gc-sections", "-s"]);
        cmd.arg(format!("-Wl,--version-script={}", list.display()));
    }
    cmd.arg(&obj).arg(&archive).arg("-o").arg(&out);
    cmd.args(["-lpthread", "-lm"]);
    if !cfg!(target_vendor = "apple") {
        cmd.arg("-ldl");
    }
    let o = cmd
        .output()
        .with_context(|| format!("cannot run the linker `{cc}` (set CC to another)"))?;
    if !o.status.success() {
        bail!(
            "linking the shared library failed (`{cc}` with `{}`):\n{}",
            archive.display(),
            String::from_utf8_lossy(&o.stderr).trim_end()
        );
    }
    Ok(std::fs::read(&out)?)
}
