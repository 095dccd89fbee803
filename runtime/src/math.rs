//! Elementary functions for generated code. They are Rust's `std`
//! functions — the ones the reference interpreter evaluates — so native
//! results agree with the interpreter exactly.

macro_rules! unary {
    ($($name:ident: $t:ty => $f:ident),* $(,)?) => {$(
        #[doc = concat!("`", stringify!($f), "` on `", stringify!($t), "`.")]
        #[unsafe(no_mangle)]
        pub extern "C" fn $name(x: $t) -> $t {
            x.$f()
        }
    )*};
}

unary!(
    pj_rt_expf: f32 => exp,
    pj_rt_exp: f64 => exp,
    pj_rt_logf: f32 => ln,
    pj_rt_log: f64 => ln,
    pj_rt_tanhf: f32 => tanh,
    pj_rt_tanh: f64 => tanh,
);

/// `x^y` on `f32`.
#[unsafe(no_mangle)]
pub extern "C" fn pj_rt_powf(x: f32, y: f32) -> f32 {
    x.powf(y)
}

/// `x^y` on `f64`.
#[unsafe(no_mangle)]
pub extern "C" fn pj_rt_pow(x: f64, y: f64) -> f64 {
    x.powf(y)
}

/// `x % y` on `f32` (fmod: the sign of `x`).
#[unsafe(no_mangle)]
pub extern "C" fn pj_rt_fmodf(x: f32, y: f32) -> f32 {
    x % y
}

/// `x % y` on `f64`.
#[unsafe(no_mangle)]
pub extern "C" fn pj_rt_fmod(x: f64, y: f64) -> f64 {
    x % y
}

/// Every function above with its address, for a JIT to resolve symbols.
pub fn symbols() -> Vec<(&'static str, *const u8)> {
    vec![
        ("pj_rt_expf", pj_rt_expf as *const u8),
        ("pj_rt_exp", pj_rt_exp as *const u8),
        ("pj_rt_logf", pj_rt_logf as *const u8),
        ("pj_rt_log", pj_rt_log as *const u8),
        ("pj_rt_tanhf", pj_rt_tanhf as *const u8),
        ("pj_rt_tanh", pj_rt_tanh as *const u8),
        ("pj_rt_powf", pj_rt_powf as *const u8),
        ("pj_rt_pow", pj_rt_pow as *const u8),
        ("pj_rt_fmodf", pj_rt_fmodf as *const u8),
        ("pj_rt_fmod", pj_rt_fmod as *const u8),
        ("pj_rt_fail", crate::error::pj_rt_fail as *const u8),
        ("pj_rt_alloc", crate::alloc::pj_rt_alloc as *const u8),
        ("pj_rt_free", crate::alloc::pj_rt_free as *const u8),
        (
            "pj_rt_parallel_for",
            crate::parallel::pj_rt_parallel_for as *const u8,
        ),
    ]
}
