//! The checked program: every name resolved, every expression typed, every
//! stage given a domain by bounds inference. This is the front end's output
//! and the only thing the compiler's AST→IR lowering reads.

use crate::ast::{BinOp, ReduceOp, UnaryOp};
use crate::bounds::{Interval, SizeExpr};
use crate::span::Span;
use crate::types::{Boundary, ScalarType};

/// Index of a size name in [`Kernel::sizes`].
pub type SizeId = usize;
/// Index of a stage in [`Kernel::stages`].
pub type StageId = usize;
/// Index of a `let` in [`Kernel::lets`].
pub type LetId = usize;
/// Index of an index or reduction variable in [`Kernel::vars`].
pub type VarId = usize;

/// All kernels of a file.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    /// Kernels in source order.
    pub kernels: Vec<Kernel>,
}

impl Program {
    /// Finds a kernel by name.
    pub fn kernel(&self, name: &str) -> Option<&Kernel> {
        self.kernels.iter().find(|k| k.name == name)
    }
}

/// One checked kernel.
#[derive(Clone, Debug, PartialEq)]
pub struct Kernel {
    /// Name.
    pub name: String,
    /// Span of the whole kernel.
    pub span: Span,
    /// Parameters in order.
    pub params: Vec<Param>,
    /// Size names, in order of first appearance in a parameter's dims.
    pub sizes: Vec<SizeDecl>,
    /// Results in order.
    pub results: Vec<ResultDecl>,
    /// `let` bindings.
    pub lets: Vec<Let>,
    /// Stages (results included).
    pub stages: Vec<Stage>,
    /// Index and reduction variables.
    pub vars: Vec<VarDecl>,
    /// Lets and stages in source order.
    pub body: Vec<Item>,
    /// The `schedule { ... }` block's directives, checked, in order.
    pub schedule: Vec<Directive>,
    /// `where ...`: conditions on the sizes, checked when called.
    pub constraints: Vec<Constraint>,
}

/// A size constraint: a condition on the sizes (docs/language.md, "Size
/// constraints").
#[derive(Clone, Debug, PartialEq)]
pub struct Constraint {
    /// The condition (`bool`), of sizes and constants only.
    pub expr: TExpr,
    /// As written (normalized), for messages.
    pub text: String,
    /// The sizes it names, in order of appearance.
    pub sizes: Vec<SizeId>,
    /// Where it is written.
    pub span: Span,
}

/// One directive of a kernel's `schedule` block: how a stage is computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directive {
    /// The stage it applies to.
    pub stage: StageId,
    /// What it asks.
    pub kind: DirectiveKind,
    /// Where it is written.
    pub span: Span,
}

/// What a directive asks (the semantics are in `docs/language.md`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DirectiveKind {
    /// `s.compute_at(r)`: compute `s` per tile of rows of stage `r`.
    ComputeAt(StageId),
    /// `s.compute_root()`: store `s` whole; never fuse or inline it.
    ComputeRoot,
    /// `s.tile(rows)`: tiles of this many rows of `s` (a group root).
    TileRows(i64),
    /// `s.tile_bytes(bytes)`: tiles of as many rows as fit these bytes.
    TileBytes(i64),
    /// `s.reduce(inner | outer | vector)`: where the reduction loops go.
    Reduce(String),
    /// `s.parallel(false)`: no parallel outer loop.
    Parallel(bool),
    /// `s.vectorize(false)`: keep the innermost loops scalar.
    Vectorize(bool),
    /// `r.sliding(false)`: a group root's one producer is computed per
    /// tile with its halo rows, not as a sliding window.
    Sliding(bool),
    /// `s.cache_block(k, cols)`: a `reduce(vector)` stage's reduction in
    /// chunks of `k` steps over `cols` columns at a time.
    CacheBlock {
        /// Steps of the reduction per chunk.
        k: i64,
        /// Columns per chunk.
        cols: i64,
    },
    /// `s.quantize(int8 | int16 | bf16 | float)`: the narrow type asked for
    /// this stage (or `float`: none), over `--quantize`; applied only where
    /// the proven error bound meets the tolerance.
    Quantize(String),
}

