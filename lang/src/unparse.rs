//! Prints the syntax tree back as source, fully parenthesized, so a user can
//! see how the parser grouped an expression (`pj emit --stage ast`).

use crate::ast::*;
use std::fmt::Write as _;

/// Renders a file.
pub fn file(f: &File) -> String {
    let mut out = String::new();
    for (i, k) in f.kernels.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        kernel(&mut out, k);
    }
    out
}

fn param(p: &Param) -> String {
    let mut s = format!("{}: {}", p.name.name, p.elem.name);
    if let Some(dims) = &p.dims {
        let d: Vec<String> = dims.iter().map(expr).collect();
        let _ = write!(s, "[{}]", d.join(", "));
    }
    for a in &p.annotations {
        let args: Vec<String> = a
            .args
            .iter()
            .map(expr)
            .chain(
                a.named
                    .iter()
                    .map(|(n, e)| format!("{} = {}", n.name, expr(e))),
            )
            .collect();
        let _ = write!(s, " @{}({})", a.name.name, args.join(", "));
    }
    s
}

fn kernel(out: &mut String, k: &Kernel) {
    let params: Vec<String> = k.params.iter().map(param).collect();
    let results: Vec<String> = k.results.iter().map(param).collect();
    let constraints: Vec<String> = k.constraints.iter().map(expr).collect();
    let clause = if constraints.is_empty() {
        String::new()
    } else {
        format!(" where {}", constraints.join(", "))
    };
    let _ = writeln!(
        out,
        "kernel {}({}) -> ({}){clause} {{",
        k.name.name,
        params.join(", "),
        results.join(", ")
    );
    for s in &k.body {
        match s {
            Stmt::Let { name, value, .. } => {
                let _ = writeln!(out, "    let {} = {};", name.name, expr(value));
            }
            Stmt::Def {
                name,
                indices,
                value,
                init,
                ..
            } => {
                let ix: Vec<&str> = indices.iter().map(|i| i.name.as_str()).collect();
                let init = init
                    .as_ref()
                    .map(|e| format!(" init {}", expr(e)))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "    {}[{}] = {}{init};",
                    name.name,
                    ix.join(", "),
                    expr(value)
                );
            }
            Stmt::Update {
                target,
                indices,
                op,
                value,
                vars,
                ..
            } => {
                let ix: Vec<String> = indices.iter().map(expr).collect();
                let vars: Vec<String> = vars
                    .iter()
                    .map(|v| match &v.range {
                        Some((lo, hi)) => format!("{} in {}..{}", v.name.name, expr(lo), expr(hi)),
                        None => v.name.name.clone(),
                    })
                    .collect();
                let _ = writeln!(
                    out,
                    "    {}[{}] {}= {} for {};",
                    target.name,
                    ix.join(", "),
                    op.name,
                    expr(value),
                    vars.join(", ")
                );
            }
            Stmt::Schedule { directives, .. } => {
                out.push_str("    schedule {\n");
                for d in directives {
                    let args: Vec<String> = d.args.iter().map(expr).collect();
                    let _ = writeln!(
                        out,
                        "        {}.{}({});",
                        d.stage.name,
                        d.name.name,
                        args.join(", ")
                    );
                }
                out.push_str("    }\n");
            }
            Stmt::Error(_) => out.push_str("    <error>;\n"),
        }
    }
    out.push_str("}\n");
}

/// Renders an expression with every compound sub-expression parenthesized.
pub fn expr(e: &Expr) -> String {
    let wrap = |e: &Expr| {
        let s = expr(e);
        match e.kind {
            ExprKind::Binary { .. } | ExprKind::Reduce { .. } | ExprKind::Unary { .. } => {
                format!("({s})")
            }
            _ => s,
        }
    };
    match &e.kind {
        ExprKind::Int(v) => v.to_string(),
        ExprKind::Float(v) => format!("{v:?}"),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Name(n) => n.name.clone(),
        ExprKind::Index { array, indices } => {
            let ix: Vec<String> = indices.iter().map(expr).collect();
            format!("{}[{}]", array.name, ix.join(", "))
        }
        ExprKind::Call { func, args } => {
            let a: Vec<String> = args.iter().map(expr).collect();
            format!("{}({})", func.name, a.join(", "))
        }
        ExprKind::Unary { op, expr: inner } => {
            format!(
                "{}{}",
                if *op == UnaryOp::Neg { "-" } else { "!" },
                wrap(inner)
            )
        }
        ExprKind::Binary { op, lhs, rhs } => format!("{} {} {}", wrap(lhs), op.symbol(), wrap(rhs)),
        ExprKind::Reduce { op, vars, body } => {
            let vs: Vec<String> = vars
                .iter()
                .map(|v| match &v.range {
                    Some((lo, hi)) => format!("{} in {}..{}", v.name.name, expr(lo), expr(hi)),
                    None => v.name.name.clone(),
                })
                .collect();
            format!("{}({}) {}", op.name(), vs.join(", "), wrap(body))
        }
    }
}
