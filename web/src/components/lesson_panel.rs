//! The lesson beside the study: its title, the step's text, Back and Next, and the links to
//! the shipped lessons when none is open.

use yew::prelude::*;

use crate::lesson::SHIPPED;
use crate::state::{Action, OpenLesson};

/// Props of [`LessonPanel`].
#[derive(Properties, PartialEq)]
pub struct LessonProps {
    /// The open lesson, if any.
    pub lesson: Option<OpenLesson>,
    /// Sends actions to the reducer.
    pub dispatch: Callback<Action>,
}

/// Titles of the shipped lessons for the links (the lesson's own title, read once).
fn shipped_titles() -> Vec<(&'static str, String)> {
    SHIPPED
        .iter()
        .map(|(name, text)| {
            let title = crate::lesson::Lesson::parse(text)
                .map(|l| l.title)
                .unwrap_or_else(|_| (*name).to_string());
            (*name, title)
        })
        .collect()
}

/// The open lesson's step with Back and Next; without one, links to the shipped lessons.
#[function_component]
pub fn LessonPanel(props: &LessonProps) -> Html {
    let dispatch = &props.dispatch;
    let Some(l) = &props.lesson else {
        let titles = use_memo((), |_| shipped_titles());
        return html! {
            <nav class="lessons small" aria-label="lessons" data-testid="lesson-links">
                <span class="muted">{ "Lessons: " }</span>
                { for titles.iter().enumerate().map(|(i, (name, title))| html! {
                    <>
                        if i > 0 { <span class="muted">{ " · " }</span> }
                        <a href={format!("#lesson={name}")} data-testid={format!("lesson-link-{name}")}>{ title.clone() }</a>
                    </>
                }) }
            </nav>
        };
    };
    let n = l.lesson.steps.len();
    let step = l.step.min(n - 1);
    let text = &l.lesson.steps[step].text;
    html! {
        <section class="lesson" aria-label="lesson" data-testid="lesson">
            <div class="lesson-head">
                <h2>{ l.lesson.title.clone() }</h2>
                <button class="icon" aria-label="close the lesson" data-testid="lesson-close"
                    onclick={dispatch.reform(|_| Action::LessonClose)}>{ "×" }</button>
            </div>
            <p class="muted small" data-testid="lesson-step">{ format!("Step {} of {n}", step + 1) }</p>
            <div class="lesson-text" data-testid="lesson-text">
                { for text.split("\n\n").filter(|p| !p.trim().is_empty()).map(|p| html! { <p>{ p.trim().to_string() }</p> }) }
            </div>
            <div class="row">
                <button class="btn small" data-testid="lesson-back" disabled={step == 0}
                    onclick={dispatch.reform(move |_| Action::LessonStep(step.saturating_sub(1)))}>{ "‹ Back" }</button>
                <button class="btn small primary" data-testid="lesson-next" disabled={step + 1 >= n}
                    onclick={dispatch.reform(move |_| Action::LessonStep(step + 1))}>{ "Next ›" }</button>
            </div>
        </section>
    }
}