/// A body item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    /// A `let`.
    Let(LetId),
    /// A stage definition.
    Stage(StageId),
}

/// An array dim as declared on a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dim {
    /// A size name: bound from the argument at call time; repeated names must agree.
    Size(SizeId),
    /// A fixed extent.
    Fixed(i64),
}

/// A parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// Name.
    pub name: String,
    /// Declaration span.
    pub span: Span,
    /// Element type.
    pub elem: ScalarType,
    /// Dims; `None` for a scalar.
    pub dims: Option<Vec<Dim>>,
    /// `@boundary(mode)`.
    pub boundary: Option<Boundary>,
    /// `@range(lo, hi)`: declared value range.
    pub range: Option<(f64, f64)>,
}

/// A size name.
#[derive(Clone, Debug, PartialEq)]
pub struct SizeDecl {
    /// Name.
    pub name: String,
    /// First parameter that binds it.
    pub param: usize,
    /// Its dim in that parameter.
    pub dim: usize,
}

/// A result declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct ResultDecl {
    /// Name.
    pub name: String,
    /// Declaration span.
    pub span: Span,
    /// Element type.
    pub elem: ScalarType,
    /// Declared extents, affine in size names.
    pub dims: Vec<SizeExpr>,
    /// The stage that defines it.
    pub stage: StageId,
    /// `@tolerance(abs = a, rel = r)`: how far a quantized result may be
    /// from the float one.
    pub tolerance: Option<Tolerance>,
}

/// A result's error tolerance: `|got - exact| <= abs + rel * |exact|`,
/// each part 0 when not given (at least one is).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// Absolute part.
    pub abs: f64,
    /// Relative part.
    pub rel: f64,
}

/// `let name = value;`
#[derive(Clone, Debug, PartialEq)]
pub struct Let {
    /// Name.
    pub name: String,
    /// Statement span.
    pub span: Span,
    /// Value (no index variables in scope).
    pub value: TExpr,
}

/// A stage: `name[vars] = value;`.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    /// Name.
    pub name: String,
    /// Statement span.
    pub span: Span,
    /// Index variables, one per dim.
    pub vars: Vec<VarId>,
    /// Element value.
    pub value: TExpr,
    /// Element type.
    pub elem: ScalarType,
    /// Index into [`Kernel::results`] if this stage is a result.
    pub result: Option<usize>,
    /// Domain per dim, inclusive bounds. For results the declared shape; for
    /// intermediates the union of what consumers read (bounds inference).
    pub domain: Vec<Interval>,
    /// For intermediates, when the reads that make up `domain` happen at
    /// all: the stage is computed if any guard holds, and is empty
    /// otherwise (a consumer with an empty domain reads nothing, though
    /// its reads' index ranges, hulled, may not be empty). Empty for
    /// results and for stages nothing reads.
    pub guards: Vec<ReadGuard>,
    /// When the stage reads its own earlier elements.
    pub recurrence: Option<Recurrence>,
    /// Updates that follow its definition, in order.
    pub updates: Vec<Update>,
}

/// `hist[i32(x[i])] += 1 for i;` (docs/language.md, "Updates"): for every
/// point of `vars`, in order, the element at `indices` becomes itself
/// combined with `value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Update {
    /// `sum` for `+=`, `max` for `max=`, `min` for `min=`.
    pub op: ReduceOp,
    /// The update's variables, outermost first.
    pub vars: Vec<ReduceVar>,
    /// The element each point updates: integer expressions, one per dim.
    pub indices: Vec<TExpr>,
    /// What each point combines in (the stage's type).
    pub value: TExpr,
    /// The statement.
    pub span: Span,
}

impl Update {
    /// Every expression of the update: ranges, indices, value.
    pub fn exprs(&self) -> impl Iterator<Item = &TExpr> {
        self.vars
            .iter()
            .flat_map(|v| [&v.lo, &v.hi])
            .chain(&self.indices)
            .chain([&self.value])
    }
}

