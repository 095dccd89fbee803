//! `--hot` listings (`pj build --emit asm --hot`, the REPL's `:asm KERNEL
//! --hot`): only the innermost loops of each function of a listing —
//! where a kernel spends its time — each with the source lines of the
//! stages it computes.
//!
//! Loops are found in the text itself, for either backend's format: a
//! branch to a label defined at or above it closes a loop (Cranelift's
//! `blockN:`/`labelN`, LLVM's `.LBB0_3:`); a loop containing no other is
//! innermost. Source lines come from the lowered IR: the locations of the
//! stores in the function's innermost loops, the N-th parallel body
//! (`.parN`) being the IR's N-th parallel loop.

use pj_compiler::Module;
use pj_compiler::dialects::{LoopOp, MemOp, Opcode, VectorOp};
use pj_compiler::ir::{BlockId, OpId};
use std::collections::{BTreeSet, HashMap};

/// One function of a listing: its name and lines.
struct Section<'a> {
    name: String,
    lines: Vec<&'a str>,
}

fn sections(listing: &str) -> Vec<Section<'_>> {
    let mut out: Vec<Section<'_>> = Vec::new();
    for line in listing.lines() {
        let header = if let Some(name) = line.strip_prefix("; ") {
            // Cranelift's `; name` heading (indented lines are instructions)
            Some(name.trim().to_string())
        } else if defined_label(line).is_none()
            && !line.starts_with(['.', ' ', '\t', '#'])
            && line.ends_with(':')
            && line[..line.len() - 1]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            // LLVM's `name:`
            Some(line[..line.len() - 1].to_string())
        } else {
            None
        };
        match header {
            Some(name) => out.push(Section {
                name,
                lines: Vec::new(),
            }),
            None => {
                if let Some(s) = out.last_mut() {
                    s.lines.push(line);
                }
            }
        }
    }
    out
}

/// A label a line defines: `block3:` (Cranelift, jumped to as `label3`)
/// or `.LBB0_3:` (LLVM).
fn defined_label(line: &str) -> Option<String> {
    let l = line.trim_end();
    if let Some(n) = l.strip_prefix("block").and_then(|r| r.strip_suffix(':')) {
        return n
            .chars()
            .all(|c| c.is_ascii_digit())
            .then(|| format!("label{n}"));
    }
    let name = l.strip_suffix(':')?;
    name.starts_with(".LBB").then(|| name.to_string())
}

/// The labels an instruction line branches to: Cranelift's `labelN`
/// anywhere (`jz label3; j label4` is two branches), LLVM's `.LBB` names
/// before a `#` comment (comments name blocks too).
fn targets(line: &str) -> Vec<String> {
    let tokens = |text: &str| -> Vec<String> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()
    };
    let cranelift = tokens(line).into_iter().filter(|t| {
        t.strip_prefix("label")
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    });
    let code = line.split('#').next().unwrap_or("");
    let llvm = tokens(code).into_iter().filter(|t| t.starts_with(".LBB"));
    cranelift.chain(llvm).collect()
}

/// Line ranges (first, last) of the innermost loops of `lines`.
fn innermost_loops(lines: &[&str]) -> Vec<(usize, usize)> {
    let defs: HashMap<String, usize> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| defined_label(l).map(|d| (d, i)))
        .collect();
    let mut loops: BTreeSet<(usize, usize)> = BTreeSet::new();
    for (i, l) in lines.iter().enumerate() {
        if defined_label(l).is_some() {
            continue;
        }
        for t in targets(l) {
            if let Some(&j) = defs.get(&t)
                && j <= i
            {
                loops.insert((j, i));
            }
        }
    }
    // merge loops with one head (several back edges: one loop)
    let mut by_head: HashMap<usize, usize> = HashMap::new();
    for &(j, i) in &loops {
        let e = by_head.entry(j).or_insert(i);
        *e = (*e).max(i);
    }
    let loops: Vec<(usize, usize)> = by_head.into_iter().collect();
    let mut inner: Vec<(usize, usize)> = loops
        .iter()
        .copied()
        .filter(|&(j, i)| {
            !loops
                .iter()
                .any(|&(j2, i2)| (j2, i2) != (j, i) && j <= j2 && i2 <= i)
        })
        .collect();
    inner.sort();
    inner
}

/// Where the stages a function computes come from: per listing section
/// name, the source lines of the stores in its innermost loops.
struct Sources {
    /// The kernel's serial part (loops outside parallel ones).
    serial: BTreeSet<u32>,
    /// Per parallel loop, in order.
    parallel: Vec<BTreeSet<u32>>,
}

