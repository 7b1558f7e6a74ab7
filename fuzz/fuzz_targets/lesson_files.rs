//! Lesson files (`#lesson=` links, YAML or JSON a teacher writes): arbitrary text is read
//! or refused with a message; a lesson that is read has a valid setup at every step, and
//! the page opens it from a link (or shows a notice) without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sweeplab_web::lesson::Lesson;
use sweeplab_web::setup::{Setup, encode_component};
use sweeplab_web::state::{Action, Env, State, reduce};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(lesson) = Lesson::parse(text) {
        let mut setup = lesson
            .start_setup()
            .expect("a lesson that reads has a start setup");
        for step in &lesson.steps {
            setup = step
                .apply(&setup)
                .expect("a lesson that reads applies every step");
            let _ = setup.problems();
        }
    }
    // The page, opened from a link that carries the text.
    let env = Env {
        now_ms: 0.0,
        epoch_ms: 0.0,
        stamp: "2026-01-01-00-00-00".into(),
    };
    let mut state = State::new(Setup::preset("spiral-mlp"));
    let hash = format!("#lesson={}&step=2", encode_component(text));
    let _ = reduce(&mut state, Action::Opening(hash), &env);
    if state.lesson.is_some() {
        let _ = reduce(&mut state, Action::LessonStep(1), &env);
        let _ = reduce(&mut state, Action::LessonStep(usize::MAX), &env);
        let _ = state.hash();
    }
});