impl Stage {
    /// The expressions the stage evaluates: its value, and a recurrence's
    /// `init`.
    pub fn exprs(&self) -> impl Iterator<Item = &TExpr> {
        std::iter::once(&self.value).chain(self.recurrence.as_ref().map(|r| &r.init))
    }
}

/// A stage that reads its own earlier elements along one dim
/// (docs/language.md, "Recurrences"): its elements are computed in order
/// along that dim from index 0, the other dims independent.
#[derive(Clone, Debug, PartialEq)]
pub struct Recurrence {
    /// The scan dim.
    pub dim: usize,
    /// The largest lag of its self-reads (at least 1).
    pub max_lag: i64,
    /// What a self-read before index 0 gives; uses no scan variable.
    pub init: TExpr,
}

/// When a read of an intermediate stage happens: its consumer computes at
/// least one element, and every reduction range around the read is
/// non-empty.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReadGuard {
    /// The stage whose value contains the read; `None` for a `let`, which
    /// is always evaluated.
    pub consumer: Option<StageId>,
    /// The ranges of the reduction variables around the read (the known
    /// ones: an unknown range is assumed non-empty).
    pub ranges: Vec<Interval>,
}

/// An index or reduction variable.
#[derive(Clone, Debug, PartialEq)]
pub struct VarDecl {
    /// Name.
    pub name: String,
    /// Where it is bound.
    pub span: Span,
}

/// A builtin function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Builtin {
    /// `select(c, a, b)`
    Select,
    /// `min(a, b)`
    Min,
    /// `max(a, b)`
    Max,
    /// `abs(a)`
    Abs,
    /// `clamp(v, lo, hi)` = `min(max(v, lo), hi)`
    Clamp,
    /// `exp(x)`
    Exp,
    /// `log(x)`
    Log,
    /// `sqrt(x)`
    Sqrt,
    /// `tanh(x)`
    Tanh,
    /// `floor(x)`
    Floor,
    /// `ceil(x)`
    Ceil,
    /// `pow(x, y)`
    Pow,
    /// `sin(x)`
    Sin,
    /// `cos(x)`
    Cos,
    /// `tan(x)`
    Tan,
    /// `atan2(y, x)`
    Atan2,
    /// `erf(x)`
    Erf,
    /// `log1p(x)`
    Log1p,
    /// `expm1(x)`
    Expm1,
}

impl Builtin {
    /// Every builtin.
    pub const ALL: [Builtin; 19] = [
        Builtin::Select,
        Builtin::Min,
        Builtin::Max,
        Builtin::Abs,
        Builtin::Clamp,
        Builtin::Exp,
        Builtin::Log,
        Builtin::Sqrt,
        Builtin::Tanh,
        Builtin::Floor,
        Builtin::Ceil,
        Builtin::Pow,
        Builtin::Sin,
        Builtin::Cos,
        Builtin::Tan,
        Builtin::Atan2,
        Builtin::Erf,
        Builtin::Log1p,
        Builtin::Expm1,
    ];

    /// Name as written.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Select => "select",
            Builtin::Min => "min",
            Builtin::Max => "max",
            Builtin::Abs => "abs",
            Builtin::Clamp => "clamp",
            Builtin::Exp => "exp",
            Builtin::Log => "log",
            Builtin::Sqrt => "sqrt",
            Builtin::Tanh => "tanh",
            Builtin::Floor => "floor",
            Builtin::Ceil => "ceil",
            Builtin::Pow => "pow",
            Builtin::Sin => "sin",
            Builtin::Cos => "cos",
            Builtin::Tan => "tan",
            Builtin::Atan2 => "atan2",
            Builtin::Erf => "erf",
            Builtin::Log1p => "log1p",
            Builtin::Expm1 => "expm1",
        }
    }

    /// Looks a builtin up by name.
    pub fn from_name(s: &str) -> Option<Builtin> {
        Builtin::ALL.into_iter().find(|b| b.name() == s)
    }

    /// Number of arguments.
    pub fn arity(self) -> usize {
        match self {
            Builtin::Select | Builtin::Clamp => 3,
            Builtin::Min | Builtin::Max | Builtin::Pow | Builtin::Atan2 => 2,
            _ => 1,
        }
    }

    /// Whether it takes floats only (the elementary functions).
    pub fn needs_float(self) -> bool {
        !matches!(
            self,
            Builtin::Select | Builtin::Min | Builtin::Max | Builtin::Abs | Builtin::Clamp
        )
    }
}

