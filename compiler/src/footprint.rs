//! What each element of a kernel's result reads of each array parameter,
//! relative to its own index: for tools that split a kernel's work into
//! blocks and need to know how far each block reaches into its
//! neighbours (the Python package's Dask support: `map_overlap`'s depth,
//! the chunks that must stay whole).
//!
//! Computed on the checked `pj` dialect, stage by stage in order: a read
//! `x[i + a, j - b]` in a stage over `(i, j)` reaches `x` dim 0 along the
//! stage's dim 0 at offset `a`, and dim 1 along its dim 1 at `-b`; a read
//! of an earlier stage adds that stage's reaches to the read's offsets, so
//! a two-stage blur reaches one row and one column either way. An index
//! that is not a variable plus a constant (a reduction over a size, a
//! size, data, a multiple) reaches the whole dim.

use crate::dialects::{Opcode, PjOp, arith::ArithOp};
use crate::ir::{Attr, BlockId, Module, OpId, ValueId};
use std::collections::HashMap;

/// How a result element at index `(.., i_k, ..)` reads one dim of a
/// parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Indices `i_k + lo ..= i_k + hi` of result dim `dim`.
    Along {
        /// The result's dim.
        dim: usize,
        /// Smallest offset.
        lo: i64,
        /// Largest offset.
        hi: i64,
    },
    /// Indices that do not follow the result's (all of them, or fixed
    /// ones): a block needs the whole dim.
    Whole {
        /// The stage whose read it is.
        stage: String,
        /// Why, in words: "a `max` reduction over `C`".
        why: String,
    },
}

impl Reach {
    /// Both reaches at once.
    fn union(&self, other: &Reach) -> Reach {
        match (self, other) {
            (w @ Reach::Whole { .. }, _) => w.clone(),
            (_, w @ Reach::Whole { .. }) => w.clone(),
            (
                Reach::Along { dim, lo, hi },
                Reach::Along {
                    dim: d2,
                    lo: l2,
                    hi: h2,
                },
            ) if dim == d2 => Reach::Along {
                dim: *dim,
                lo: (*lo).min(*l2),
                hi: (*hi).max(*h2),
            },
            (Reach::Along { dim, .. }, Reach::Along { dim: d2, .. }) => Reach::Whole {
                stage: String::new(),
                why: format!("read along both result dims {dim} and {d2}"),
            },
        }
    }
}

/// What one result reads of one array parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamReach {
    /// The parameter's name.
    pub param: String,
    /// Its boundary mode (`clamp`, `zero`, `wrap`, `mirror`), if it has one.
    pub boundary: Option<String>,
    /// Per dim of the parameter: `None` where the result does not read it.
    pub dims: Vec<Option<Reach>>,
}

/// What one result reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultReach {
    /// The result's name.
    pub result: String,
    /// Its rank.
    pub rank: usize,
    /// One entry per array parameter it reads, in parameter order.
    pub params: Vec<ParamReach>,
}

/// An index as a variable plus a range of constants, or why it is not.
#[derive(Clone, Debug)]
enum Index {
    /// `var + lo ..= var + hi`; `var` `None`: a constant range.
    Affine {
        var: Option<ValueId>,
        lo: i64,
        hi: i64,
    },
    /// Something else, in words.
    Other(String),
}

