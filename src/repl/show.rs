//! How the REPL shows values: arrays NumPy-style (the shape and type, then
//! the elements with the middle of long dims elided), and `:stats`.

use pj_compiler::dialects::arith::Scalar;
use pj_compiler::interp::{Tensor, Value};

/// Dims longer than this show their first and last `EDGE` entries.
const ELIDE_OVER: usize = 6;
const EDGE: usize = 3;

/// `name: f32[2, 3]` and the elements below it; a scalar on one line.
pub fn value(name: &str, v: &Value) -> String {
    match v {
        Value::Scalar(s) => format!("{name}: {} = {}\n", s.ty(), scalar(s)),
        Value::Array(t) => {
            let mut out = format!("{name}: {}{:?}\n", t.elem, t.shape);
            if t.shape.contains(&0) {
                out.push_str("[]\n");
                return out;
            }
            let shown = shown_indices(t);
            let style = Style::of(shown.iter().map(|&i| &t.data[i]));
            let width = shown
                .iter()
                .map(|&i| style.format(&t.data[i]).len())
                .max()
                .unwrap_or(1);
            let mut body = String::new();
            nested(t, 0, 0, width, &style, &mut body);
            out.push_str(&body);
            out.push('\n');
            out
        }
    }
}

/// A scalar as NumPy would print it: integers plainly, floats shortest.
pub fn scalar(s: &Scalar) -> String {
    match s {
        Scalar::F32(v) => float(*v as f64, format!("{v}")),
        Scalar::F64(v) => float(*v, format!("{v}")),
        Scalar::F16(_) | Scalar::Bf16(_) => {
            let v = s.as_f64() as f32;
            float(v as f64, format!("{v}"))
        }
        Scalar::Bool(b) => b.to_string(),
        other => other.as_i64().unwrap_or(0).to_string(),
    }
}

fn float(v: f64, shortest: String) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf".into() } else { "-inf".into() }
    } else if v != 0.0 && (v.abs() >= 1e8 || v.abs() < 1e-4) {
        format!("{v:.4e}")
    } else if shortest.len() > 10 {
        let s = format!("{v:.6}");
        s.trim_end_matches('0').to_string()
    } else if shortest.contains('.') {
        shortest
    } else {
        shortest + "."
    }
}

/// The flat indices of the elements that are printed.
fn shown_indices(t: &Tensor) -> Vec<usize> {
    let mut out = vec![0usize];
    let mut stride = t.len();
    for &n in &t.shape {
        stride /= n.max(1);
        let keep = kept(n);
        out = out
            .iter()
            .flat_map(|&base| keep.iter().map(move |&k| base + k * stride))
            .collect();
    }
    out
}

/// The positions of a dim of extent `n` that are printed.
fn kept(n: usize) -> Vec<usize> {
    if n > ELIDE_OVER {
        (0..EDGE).chain(n - EDGE..n).collect()
    } else {
        (0..n).collect()
    }
}

/// How the elements of one array print (NumPy's way): floats with the
/// same number of decimals, enough for the shown value that needs most
/// (at most 8), or all in scientific notation when their magnitudes are
/// far apart.
enum Style {
    Plain,
    Fixed(usize),
    Scientific,
}

impl Style {
    fn of<'a>(values: impl Iterator<Item = &'a Scalar>) -> Style {
        let mut decimals = None::<usize>;
        let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
        for v in values {
            let x = match v {
                Scalar::F32(x) => *x as f64,
                Scalar::F64(x) => *x,
                _ => return Style::Plain,
            };
            if !x.is_finite() {
                decimals.get_or_insert(0);
                continue;
            }
            if x != 0.0 {
                lo = lo.min(x.abs());
                hi = hi.max(x.abs());
            }
            let text = match v {
                Scalar::F32(x) => format!("{x}"),
                _ => format!("{x}"),
            };
            let d = text.split_once('.').map_or(0, |(_, f)| f.len()).min(8);
            decimals = Some(decimals.map_or(d, |m| m.max(d)));
        }
        if hi >= 1e8 || (lo < 1e-4 && hi > 0.0) || (hi > 0.0 && hi / lo >= 1e3 && lo < 1e-3) {
            return Style::Scientific;
        }
        Style::Fixed(decimals.unwrap_or(0))
    }

    fn format(&self, s: &Scalar) -> String {
        let x = match s {
            Scalar::F32(x) => *x as f64,
            Scalar::F64(x) => *x,
            s => return scalar(s),
        };
        if !x.is_finite() {
            return scalar(s);
        }
        match self {
            Style::Scientific => format!("{x:.4e}"),
            Style::Fixed(0) => format!("{x:.0}."),
            Style::Fixed(d) => format!("{x:.d$}", d = *d),
            Style::Plain => scalar(s),
        }
    }
}

