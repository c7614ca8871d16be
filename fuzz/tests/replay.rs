//! Every seed and every input that once made a target fail, replayed
//! through the target's own code on stable Rust, in `cargo xtask test`:
//! a crash the fuzzer found stays fixed. (`fuzz/seeds/TARGET/` are the
//! corpora the fuzzer starts from; `fuzz/regressions/TARGET/` are the
//! inputs of crashes once found, each kept with a line in its README.)

use std::path::Path;

#[test]
fn every_seed_and_past_crash_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut replayed = 0;
    for (target, run) in dropcast_fuzz::TARGETS {
        let seeds = root.join("seeds").join(target);
        assert!(
            seeds.is_dir(),
            "{target} has no seed corpus in {}",
            seeds.display()
        );
        for dir in [seeds, root.join("regressions").join(target)] {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let input = std::fs::read(&path).unwrap();
                let done = std::panic::catch_unwind(|| run(&input));
                assert!(done.is_ok(), "{target} fails on {}", path.display());
                replayed += 1;
            }
        }
    }
    assert!(replayed >= 20, "{replayed} inputs");
}
