//! Compiles the plain-loop C baselines, the hand-vectorized 128-bit
//! versions and the roofline probes with the optimization a C programmer
//! would reach for first: `-O3 -march=native`.

fn main() {
    println!("cargo:rerun-if-changed=c/baselines.c");
    println!("cargo:rerun-if-changed=c/probes.c");
    println!("cargo:rerun-if-changed=c/vec128.c");
    cc::Build::new()
        .file("c/baselines.c")
        .file("c/probes.c")
        .flag_if_supported("-O3")
        .flag_if_supported("-march=native")
        .opt_level(3)
        .warnings(false)
        .compile("pj_bench_c");
    // the 128-bit versions do picojoule's arithmetic: no multiply-adds
    // fused behind their back (GCC fuses by default where the machine has
    // FMA), so their `exp` costs what picojoule's does
    cc::Build::new()
        .file("c/vec128.c")
        .flag_if_supported("-O3")
        .flag_if_supported("-march=native")
        .flag_if_supported("-ffp-contract=off")
        .opt_level(3)
        .warnings(false)
        .compile("pj_bench_c128");
}
