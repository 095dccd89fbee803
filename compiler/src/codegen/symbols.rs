//! The C names of ahead-of-time kernels, for every backend: kernel `blur`
//! is the global symbol `blur`, its shape companion `blur_shape`.
//!
//! Symbols in an object are global: a kernel named `memcpy` would replace
//! the C library's in the program it is linked into, one named `int` would
//! break the header. So before code generation, [`check_c_names`] refuses
//! names that a C program cannot declare as a function of its own: C
//! keywords, identifiers the C standard reserves (the standard library's
//! functions and macros, a leading underscore, a `_t` suffix that POSIX
//! keeps for types), `main`, the runtime's `pj_` prefix, and two kernels
//! whose symbols collide (`k`'s shape companion and a kernel `k_shape`).
//! The JIT needs none of this: its symbols are local.

use crate::ir::Module;
use std::collections::HashMap;

/// The C symbol of a `func.func`: its name, with `.shape` as `_shape`.
pub fn c_symbol(name: &str) -> String {
    name.replace('.', "_")
}

/// C keywords (C23, which includes C89-C17's), and the names `<stdint.h>`
/// and `<stddef.h>` declare that a generated header uses or includes.
const C_KEYWORDS: &[&str] = &[
    "alignas",
    "alignof",
    "auto",
    "bool",
    "break",
    "case",
    "char",
    "const",
    "constexpr",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "false",
    "float",
    "for",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "nullptr",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "static_assert",
    "struct",
    "switch",
    "thread_local",
    "true",
    "typedef",
    "typeof",
    "typeof_unqual",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
    "offsetof",
    "NULL",
];

/// Functions and function-like macros of the C standard library (C17
/// §7, the hosted headers), and of POSIX's that every C program on Linux
/// and macOS links: a kernel of one of these names would replace it.
const C_LIBRARY: &[&str] = &[
    // <assert.h> <ctype.h> <errno.h> <locale.h> <setjmp.h> <signal.h>
    "assert",
    "isalnum",
    "isalpha",
    "isblank",
    "iscntrl",
    "isdigit",
    "isgraph",
    "islower",
    "isprint",
    "ispunct",
    "isspace",
    "isupper",
    "isxdigit",
    "tolower",
    "toupper",
    "errno",
    "setlocale",
    "localeconv",
    "setjmp",
    "longjmp",
    "signal",
    "raise",
    // <math.h>
    "acos",
    "asin",
    "atan",
    "atan2",
    "cos",
    "sin",
    "tan",
    "acosh",
    "asinh",
    "atanh",
    "cosh",
    "sinh",
    "tanh",
    "exp",
    "exp2",
    "expm1",
    "frexp",
    "ilogb",
    "ldexp",
    "log",
    "log10",
    "log1p",
    "log2",
    "logb",
    "modf",
    "scalbn",
    "scalbln",
    "cbrt",
    "fabs",
    "hypot",
    "pow",
    "sqrt",
    "erf",
    "erfc",
    "lgamma",
    "tgamma",
    "ceil",
    "floor",
    "nearbyint",
    "rint",
    "lrint",
    "llrint",
    "round",
    "lround",
    "llround",
    "trunc",
    "fmod",
    "remainder",
    "remquo",
    "copysign",
    "nan",
    "nextafter",
    "nexttoward",
    "fdim",
    "fmax",
    "fmin",
    "fma",
    "isnan",
    "isinf",
    "isfinite",
    "isnormal",
    "signbit",
    "fpclassify",
    "acosf",
    "asinf",
    "atanf",
    "atan2f",
    "cosf",
    "sinf",
    "tanf",
    "expf",
    "exp2f",
    "logf",
    "log2f",
    "log10f",
    "powf",
    "sqrtf",
    "fabsf",
    "floorf",
    "ceilf",
    "roundf",
    "truncf",
    "fmodf",
    "fmaf",
    "fminf",
    "fmaxf",
    "tanhf",
    "erff",
    // <stdio.h>
    "remove",
    "rename",
    "tmpfile",
    "tmpnam",
    "fclose",
    "fflush",
    "fopen",
    "freopen",
    "setbuf",
    "setvbuf",
    "fprintf",
    "fscanf",
    "printf",
    "scanf",
    "snprintf",
    "sprintf",
    "sscanf",
    "vfprintf",
    "vfscanf",
    "vprintf",
    "vscanf",
    "vsnprintf",
    "vsprintf",
    "vsscanf",
    "fgetc",
    "fgets",
    "fputc",
    "fputs",
    "getc",
    "getchar",
    "putc",
    "putchar",
    "puts",
    "ungetc",
    "fread",
    "fwrite",
    "fgetpos",
    "fseek",
    "fsetpos",
    "ftell",
    "rewind",
    "clearerr",
    "feof",
    "ferror",
    "perror",
    "stdin",
    "stdout",
    "stderr",
    // <stdlib.h>
    "atof",
    "atoi",
    "atol",
    "atoll",
    "strtod",
    "strtof",
    "strtold",
    "strtol",
    "strtoll",
    "strtoul",
    "strtoull",
    "rand",
    "srand",
    "aligned_alloc",
    "calloc",
    "free",
    "malloc",
    "realloc",
    "abort",
    "atexit",
    "at_quick_exit",
    "exit",
    "_Exit",
    "getenv",
    "quick_exit",
    "system",
    "bsearch",
    "qsort",
    "abs",
    "labs",
    "llabs",
    "div",
    "ldiv",
    "lldiv",
    "mblen",
    "mbtowc",
    "wctomb",
    "mbstowcs",
    "wcstombs",
    // <string.h>
    "memcpy",
    "memmove",
    "strcpy",
    "strncpy",
    "strcat",
    "strncat",
    "memcmp",
    "strcmp",
    "strcoll",
    "strncmp",
    "strxfrm",
    "memchr",
    "strchr",
    "strcspn",
    "strpbrk",
    "strrchr",
    "strspn",
    "strstr",
    "strtok",
    "memset",
    "strerror",
    "strlen",
    "strdup",
    "strndup",
    // <time.h>
    "clock",
    "difftime",
    "mktime",
    "time",
    "timespec_get",
    "asctime",
    "ctime",
    "gmtime",
    "localtime",
    "strftime",
    // POSIX, linked by every program
    "read",
    "write",
    "open",
    "close",
    "lseek",
    "pipe",
    "dup",
    "dup2",
    "fork",
    "execve",
    "execv",
    "execvp",
    "wait",
    "waitpid",
    "kill",
    "sleep",
    "usleep",
    "getpid",
    "mmap",
    "munmap",
    "mprotect",
    "select",
    "poll",
    "socket",
    "connect",
    "bind",
    "listen",
    "accept",
    "send",
    "recv",
    "stat",
    "fstat",
    "lstat",
    "unlink",
    "mkdir",
    "rmdir",
    "chdir",
    "getcwd",
    "pthread_create",
    "pthread_join",
    "posix_memalign",
    "dlopen",
    "dlsym",
    "dlclose",
    "environ",
    "optarg",
    "optind",
    "getopt",
    "sysconf",
    "ioctl",
    "fcntl",
    "access",
];

