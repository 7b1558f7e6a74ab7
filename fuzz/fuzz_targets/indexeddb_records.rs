//! What the page reads back from IndexedDB, which another tab, an older version or a full
//! disk may have written: a study's summary (`StudyMeta`, JSON) on the first line and its
//! journal after it. The reducer opens it (`Action::Opened`) or shows why not; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sweeplab_web::setup::Setup;
use sweeplab_web::state::{Action, Env, State, StudyMeta, reduce};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (meta, journal) = text.split_once('\n').unwrap_or((&text, ""));
    let Ok(meta) = serde_json::from_str::<StudyMeta>(meta) else {
        return;
    };
    let mut state = State::new(Setup::preset("spiral-mlp"));
    let action = Action::Opened(Ok((meta, journal.to_string())));
    let _ = reduce(&mut state, action, &Env::default());
});