fn sources(m: &Module, kernel: &str) -> Option<Sources> {
    let k = m.kernel(kernel)?;
    let mut s = Sources {
        serial: BTreeSet::new(),
        parallel: Vec::new(),
    };
    fn walk(m: &Module, b: BlockId, par: Option<usize>, in_loop: bool, s: &mut Sources) {
        for &op in &m.block(b).ops {
            visit(m, op, par, in_loop, s);
        }
    }
    fn visit(m: &Module, op: OpId, par: Option<usize>, in_loop: bool, s: &mut Sources) {
        let d = m.op(op);
        let is_loop = matches!(d.opcode, Opcode::Loop(LoopOp::For | LoopOp::Parallel));
        let par = if d.opcode == Opcode::Loop(LoopOp::Parallel) {
            s.parallel.push(BTreeSet::new());
            Some(s.parallel.len() - 1)
        } else {
            par
        };
        // what the loops compute: their stores and arithmetic (a fused
        // stage's lines too), not the checks before them
        let computes = matches!(
            d.opcode,
            Opcode::Mem(MemOp::Store)
                | Opcode::Vector(VectorOp::Store)
                | Opcode::Arith(_)
                | Opcode::Math(_)
        );
        if in_loop
            && computes
            && let Some(loc) = d.loc
        {
            match par {
                Some(p) => s.parallel[p].insert(loc.line),
                None => s.serial.insert(loc.line),
            };
        }
        for &r in &d.regions {
            for &b in &m.region(r).blocks {
                walk(m, b, par, in_loop || is_loop, s);
            }
        }
    }
    for &r in &m.op(k).regions {
        for &b in &m.region(r).blocks {
            walk(m, b, None, false, &mut s);
        }
    }
    Some(s)
}

/// The innermost loops of `listing` (the asm of `kernels` of lowered `m`),
/// each under a heading with its function and the source lines (of
/// `file`, whose text is `source`) it computes.
pub fn hot(listing: &str, m: &Module, kernels: &[String], file: &str, source: &str) -> String {
    let src_lines: Vec<&str> = source.lines().collect();
    let per_kernel: Vec<(&String, Sources)> = kernels
        .iter()
        .filter_map(|k| sources(m, k).map(|s| (k, s)))
        .collect();
    let mut out = String::new();
    for sec in sections(listing) {
        let loops = innermost_loops(&sec.lines);
        if loops.is_empty() {
            continue;
        }
        // `k.parN` (also `k.dense.parN`, `k.checked.parN`): the N-th
        // parallel loop, counted across the versions LLVM makes
        let owner = per_kernel.iter().find(|(k, _)| {
            sec.name == **k
                || sec.name.starts_with(&format!("{k}."))
                || sec.name.starts_with(&format!("{k}_"))
        });
        let lines: BTreeSet<u32> = match owner {
            Some((_, s)) => match sec
                .name
                .rsplit_once(".par")
                .and_then(|(_, n)| n.parse::<usize>().ok())
            {
                Some(n) if !s.parallel.is_empty() => s.parallel[(n - 1) % s.parallel.len()].clone(),
                _ => s.serial.clone(),
            },
            None => BTreeSet::new(),
        };
        for (k, &(first, last)) in loops.iter().enumerate() {
            out += &format!(
                "; {}: innermost loop {} of {} ({} lines)\n",
                sec.name,
                k + 1,
                loops.len(),
                last - first + 1
            );
            for l in &lines {
                let text = src_lines.get(*l as usize - 1).map_or("", |t| t.trim());
                out += &format!(";   {file}:{l}: {text}\n");
            }
            for line in &sec.lines[first..=last] {
                out += line;
                out.push('\n');
            }
            out.push('\n');
        }
    }
    if out.is_empty() {
        out = "; no loops in this listing\n".into();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn innermost_loops_of_both_formats() {
        let cranelift = "; k\nblock0:\n  j label1\nblock1:\n  add\nblock2:\n  sub\n  jnz label2; j label3\nblock3:\n  jl label1; j label4\nblock4:\n  ret\n";
        let s = sections(cranelift);
        assert_eq!(s.len(), 1);
        // block2 loops on itself inside the loop from block1 to block3
        assert_eq!(innermost_loops(&s[0].lines), vec![(4, 6)]);
        let llvm = "k:\n\tpush\n.LBB0_1:\n\tvaddps\n\tjne .LBB0_1\n\tret\nk_shape:\n\tret\n";
        let s = sections(llvm);
        assert_eq!(
            s.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["k", "k_shape"]
        );
        assert_eq!(innermost_loops(&s[0].lines), vec![(1, 3)]);
        assert!(innermost_loops(&s[1].lines).is_empty());
        // a forward branch is no loop; a comment naming a block is no branch
        let fwd = "f:\n\tje .LBB0_2 # to .LBB0_1\n.LBB0_1:\n\tnop # .LBB0_1\n.LBB0_2:\n\tret\n";
        assert!(innermost_loops(&sections(fwd)[0].lines).is_empty());
    }
}
