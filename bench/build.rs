//! Compiles the plain-loop C baselines and the roofline probes with the
//! optimization a C programmer would reach for first: `-O3 -march=native`.

fn main() {
    println!("cargo:rerun-if-changed=c/baselines.c");
    println!("cargo:rerun-if-changed=c/probes.c");
    cc::Build::new()
        .file("c/baselines.c")
        .file("c/probes.c")
        .flag_if_supported("-O3")
        .flag_if_supported("-march=native")
        .opt_level(3)
        .warnings(false)
        .compile("pj_bench_c");
}