fn nested(t: &Tensor, dim: usize, base: usize, width: usize, style: &Style, out: &mut String) {
    let rank = t.shape.len();
    if rank == 0 {
        out.push_str(&scalar(&t.data[0]));
        return;
    }
    let n = t.shape[dim];
    let stride: usize = t.shape[dim + 1..].iter().product();
    out.push('[');
    let keep = kept(n);
    for (pos, &k) in keep.iter().enumerate() {
        if pos > 0 {
            if dim + 1 == rank {
                out.push(' ');
            } else {
                // a blank line per level of nesting below the innermost
                out.push('\n');
                for _ in 0..rank - dim - 2 {
                    out.push('\n');
                }
                out.push_str(&" ".repeat(dim + 1));
            }
        }
        if n > ELIDE_OVER && pos == EDGE {
            if dim + 1 == rank {
                out.push_str("... ");
            } else {
                out.push_str("...\n");
                out.push_str(&" ".repeat(dim + 1));
            }
        }
        if dim + 1 == rank {
            out.push_str(&format!("{:>width$}", style.format(&t.data[base + k])));
        } else {
            nested(t, dim + 1, base + k * stride, width, style, out);
        }
    }
    out.push(']');
}

/// `:stats`: min, max, mean, standard deviation and NaN count.
pub fn stats(name: &str, v: &Value) -> String {
    let t = match v {
        Value::Scalar(s) => return format!("{name}: {} = {} (a scalar)\n", s.ty(), scalar(s)),
        Value::Array(t) => t,
    };
    let mut head = format!("{name}: {}{:?}, {} elements", t.elem, t.shape, t.len());
    // two passes over the elements, no copy of them: arrays can be large
    let finite = || t.data.iter().map(|s| s.as_f64()).filter(|x| !x.is_nan());
    let nans = t.len() - finite().count();
    let n = finite().count();
    if n == 0 {
        head.push_str(&format!(", {nans} NaN\n"));
        return head;
    }
    let (mut min, mut max, mut sum) = (f64::INFINITY, f64::NEG_INFINITY, 0.0);
    for x in finite() {
        min = min.min(x);
        max = max.max(x);
        sum += x;
    }
    let mean = sum / n as f64;
    let var = finite().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
    format!(
        "{head}\n  min  {min:.6}\n  max  {max:.6}\n  mean {mean:.6}\n  std  {:.6}\n  NaN  {nans}\n",
        var.sqrt()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pj_compiler::ir::ScalarType;

    fn f32s(shape: &[usize]) -> Value {
        let n: usize = shape.iter().product();
        Value::Array(Tensor::new(
            ScalarType::F32,
            shape.to_vec(),
            (0..n).map(|i| Scalar::F32(i as f32 * 0.5)).collect(),
        ))
    }

    #[test]
    fn arrays_print_like_numpy() {
        assert_eq!(
            value("a", &f32s(&[2, 3])),
            "a: f32[2, 3]\n[[0.0 0.5 1.0]\n [1.5 2.0 2.5]]\n"
        );
        let long = value("v", &f32s(&[10]));
        assert_eq!(long, "v: f32[10]\n[0.0 0.5 1.0 ... 3.5 4.0 4.5]\n");
        let big = value("m", &f32s(&[100, 100]));
        assert!(big.contains("...\n"), "{big}");
        assert_eq!(big.lines().count(), 1 + 7, "{big}");
        assert_eq!(value("s", &Value::Scalar(Scalar::I32(-3))), "s: i32 = -3\n");
        assert_eq!(value("e", &f32s(&[0, 4])), "e: f32[0, 4]\n[]\n");
    }

    #[test]
    fn stats_count_nans() {
        let v = Value::Array(Tensor::new(
            ScalarType::F32,
            vec![4],
            vec![
                Scalar::F32(1.0),
                Scalar::F32(f32::NAN),
                Scalar::F32(3.0),
                Scalar::F32(2.0),
            ],
        ));
        let s = stats("x", &v);
        assert!(s.contains("min  1.000000"), "{s}");
        assert!(s.contains("mean 2.000000"), "{s}");
        assert!(s.contains("NaN  1"), "{s}");
    }
}
