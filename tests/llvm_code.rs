//! The machine code LLVM makes is what was asked for: on an x86_64 host
//! with AVX-512, matmul's inner loop multiplies and adds 512-bit vectors
//! with fused multiply-adds (`--fast-math=contract`); on aarch64, NEON
//! `fmla`. Built with `--features llvm` only.
#![cfg(feature = "llvm")]

mod common;

fn asm(example: &str, target: &str, extra: &[&str]) -> String {
    emitted(example, target, "asm", extra)
}

/// What `pj build --backend llvm --emit EMIT` writes for
/// `examples/EXAMPLE.pj`.
fn emitted(example: &str, target: &str, emit: &str, extra: &[&str]) -> String {
    let args = [
        &["--backend", "llvm", "--target", target, "--emit", emit],
        extra,
    ]
    .concat();
    common::built(example, &args)
}

#[test]
fn matmul_uses_512_bit_fmas_on_an_avx512_host() {
    #[cfg(target_arch = "x86_64")]
    {
        if !std::arch::is_x86_feature_detected!("avx512f") {
            eprintln!("this host has no AVX-512: nothing to check here");
            return;
        }
        let text = asm("matmul", "host", &["--fast-math", "contract"]);
        let fmas = text
            .lines()
            .filter(|l| l.trim_start().starts_with("vfmadd") && l.contains("zmm"))
            .count();
        assert!(fmas >= 24, "{fmas} 512-bit FMAs in matmul:\n{text}");
    }
}

#[test]
fn matmul_uses_neon_fmla_on_aarch64() {
    let text = asm(
        "matmul",
        "aarch64-unknown-linux-gnu",
        &["--fast-math", "contract"],
    );
    let fmla = text
        .lines()
        .filter(|l| l.trim_start().starts_with("fmla") && l.contains(".4s"))
        .count();
    assert!(fmla >= 12, "{fmla} NEON fmla in matmul:\n{text}");
}

#[test]
fn a_cpu_selects_its_instructions_for_any_triple() {
    // the x86-64 baseline has no AVX: 128-bit SSE only
    let base = asm("chain", "x86_64-unknown-linux-gnu", &[]);
    assert!(!base.contains("zmm") && !base.contains("ymm"), "{base}");
    // Zen 4 has AVX-512: picojoule vectorizes at 512 bits for it
    let zen4 = asm("chain", "x86_64-unknown-linux-gnu", &["--cpu", "znver4"]);
    assert!(zen4.contains("zmm"), "{zen4}");
}

/// A result nothing reads back is written with non-temporal vector stores
/// when large (`Profile::nontemporal_bytes`), fenced before returning.
#[test]
fn streamed_results_are_stored_past_the_caches() {
    let text = asm(
        "chain",
        "x86_64-unknown-linux-gnu",
        &["--cpu", "skylake-avx512"],
    );
    assert!(count(&text, "vmovntps", "zmm") >= 1, "{text}");
    assert!(count(&text, "sfence", "") >= 1, "{text}");
}

/// Softmax's row maximum takes three instructions per vector on AVX-512
/// (`vrangeps`, a NaN test and a masked add putting a NaN back), not
/// LLVM's six for `llvm.maximum` (a blend on the sign, `vmaxps`, a NaN
/// fix-up); the baseline x86-64 has no `vrange`.
#[test]
fn the_row_maximum_uses_vrange_on_avx512() {
    let text = asm(
        "softmax",
        "x86_64-unknown-linux-gnu",
        &["--cpu", "skylake-avx512"],
    );
    let body = row_maximum_loop(&text);
    assert_eq!(count(&body, "vblendmps", ""), 0, "{body}");
    assert_eq!(count(&body, "vmaxps", ""), 0, "{body}");
    let base = asm("softmax", "x86_64-unknown-linux-gnu", &[]);
    assert_eq!(count(&base, "vrange", ""), 0);
}

/// Softmax's first pass over a tile's rows (the row maximum) fetches the
/// next row of `x` as it reads each line of this one: one `prefetcht0`
/// per 512-bit load in its loop. The passes after it read rows already
/// in L1 and fetch nothing.
#[test]
fn the_first_pass_over_rows_fetches_the_next_row() {
    let text = asm(
        "softmax",
        "x86_64-unknown-linux-gnu",
        &["--cpu", "skylake-avx512"],
    );
    let body = row_maximum_loop(&text);
    assert_eq!(
        count(&body, "prefetcht0", ""),
        count(&body, "vrangeps", "zmm"),
        "{body}"
    );
    // the other vector loops (exponentials, sum, division) fetch nothing
    for l in loops(&text) {
        let l = l.join("\n");
        if l.contains("zmm") && count(&l, "vrangeps", "") == 0 {
            assert_eq!(count(&l, "prefetch", ""), 0, "{l}");
        }
    }
}

