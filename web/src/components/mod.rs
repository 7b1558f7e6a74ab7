//! The playground's parts, as Yew function components: each gets the slice of the
//! [`State`](crate::state::State) it shows as props, and a `dispatch` callback that sends
//! [`Action`]s to the reducer. None holds state of its own beyond what the DOM holds.

mod baselines_view;
mod downloads;
mod explain_view;
mod header;
mod histogram_view;
mod lesson_panel;
mod run_panel;
mod saved;
mod setup_panel;
mod study_panel;
mod trials_table;

pub use baselines_view::BaselinesCard;
pub use downloads::Downloads;
pub use explain_view::ExplainView;
pub use header::Header;
pub use histogram_view::HistogramView;
pub use lesson_panel::LessonPanel;
pub use run_panel::RunPanel;
pub use saved::SavedStudies;
pub use setup_panel::SetupPanel;
pub use study_panel::{LivePanel, StudyPanel};
pub use trials_table::TrialsTable;

use std::rc::Rc;

use sweeplab_core::ParamValue;
use yew::prelude::*;

use crate::scale::precise;
use crate::setup::Setup;
use crate::state::Action;

/// Props of [`Info`].
#[derive(Properties, PartialEq)]
pub struct InfoProps {
    /// What it explains, as the button's label says it: "What is {topic}?".
    pub topic: AttrValue,
    /// One or two sentences.
    pub text: AttrValue,
}

/// An ⓘ button that opens a short plain-language explanation (a `<details>`: it opens by
/// click, Enter or Space, with no script of its own).
#[function_component]
pub fn Info(props: &InfoProps) -> Html {
    html! {
        <details class="info">
            <summary aria-label={format!("What is {}?", props.topic)} title={format!("What is {}?", props.topic)}>{ "i" }</summary>
            <div class="info-pop" role="note" data-testid="info-text">{ props.text.clone() }</div>
        </details>
    }
}

/// The value of an input, select or textarea event's target (`"true"`/`"false"` for a
/// checkbox).
pub(crate) fn value_of(e: &Event) -> String {
    use wasm_bindgen::JsCast;
    let Some(t) = e.target() else {
        return String::new();
    };
    if let Some(i) = t.dyn_ref::<web_sys::HtmlInputElement>() {
        if i.type_() == "checkbox" {
            return i.checked().to_string();
        }
        return i.value();
    }
    if let Some(s) = t.dyn_ref::<web_sys::HtmlSelectElement>() {
        return s.value();
    }
    if let Some(a) = t.dyn_ref::<web_sys::HtmlTextAreaElement>() {
        return a.value();
    }
    String::new()
}

/// A callback that applies `f(setup, value)` with the event target's value.
pub(crate) fn edit<E: AsRef<Event> + 'static>(
    dispatch: &Callback<Action>,
    f: impl Fn(&mut Setup, String) + 'static,
) -> Callback<E> {
    let f = Rc::new(f);
    dispatch.reform(move |e: E| {
        let v = value_of(e.as_ref());
        let f = f.clone();
        Action::Edit(Rc::new(move |s: &mut Setup| f(s, v.clone())))
    })
}

/// A parameter's value as the page shows it.
pub(crate) fn fmt_param(v: &ParamValue) -> String {
    match v {
        ParamValue::Float(f) => precise(*f),
        other => other.to_string(),
    }
}