/// Reaches of every result of kernel `name` of checked module `m`, in
/// result order; `None` when `m` has no such `pj.kernel`.
pub fn result_reaches(m: &Module, name: &str) -> Option<Vec<ResultReach>> {
    let kernel = m.kernel(name)?;
    if m.op(kernel).opcode != Opcode::Pj(PjOp::Kernel) {
        return None;
    }
    let d = m.op(kernel);
    let block = m.entry_block(kernel, 0);
    let params: Vec<ValueId> = m.block(block).args.clone();
    let names = strings(d.attr("arg_names"));
    let result_names = strings(d.attr("result_names"));
    let boundaries: Vec<Option<String>> = match d.attr("arg_attrs") {
        Some(Attr::Array(v)) => v
            .iter()
            .map(|a| match a {
                Attr::Dict(kv) => kv
                    .iter()
                    .find(|(k, _)| k == "boundary")
                    .and_then(|(_, v)| v.as_str().map(str::to_string)),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut a = Analysis {
        m,
        params: params.clone(),
        stages: HashMap::new(),
    };
    let mut returned = Vec::new();
    let mut outside: HashMap<(usize, usize), Reach> = HashMap::new();
    for &op in &m.block(block).ops {
        let od = m.op(op);
        match od.opcode {
            Opcode::Pj(PjOp::Stage) => {
                let reaches = a.stage(op);
                a.stages.insert(od.results[0], reaches);
            }
            Opcode::Pj(PjOp::Return) => returned = od.operands.clone(),
            // an element of an updated stage may take a value from any
            // point of the update: everything the update reads is whole
            Opcode::Pj(PjOp::Update) => {
                let name = crate::passes::schedule::array_name(m, od.operands[0]);
                let mut reaches = a.stages.get(&od.operands[0]).cloned().unwrap_or_default();
                let mut found = HashMap::new();
                a.reads_in_op(op, None, &mut found, &name);
                for (k, r) in found {
                    let whole = Reach::Whole {
                        stage: name.clone(),
                        why: "an update: any element may take values from any point".into(),
                    };
                    merge(
                        &mut reaches,
                        k,
                        if matches!(r, Reach::Whole { .. }) {
                            r
                        } else {
                            whole
                        },
                    );
                }
                a.stages.insert(od.results[0], reaches);
            }
            // a value outside the stages (a `let` over an array) reads
            // what it reads for every element
            _ => {
                let mut found = HashMap::new();
                a.reads_in_op(op, None, &mut found, "a value before the stages");
                for (k, r) in found {
                    let whole = Reach::Whole {
                        stage: "let".into(),
                        why: "read by a value computed once for the whole kernel".into(),
                    };
                    let r = match r {
                        Reach::Whole { .. } => r,
                        Reach::Along { .. } => whole,
                    };
                    merge(&mut outside, k, r);
                }
            }
        }
    }
    let mut out = Vec::new();
    for (i, &v) in returned.iter().enumerate() {
        let rank = match m.ty(v).rank() {
            Some(r) => r,
            None => continue,
        };
        let mut reaches = a.stages.get(&v).cloned().unwrap_or_default();
        for (k, r) in &outside {
            merge(&mut reaches, *k, r.clone());
        }
        let mut per_param = Vec::new();
        for (p, &pv) in params.iter().enumerate() {
            let Some(prank) = m.ty(pv).rank() else {
                continue;
            };
            let dims: Vec<Option<Reach>> =
                (0..prank).map(|d| reaches.get(&(p, d)).cloned()).collect();
            if dims.iter().all(Option::is_none) {
                continue;
            }
            per_param.push(ParamReach {
                param: names.get(p).cloned().unwrap_or_else(|| format!("#{p}")),
                boundary: boundaries.get(p).cloned().flatten(),
                dims,
            });
        }
        out.push(ResultReach {
            result: result_names
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("#{i}")),
            rank,
            params: per_param,
        });
    }
    Some(out)
}

fn strings(a: Option<&Attr>) -> Vec<String> {
    match a {
        Some(Attr::Array(v)) => v
            .iter()
            .map(|x| x.as_str().unwrap_or_default().to_string())
            .collect(),
        _ => Vec::new(),
    }
}

fn merge(into: &mut HashMap<(usize, usize), Reach>, key: (usize, usize), r: Reach) {
    let merged = match into.get(&key) {
        Some(old) => old.union(&r),
        None => r,
    };
    into.insert(key, merged);
}

/// Reaches of a stage's element at its index variables: keyed by
/// (parameter position, parameter dim), `Along` dims are the stage's.
type StageReaches = HashMap<(usize, usize), Reach>;

struct Analysis<'m> {
    m: &'m Module,
    params: Vec<ValueId>,
    stages: HashMap<ValueId, StageReaches>,
}

impl Analysis<'_> {
    fn stage(&self, op: OpId) -> StageReaches {
        let m = self.m;
        let name = m
            .op(op)
            .attr("name")
            .and_then(Attr::as_str)
            .unwrap_or("?")
            .to_string();
        let block = m.entry_block(op, 0);
        let mut found = HashMap::new();
        for &o in &m.block(block).ops {
            self.reads_in_op(o, Some(block), &mut found, &name);
        }
        // a recurrence's element depends on every earlier one along its
        // scan dim, and so on all they read
        if let Some((scan, _)) = crate::dialects::pj::recurrence(m, op) {
            let var = m
                .value(m.block(block).args[scan])
                .name
                .clone()
                .unwrap_or_else(|| format!("dim {scan}"));
            for r in found.values_mut() {
                if matches!(r, Reach::Along { dim, .. } if *dim == scan) {
                    *r = Reach::Whole {
                        stage: name.clone(),
                        why: format!("a recurrence along `{var}`"),
                    };
                }
            }
        }
        found
    }

    /// Adds the reaches of `op` (and the ops inside it) to `found`, in
    /// terms of the variables of `stage_block` (none outside stages).
    fn reads_in_op(
        &self,
        op: OpId,
        stage_block: Option<BlockId>,
        found: &mut StageReaches,
        stage: &str,
    ) {
        let m = self.m;
        let d = m.op(op);
        if d.opcode == Opcode::Pj(PjOp::Read) {
            let src = d.operands[0];
            let idx: Vec<Index> = d.operands[1..]
                .iter()
                .map(|&v| self.index(v, stage_block, stage))
                .collect();
            if let Some(p) = self.params.iter().position(|&x| x == src) {
                for (dim, ix) in idx.iter().enumerate() {
                    merge(found, (p, dim), self.reach(ix, stage_block, 0, 0, stage));
                }
            } else if let Some(inner) = self.stages.get(&src) {
                for (&key, r) in inner {
                    let r = match r {
                        Reach::Along { dim, lo, hi } => match idx.get(*dim) {
                            Some(ix) => self.reach(ix, stage_block, *lo, *hi, stage),
                            None => r.clone(),
                        },
                        Reach::Whole { .. } => r.clone(),
                    };
                    merge(found, key, r);
                }
            }
        }
        for region in 0..d.regions.len() {
            let b = m.entry_block(op, region);
            for &o in &m.block(b).ops {
                self.reads_in_op(o, stage_block, found, stage);
            }
        }
    }

    /// An index's reach, shifted by `lo..=hi` (what the read stage itself
    /// reaches from that index).
    fn reach(
        &self,
        ix: &Index,
        stage_block: Option<BlockId>,
        lo: i64,
        hi: i64,
        stage: &str,
    ) -> Reach {
        match ix {
            Index::Affine {
                var: Some(v),
                lo: a,
                hi: b,
            } => {
                let dim =
                    stage_block.and_then(|blk| self.m.block(blk).args.iter().position(|x| x == v));
                match dim {
                    Some(dim) => Reach::Along {
                        dim,
                        lo: a.saturating_add(lo),
                        hi: b.saturating_add(hi),
                    },
                    None => Reach::Whole {
                        stage: stage.to_string(),
                        why: "an index that is not the stage's own".into(),
                    },
                }
            }
            Index::Affine { var: None, .. } => Reach::Whole {
                stage: stage.to_string(),
                why: "fixed positions".into(),
            },
            Index::Other(why) => Reach::Whole {
                stage: stage.to_string(),
                why: why.clone(),
            },
        }
    }

    /// `v` as a variable of `stage_block` plus constants, when it is one.
    fn index(&self, v: ValueId, stage_block: Option<BlockId>, stage: &str) -> Index {
        let m = self.m;
        let constant = |v: ValueId| -> Option<i64> {
            let o = m.def_op(v)?;
            let d = m.op(o);
            (d.opcode == Opcode::Arith(ArithOp::Constant))
                .then(|| d.attr("value").and_then(Attr::as_int))
                .flatten()
        };
        if let Some(c) = constant(v) {
            return Index::Affine {
                var: None,
                lo: c,
                hi: c,
            };
        }
        let Some(def) = m.def_op(v) else {
            // a block argument: a stage's variable, or a reduction's
            if stage_block.is_some_and(|b| m.block(b).args.contains(&v)) {
                return Index::Affine {
                    var: Some(v),
                    lo: 0,
                    hi: 0,
                };
            }
            return self.reduction_variable(v, stage);
        };
        let d = m.op(def);
        match d.opcode {
            Opcode::Arith(a @ (ArithOp::Add | ArithOp::Sub)) => {
                let x = self.index(d.operands[0], stage_block, stage);
                let y = self.index(d.operands[1], stage_block, stage);
                match (x, y, a) {
                    (Index::Other(w), _, _) | (_, Index::Other(w), _) => Index::Other(w),
                    (
                        Index::Affine { var, lo, hi },
                        Index::Affine {
                            var: None,
                            lo: c,
                            hi: e,
                        },
                        ArithOp::Add,
                    )
                    | (
                        Index::Affine {
                            var: None,
                            lo: c,
                            hi: e,
                        },
                        Index::Affine { var, lo, hi },
                        ArithOp::Add,
                    ) => Index::Affine {
                        var,
                        lo: lo.saturating_add(c),
                        hi: hi.saturating_add(e),
                    },
                    (
                        Index::Affine { var, lo, hi },
                        Index::Affine {
                            var: None,
                            lo: c,
                            hi: e,
                        },
                        ArithOp::Sub,
                    ) => Index::Affine {
                        var,
                        lo: lo.saturating_sub(e),
                        hi: hi.saturating_sub(c),
                    },
                    _ => Index::Other("an index combining two variables".into()),
                }
            }
            Opcode::Pj(PjOp::Size) => Index::Other(format!(
                "an index computed from size `{}`",
                d.attr("name").and_then(Attr::as_str).unwrap_or("?")
            )),
            Opcode::Pj(PjOp::Read) => Index::Other("an index read from data".into()),
            _ => Index::Other("an index that is not a variable plus a constant".into()),
        }
    }

    /// A reduction's variable: its constant range, or the whole dim.
    fn reduction_variable(&self, v: ValueId, _stage: &str) -> Index {
        let m = self.m;
        let crate::ir::ValueDef::BlockArg(block, pos) = m.value(v).def else {
            return Index::Other("an index of unknown origin".into());
        };
        let pos = pos as usize;
        let Some(op) = m.block_owner(block) else {
            return Index::Other("an index of unknown origin".into());
        };
        let d = m.op(op);
        if d.opcode != Opcode::Pj(PjOp::Reduce) {
            return Index::Other("an index of another stage".into());
        }
        let kind = d.attr("kind").and_then(Attr::as_str).unwrap_or("reduction");
        let bound = |i: usize| {
            d.operands.get(i).and_then(|&b| {
                m.def_op(b).and_then(|o| {
                    let od = m.op(o);
                    (od.opcode == Opcode::Arith(ArithOp::Constant))
                        .then(|| od.attr("value").and_then(Attr::as_int))
                        .flatten()
                })
            })
        };
        match (bound(2 * pos), bound(2 * pos + 1)) {
            (Some(lo), Some(ub)) if ub > lo => Index::Affine {
                var: None,
                lo,
                hi: ub - 1,
            },
            _ => {
                let size = d
                    .operands
                    .get(2 * pos + 1)
                    .and_then(|&b| m.def_op(b))
                    .and_then(|o| m.op(o).attr("name").and_then(Attr::as_str))
                    .map_or(String::new(), |n| format!(" over `{n}`"));
                Index::Other(format!("a `{kind}` reduction{size}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reaches(src: &str, kernel: &str) -> Vec<ResultReach> {
        let m = crate::compile_source("t.pj", src)
            .unwrap_or_else(|d| panic!("{d:?}"))
            .module;
        result_reaches(&m, kernel).expect("a kernel")
    }

    fn along(dim: usize, lo: i64, hi: i64) -> Option<Reach> {
        Some(Reach::Along { dim, lo, hi })
    }

    #[test]
    fn a_two_stage_blur_reaches_one_row_and_one_column_either_way() {
        let src =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/blur.pj"))
                .unwrap();
        let r = reaches(&src, "blur");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].result, "out");
        assert_eq!(
            r[0].params,
            vec![ParamReach {
                param: "input".into(),
                boundary: Some("clamp".into()),
                dims: vec![along(0, -1, 1), along(1, -1, 1)],
            }]
        );
    }

    #[test]
    fn a_valid_region_kernel_reaches_forward_only() {
        let r = reaches(
            "kernel v(x: f32[H, W]) -> y: f32[H - 2, W - 2] { y[i, j] = x[i, j] + x[i + 2, j + 1]; }",
            "v",
        );
        assert_eq!(r[0].params[0].dims, vec![along(0, 0, 2), along(1, 0, 1)]);
        assert_eq!(r[0].params[0].boundary, None);
    }

    #[test]
    fn a_recurrence_reaches_its_whole_scan_dim_and_no_more_of_the_others() {
        let r = reaches(
            "kernel ema(x: f32[R, N]) -> y: f32[R, N] {
                y[r, i] = 0.5 * x[r, i] + 0.5 * y[r, i - 1] init 0.0;
            }",
            "ema",
        );
        let x = &r[0].params[0];
        assert_eq!(x.dims[0], along(0, 0, 0));
        match &x.dims[1] {
            Some(Reach::Whole { stage, why }) => {
                assert_eq!(
                    (stage.as_str(), why.as_str()),
                    ("y", "a recurrence along `i`")
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_update_reaches_every_dim_it_reads_whole() {
        let r = reaches(
            "kernel hist(img: u8[H, W]) -> h: i32[256] {
                h[b] = 0;
                h[i32(img[y, x])] += 1 for y, x;
            }",
            "hist",
        );
        let img = &r[0].params[0];
        assert_eq!(img.param, "img");
        for d in &img.dims {
            assert!(
                matches!(d, Some(Reach::Whole { stage, .. }) if stage == "h"),
                "{d:?}"
            );
        }
    }

    #[test]
    fn a_row_reduction_reaches_the_whole_row_naming_its_stage() {
        let src = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/softmax.pj"
        ))
        .unwrap();
        let r = reaches(&src, "softmax");
        let dims = &r[0].params[0].dims;
        assert_eq!(dims[0], along(0, 0, 0));
        match &dims[1] {
            Some(Reach::Whole { stage, why }) => {
                assert_eq!(stage, "m");
                assert!(why.contains("max") && why.contains('C'), "{why}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn constant_taps_stay_along_and_other_indices_reach_the_whole_dim() {
        let r = reaches(
            "kernel c(x: f32[N] @boundary(zero), w: f32[K]) -> y: f32[N] {\n\
             y[i] = sum(k in 0..3) (x[i + k - 1] + w[0]);\n}",
            "c",
        );
        let by: HashMap<_, _> = r[0].params.iter().map(|p| (p.param.as_str(), p)).collect();
        assert_eq!(by["x"].dims, vec![along(0, -1, 1)]);
        assert_eq!(by["x"].boundary.as_deref(), Some("zero"));
        assert!(matches!(by["w"].dims[0], Some(Reach::Whole { .. })));
        let t = reaches(
            "kernel t(x: f32[N, M]) -> y: f32[M, N] { y[i, j] = x[j, i]; }",
            "t",
        );
        assert_eq!(t[0].params[0].dims, vec![along(1, 0, 0), along(0, 0, 0)]);
    }
}