/// Softmax's exponentials scale `e^r` by `2^k` with one AVX-512
/// `vscalefps` (the same bits as `expf`'s two multiplications by powers
/// of two built from exponent bits, which the baseline x86-64 keeps): the
/// loop holds no integer shift.
#[test]
fn exp_scales_by_a_power_of_two_in_one_instruction_on_avx512() {
    let exp_loop = |text: &str| {
        innermost_loops(text)
            .into_iter()
            .map(|l| l.join("\n"))
            .find(|l| count(l, "vfmadd", "") + count(l, "mulps", "") >= 6)
            .expect("a loop of exponentials")
    };
    let text = asm(
        "softmax",
        "x86_64-unknown-linux-gnu",
        &["--cpu", "skylake-avx512", "--fast-math", "contract"],
    );
    let body = exp_loop(&text);
    assert_eq!(count(&body, "vscalefps", "zmm"), 1, "{body}");
    assert_eq!(count(&body, "vpslld", ""), 0, "{body}");
    let base = asm("softmax", "x86_64-unknown-linux-gnu", &[]);
    let body = exp_loop(&base);
    assert_eq!(count(&body, "scalef", ""), 0, "{body}");
    assert!(count(&body, "pslld", "") >= 2, "{body}");
}

/// Every example's dense copy (what runs when no size is zero and every
/// row is contiguous) checks no access the lowering promised inside: no
/// function of it names an out-of-bounds message, while the checked copy
/// (zero sizes) does, for every example that reads a parameter.
#[test]
fn the_dense_copies_check_no_proven_access() {
    let mut examples: Vec<String> = std::fs::read_dir(common::root().join("examples"))
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            Some(name.strip_suffix(".pj")?.to_string())
        })
        .collect();
    examples.sort();
    assert!(examples.len() >= 9, "{examples:?}");
    for example in examples {
        let text = emitted(&example, "x86_64-unknown-linux-gnu", "llvm-ir", &[]);
        let messages: std::collections::HashMap<&str, &str> = text
            .lines()
            .filter_map(|l| {
                let (name, rest) = l.split_once(" = private unnamed_addr constant ")?;
                name.starts_with("@pj.msg").then_some((name, rest))
            })
            .collect();
        // (function, whether any out-of-bounds message is named in it)
        let mut functions = Vec::new();
        let mut current: Option<(String, bool)> = None;
        for line in text.lines() {
            if line.starts_with("define ") {
                let name = line.split('@').nth(1).and_then(|r| r.split('(').next());
                current = Some((name.unwrap_or_default().to_string(), false));
            } else if line == "}" {
                functions.extend(current.take());
            } else if let Some((_, oob)) = current.as_mut() {
                *oob |= line
                    .split([' ', ',', '[', ']'])
                    .filter_map(|w| messages.get(w))
                    .any(|m| m.contains("out of bounds"));
            }
        }
        let checked = |part: &str| {
            functions
                .iter()
                .filter(|(f, _)| f.contains(part))
                .any(|(_, oob)| *oob)
        };
        assert!(
            !checked(".dense"),
            "{example}: the dense copy checks an access"
        );
        assert!(
            checked(".checked"),
            "{example}: the checked copy checks no access"
        );
    }
}

fn count(text: &str, mnemonic: &str, operand: &str) -> usize {
    text.lines()
        .filter(|l| l.trim_start().starts_with(mnemonic) && l.contains(operand))
        .count()
}

/// The int8 matrix product (`u8` times `i8` summed in `i32`) takes four
/// steps of its reduction per VNNI `vpdpbusd` on a 512-bit register, for
/// any machine with AVX-512 VNNI (named here, so it holds on every host).
#[test]
fn the_int8_matmul_uses_vnni_on_avx512() {
    let text = asm("qdot", "x86_64-unknown-linux-gnu", &["--cpu", "znver4"]);
    let dots = count(&text, "vpdpbusd", "zmm");
    assert!(dots >= 24, "{dots} vpdpbusd in qdot:\n{text}");
    // a machine without VNNI (Skylake-X) keeps the widening products
    let skx = asm(
        "qdot",
        "x86_64-unknown-linux-gnu",
        &["--cpu", "skylake-avx512"],
    );
    assert_eq!(count(&skx, "vpdpbusd", ""), 0);
}

