//! Generated programs through every configuration (`picojoule::difftest`):
//! a few hundred seeds in CI; `pj difftest --count N` runs more, and
//! docs/reliability.md records the large campaigns.

use picojoule::difftest::{self, Verdict};

#[test]
fn generated_programs_agree_with_the_interpreter_everywhere() {
    let mut reports = Vec::new();
    let tally = difftest::campaign(0, 300, |seed, v| {
        if let Verdict::Mismatch(r) = v {
            reports.push(format!("seed {seed}:\n{r}"));
        }
    });
    assert!(reports.is_empty(), "{}", reports.join("\n\n"));
    // the generator must mostly make programs that run: a generator whose
    // programs are all rejected, or all fail, tests nothing
    assert!(tally.agreed >= 200, "{tally:?}");
    assert!(tally.agreed_on_error >= 20, "{tally:?}");
}

#[test]
fn a_seed_always_makes_the_same_program() {
    let (a, b) = (difftest::generate(42), difftest::generate(42));
    assert_eq!(a.source, b.source);
    assert_eq!(format!("{:?}", a.args), format!("{:?}", b.args));
    assert_ne!(a.source, difftest::generate(43).source);
}
