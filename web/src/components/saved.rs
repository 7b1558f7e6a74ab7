//! The saved-studies panel.

use yew::prelude::*;

use crate::scale::precise;
use crate::state::{Action, Listed};

/// Props of [`SavedStudies`].
#[derive(Properties, PartialEq)]
pub struct SavedProps {
    /// The saved studies (`None` while they load).
    pub saved: Option<Vec<Listed>>,
    /// Sends actions to the reducer.
    pub dispatch: Callback<Action>,
}

/// The studies saved in this browser: open or delete each; a corrupt one says why.
#[function_component]
pub fn SavedStudies(props: &SavedProps) -> Html {
    let dispatch = &props.dispatch;
    let body = match &props.saved {
        None => html! { <p class="muted">{ "Loading…" }</p> },
        Some(l) if l.is_empty() => {
            html! { <p class="muted">{ "No saved studies yet: every study is saved here after each trial." }</p> }
        }
        Some(l) => html! {
            <ul class="saved-list">
                { for l.iter().map(|e| match e {
                    Listed::Ok(m) => {
                        let id = m.id.clone();
                        let id2 = m.id.clone();
                        html! {
                            <li data-testid="saved-item">
                                <div class="saved-main">
                                    <strong>{ m.id.clone() }</strong>
                                    <span class="muted">{ format!("{} trials · best {}", m.finished, m.best.map_or("–".into(), precise)) }</span>
                                </div>
                                <button class="btn small" onclick={dispatch.reform(move |_| Action::Open(id.clone()))}>{ "Open" }</button>
                                <button class="btn small ghost" onclick={dispatch.reform(move |_| Action::Delete(id2.clone()))}>{ "Delete" }</button>
                            </li>
                        }
                    }
                    Listed::Corrupt(id, err) => {
                        let id2 = id.clone();
                        html! {
                            <li class="corrupt" data-testid="saved-corrupt">
                                <div class="saved-main">
                                    <strong>{ id.clone() }</strong>
                                    <span class="error-text">{ format!("cannot be read: {}", crate::plain_quotes(err)) }</span>
                                </div>
                                <button class="btn small ghost" onclick={dispatch.reform(move |_| Action::Delete(id2.clone()))}>{ "Delete" }</button>
                            </li>
                        }
                    }
                }) }
            </ul>
        },
    };
    html! {
        <div class="saved-panel" data-testid="saved-panel">
            <h3>{ "Saved studies" }</h3>
            { body }
        </div>
    }
}
