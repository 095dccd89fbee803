//! The syntax tree exactly as written, with spans. Produced by the parser,
//! consumed by [`crate::check`]. Nothing here is resolved or typed.

pub use crate::lexer::ReduceOp;
use crate::span::Span;

/// A parsed `.pj` file.
#[derive(Clone, Debug, PartialEq)]
pub struct File {
    /// Kernels in source order.
    pub kernels: Vec<Kernel>,
    /// Helper functions (`fn`) in source order.
    pub functions: Vec<Function>,
}

/// `fn name(x: f32, ...) -> f32 { let t = ...; value }`: a pure function
/// of scalars, inlined where it is called.
#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    /// Name.
    pub name: Ident,
    /// Scalar parameters.
    pub params: Vec<Param>,
    /// The result's element type name.
    pub ret: Ident,
    /// `let` bindings before the value, in order.
    pub lets: Vec<(Ident, Expr)>,
    /// The value returned.
    pub value: Expr,
    /// The whole function.
    pub span: Span,
}

/// A top-level item of a file.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// `kernel ...`
    Kernel(Kernel),
    /// `fn ...`
    Function(Function),
}

/// A name with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where it was written.
    pub span: Span,
}

/// `kernel name(params) -> results { body }`
#[derive(Clone, Debug, PartialEq)]
pub struct Kernel {
    /// Kernel name.
    pub name: Ident,
    /// Parameters.
    pub params: Vec<Param>,
    /// Results.
    pub results: Vec<Param>,
    /// `where C >= 4, H % 2 == 0`: conditions on the sizes.
    pub constraints: Vec<Expr>,
    /// Statements.
    pub body: Vec<Stmt>,
    /// The whole kernel.
    pub span: Span,
}

/// A parameter or a result: `name: f32[H, W] @boundary(clamp)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// Name.
    pub name: Ident,
    /// Element type name (`f32`, ...), checked later.
    pub elem: Ident,
    /// Dims, if this is an array.
    pub dims: Option<Vec<Expr>>,
    /// `@name(args)` annotations.
    pub annotations: Vec<Annotation>,
    /// The whole declaration.
    pub span: Span,
}

/// `@boundary(clamp)`, `@range(0.0, 1.0)`, `@tolerance(abs = 1e-2)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Annotation {
    /// Annotation name.
    pub name: Ident,
    /// Positional arguments.
    pub args: Vec<Expr>,
    /// Named arguments (`abs = 1e-2`), in order.
    pub named: Vec<(Ident, Expr)>,
    /// The whole annotation.
    pub span: Span,
}

/// A statement of a kernel body.
#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    /// `let name = value;`
    Let {
        /// Bound name.
        name: Ident,
        /// Value.
        value: Expr,
        /// Whole statement.
        span: Span,
    },
    /// `name[i, j] = value;` defines a stage.
    Def {
        /// Stage name.
        name: Ident,
        /// Index variables bound over the stage's domain.
        indices: Vec<Ident>,
        /// Element value.
        value: Expr,
        /// `init e`: what a recurrence's reads before its first element
        /// give (docs/language.md, "Recurrences").
        init: Option<Expr>,
        /// Whole statement.
        span: Span,
    },
    /// `name[indices] += value for vars;` (or `max=`, `min=`): combines
    /// `value` into the element at `indices` for every point of `vars`.
    Update {
        /// The stage updated.
        target: Ident,
        /// Where each value goes; any integer expressions.
        indices: Vec<Expr>,
        /// The combiner as written.
        op: UpdateOp,
        /// What is combined in.
        value: Expr,
        /// The update's variables, with ranges as a reduction's.
        vars: Vec<ReduceVar>,
        /// Whole statement.
        span: Span,
    },
    /// `schedule { stage.directive(args); ... }`: how stages are computed.
    Schedule {
        /// The word before the brace (must be `schedule`).
        keyword: Ident,
        /// The directives, in order.
        directives: Vec<Directive>,
        /// Whole block.
        span: Span,
    },
    /// A statement the parser could not read (already reported).
    Error(Span),
}

/// `stage.name(args);` in a schedule block.
#[derive(Clone, Debug, PartialEq)]
pub struct Directive {
    /// The stage it applies to.
    pub stage: Ident,
    /// `compute_at`, `tile`, `reduce`, ...
    pub name: Ident,
    /// Arguments.
    pub args: Vec<Expr>,
    /// The whole directive.
    pub span: Span,
}

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where.
    pub span: Span,
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-e`
    Neg,
    /// `!e`
    Not,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `&&`
    And,
    /// `||`
    Or,
}

impl BinOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::And => "&&",
            BinOp::Or => "||",
        }
    }

    /// `<`, `<=`, `>`, `>=`, `==`, `!=`.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne
        )
    }
}

/// The combiner of an update as written: `+` for `+=`, else the name
/// before `=` (`max`, `min`).
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateOp {
    /// `+`, or the name.
    pub name: String,
    /// Where it is written.
    pub span: Span,
}

/// A reduction variable: `k` or `k in lo..hi`.
#[derive(Clone, Debug, PartialEq)]
pub struct ReduceVar {
    /// Variable name.
    pub name: Ident,
    /// Explicit half-open range.
    pub range: Option<(Expr, Expr)>,
}

/// Expression forms.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// Integer literal.
    Int(i64),
    /// Float literal.
    Float(f64),
    /// `true` / `false`.
    Bool(bool),
    /// A name: scalar parameter, size, `let`, index or reduction variable.
    Name(Ident),
    /// `array[i, j]`.
    Index {
        /// The array read.
        array: Ident,
        /// One index per dimension.
        indices: Vec<Expr>,
    },
    /// `f(args)`: builtins and casts.
    Call {
        /// Function (or type) name.
        func: Ident,
        /// Arguments.
        args: Vec<Expr>,
    },
    /// `-e`, `!e`.
    Unary {
        /// Operator.
        op: UnaryOp,
        /// Operand.
        expr: Box<Expr>,
    },
    /// `a op b`.
    Binary {
        /// Operator.
        op: BinOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// `sum(k, l) body`.
    Reduce {
        /// Combiner.
        op: ReduceOp,
        /// Reduction variables.
        vars: Vec<ReduceVar>,
        /// Summand.
        body: Box<Expr>,
    },
}

impl Expr {
    /// `lhs op rhs`, spanning both operands.
    pub fn binary(op: BinOp, lhs: Expr, rhs: Expr) -> Expr {
        let span = lhs.span.to(rhs.span);
        Expr {
            kind: ExprKind::Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            },
            span,
        }
    }

    /// `op expr` starting at byte `start`.
    pub fn unary(start: usize, op: UnaryOp, expr: Expr) -> Expr {
        let span = Span::new(start, expr.span.end);
        Expr {
            kind: ExprKind::Unary {
                op,
                expr: Box::new(expr),
            },
            span,
        }
    }
}