/// A typed expression.
#[derive(Clone, Debug, PartialEq)]
pub struct TExpr {
    /// What it is.
    pub kind: TExprKind,
    /// Its type.
    pub ty: ScalarType,
    /// Source span.
    pub span: Span,
}

/// A constant value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Const {
    /// Integer of any integer type (stored widened).
    Int(i64),
    /// Float of any float type.
    Float(f64),
    /// Boolean.
    Bool(bool),
}

/// What an array read reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArraySource {
    /// A parameter.
    Param(usize),
    /// A stage defined earlier.
    Stage(StageId),
}

/// A reduction variable with its half-open range `[lo, hi)`.
#[derive(Clone, Debug, PartialEq)]
pub struct ReduceVar {
    /// The variable.
    pub var: VarId,
    /// Inclusive start.
    pub lo: TExpr,
    /// Exclusive end.
    pub hi: TExpr,
    /// Whether the range was inferred from the dims the variable indexes.
    pub inferred: bool,
}

/// Typed expression forms.
#[derive(Clone, Debug, PartialEq)]
pub enum TExprKind {
    /// A constant of type `ty`.
    Const(Const),
    /// A size name (`i64`).
    Size(SizeId),
    /// A scalar parameter.
    Scalar(usize),
    /// A `let`.
    Let(LetId),
    /// An index or reduction variable (`i64`).
    Var(VarId),
    /// `array[indices]`.
    Read {
        /// The array.
        source: ArraySource,
        /// One integer index per dim.
        indices: Vec<TExpr>,
    },
    /// `-e`, `!e`.
    Unary(UnaryOp, Box<TExpr>),
    /// `a op b`.
    Binary(BinOp, Box<TExpr>, Box<TExpr>),
    /// `f(args)`.
    Call(Builtin, Vec<TExpr>),
    /// `T(e)`: conversion to `ty`.
    Cast(Box<TExpr>),
    /// A recurrence's read of its own element `lag` before this one along
    /// dim `dim` (every other index the element's own); before index 0, the
    /// stage's `init`.
    Prior {
        /// The scan dim.
        dim: usize,
        /// How far back, at least 1.
        lag: i64,
    },
    /// `sum(k) body` etc.
    Reduce {
        /// Combiner.
        op: ReduceOp,
        /// Variables, outermost first.
        vars: Vec<ReduceVar>,
        /// Body.
        body: Box<TExpr>,
    },
}

impl TExpr {
    /// Calls `f` on this expression and every sub-expression, parents first.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a TExpr)) {
        f(self);
        match &self.kind {
            TExprKind::Const(_)
            | TExprKind::Size(_)
            | TExprKind::Scalar(_)
            | TExprKind::Let(_)
            | TExprKind::Var(_)
            | TExprKind::Prior { .. } => {}
            TExprKind::Read { indices, .. } => indices.iter().for_each(|e| e.walk(f)),
            TExprKind::Unary(_, e) | TExprKind::Cast(e) => e.walk(f),
            TExprKind::Binary(_, a, b) => {
                a.walk(f);
                b.walk(f);
            }
            TExprKind::Call(_, args) => args.iter().for_each(|e| e.walk(f)),
            TExprKind::Reduce { vars, body, .. } => {
                for v in vars {
                    v.lo.walk(f);
                    v.hi.walk(f);
                }
                body.walk(f);
            }
        }
    }
}