/// Softmax's innermost loop of `vrangeps` (its row maximum) in `text`.
fn row_maximum_loop(text: &str) -> String {
    innermost_loops(text)
        .into_iter()
        .find(|l| count(&l.join("\n"), "vrangeps", "zmm") >= 4)
        .expect("a loop of vrangeps")
        .join("\n")
}

/// The [`loops`] of `text` with no label inside.
fn innermost_loops(text: &str) -> Vec<Vec<&str>> {
    loops(text)
        .into_iter()
        .filter(|l| !l[1..].iter().any(|x| x.starts_with(".LBB")))
        .collect()
}

/// The loops of `text` (an x86 assembly listing) as their lines: from a
/// label to the last jump back to it.
fn loops(text: &str) -> Vec<Vec<&str>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (end, line) in lines.iter().enumerate() {
        let Some(target) = line
            .trim_start()
            .strip_prefix('j')
            .and_then(|l| l.split_whitespace().nth(1))
        else {
            continue;
        };
        let label = format!("{target}:");
        if let Some(start) = lines[..end].iter().rposition(|l| *l == label) {
            found.push(lines[start..=end].to_vec());
        }
    }
    found
}

/// The int8 product's inner loop, one register block of 6 rows x 3
/// vectors per step of four, is its 18 `vpdpbusd` with no check inside:
/// every index is the loop counter or four times it plus a value from
/// outside, so one precheck at entry covers the loop (counting in steps
/// of four, the packed operand's index `(k - k0) / 4` was checked at every
/// step, 5% of the kernel's time).
#[test]
fn the_int8_inner_loop_holds_only_its_dot_products() {
    let text = asm("qdot", "x86_64-unknown-linux-gnu", &["--cpu", "znver4"]);
    let inner = loops(&text)
        .into_iter()
        .filter(|l| count(&l.join("\n"), "vpdpbusd", "zmm") == 18)
        .min_by_key(|l| l.len())
        .expect("a loop of 18 vpdpbusd");
    let branches = inner
        .iter()
        .filter(|l| l.trim_start().starts_with('j'))
        .count();
    assert_eq!(
        branches,
        1,
        "a check inside the loop:\n{}",
        inner.join("\n")
    );
}

/// The matmul's register block (6 rows x 4 vectors of 16 `f32`) runs two
/// steps of its reduction per iteration of its inner loop (`loop.for
/// {unroll = 2}`): 48 FMAs and a single branch, the loop's counter paid
/// once per two steps (a loop of one step finishes an odd chunk). Also:
/// `--cpu znver4` on a bare triple fuses multiply-adds.
#[test]
fn the_matmul_inner_loop_runs_two_steps_per_iteration() {
    let text = asm(
        "matmul",
        "x86_64-unknown-linux-gnu",
        &["--cpu", "znver4", "--fast-math", "contract"],
    );
    let branches = |l: &[&str]| l.iter().filter(|x| x.trim_start().starts_with('j')).count();
    let fmas = |l: &[&str]| count(&l.join("\n"), "vfmadd231ps", "zmm");
    // innermost loops (no label inside) with a register block's FMAs; the
    // dense copy's has no check inside, the checked copy's has
    let blocks: Vec<Vec<&str>> = innermost_loops(&text)
        .into_iter()
        .filter(|l| fmas(l) >= 24)
        .collect();
    assert!(
        blocks.iter().any(|l| fmas(l) == 48 && branches(l) == 1),
        "no loop of 48 FMAs and one branch among\n{}",
        blocks
            .iter()
            .map(|l| l.join("\n"))
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}

/// On aarch64: `usdot` where the core has I8MM (Neoverse V1), none on the
/// baseline.
#[test]
fn the_int8_matmul_uses_usdot_on_aarch64_with_i8mm() {
    let text = asm(
        "qdot",
        "aarch64-unknown-linux-gnu",
        &["--cpu", "neoverse-v1"],
    );
    let dots = count(&text, "usdot", ".4s");
    assert!(dots >= 12, "{dots} usdot in qdot:\n{text}");
    let base = asm("qdot", "aarch64-unknown-linux-gnu", &[]);
    assert_eq!(count(&base, "usdot", ""), 0);
}
