//! The page's URL hash (`#setup=…`, `#preset=…`), which anyone can hand over as a link:
//! arbitrary text is read or refused, a setup that is read answers `problems()`,
//! `search_space()`, `sampler(0)` and `pruner()`, and its own hash reads back to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sweeplab_web::setup::Setup;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(Some(setup)) = Setup::from_hash(text) else {
        return;
    };
    let _ = setup.problems();
    let _ = setup.search_space();
    let _ = setup.sampler(0);
    let _ = setup.pruner();
    let hash = setup.to_hash();
    match Setup::from_hash(&hash) {
        Ok(Some(again)) => assert_eq!(again, setup, "the setup's own hash reads back to another"),
        other => panic!("the setup's own hash does not read back: {other:?}\n{hash}"),
    }
});