/// Why `symbol` cannot be a kernel's global C symbol, if it cannot.
fn reserved(symbol: &str) -> Option<&'static str> {
    if symbol == "main" {
        Some("it is the program's entry point")
    } else if C_KEYWORDS.contains(&symbol) {
        Some("it is a C keyword or a name the generated header uses")
    } else if C_LIBRARY.contains(&symbol) {
        Some("the C library defines it, and a global kernel symbol would replace it")
    } else if symbol.starts_with("pj_") || symbol.starts_with("PJ_") {
        Some("the `pj_` prefix belongs to picojoule's runtime")
    } else if symbol.starts_with('_') {
        Some("C reserves names with a leading underscore")
    } else if symbol.ends_with("_t") {
        Some("POSIX reserves names ending in `_t` for types")
    } else {
        None
    }
}

/// Refuses kernels of `ir` (those named in `only`, all if empty) whose C
/// symbols a program could not link: see the module documentation. The
/// message names the kernel, why, and what to do.
pub fn check_c_names(ir: &Module, only: &[String]) -> Result<(), String> {
    let mut owners: HashMap<String, String> = HashMap::new();
    let mut problems = Vec::new();
    // each kernel, at either level, owns its symbol and its shape
    // function's (a lowered module lists the shape functions separately)
    for f in ir.kernels() {
        if ir.op(f).attr("shape_of").is_some() {
            continue;
        }
        let kernel = crate::dialects::signature(ir, f).name;
        if !only.is_empty() && !only.contains(&kernel) {
            continue;
        }
        let symbol = c_symbol(&kernel);
        if let Some(why) = reserved(&symbol) {
            problems.push(format!(
                "kernel `{kernel}` cannot be compiled ahead of time: its C symbol `{symbol}` is reserved ({why}); rename the kernel"
            ));
        }
        for symbol in [symbol.clone(), format!("{symbol}_shape")] {
            if let Some(other) = owners.insert(symbol.clone(), kernel.clone())
                && other != kernel
            {
                problems.push(format!(
                    "kernels `{other}` and `{kernel}` both need the C symbol `{symbol}` (a kernel's shape function is `<kernel>_shape`); rename one"
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        problems.sort();
        problems.dedup();
        Err(problems.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names_say_why() {
        for (name, why) in [
            ("memcpy", "C library"),
            ("main", "entry point"),
            ("int", "keyword"),
            ("float", "keyword"),
            ("pj_rt_alloc", "runtime"),
            ("_hidden", "underscore"),
            ("size_t", "_t"),
        ] {
            let got = reserved(name).unwrap_or_else(|| panic!("{name} accepted"));
            assert!(got.contains(why), "{name}: {got}");
        }
        for fine in [
            "blur", "softmax", "matmul", "k", "k_shape", "memcpy2", "integer",
        ] {
            assert_eq!(reserved(fine), None, "{fine}");
        }
    }
}
