//! The page's header: the study's name and the page-wide actions.

use yew::prelude::*;

use super::SavedStudies;
use crate::state::{Action, Listed};

/// Props of [`Header`].
#[derive(Properties, PartialEq)]
pub struct HeaderProps {
    /// The current study's name.
    pub study_name: Option<String>,
    /// The share link was copied.
    pub share_copied: bool,
    /// The saved-studies panel is open.
    pub saved_open: bool,
    /// The saved studies (`None` while they load).
    pub saved: Option<Vec<Listed>>,
    /// Sends actions to the reducer.
    pub dispatch: Callback<Action>,
}

/// The brand, the study's name, New study, Saved studies and Share link.
#[function_component]
pub fn Header(props: &HeaderProps) -> Html {
    let dispatch = &props.dispatch;
    html! {
        <header class="header">
            <div class="brand">
                <span class="logo" aria-hidden="true">{ "◆" }</span>
                <span class="name">{ "sweeplab" }</span>
                <span class="tagline">{ "try, teach and learn hyperparameter search" }</span>
            </div>
            <nav class="actions">
                if let Some(n) = &props.study_name {
                    <span class="study-name" data-testid="study-name" title="the current study">{ n.clone() }</span>
                }
                <button class="btn ghost" data-testid="new-study" onclick={dispatch.reform(|_| Action::NewStudy)}>{ "New" }<span class="long">{ " study" }</span></button>
                <button class="btn ghost" data-testid="saved-toggle" onclick={dispatch.reform(|_| Action::ToggleSaved)}>{ "Saved" }<span class="long">{ " studies" }</span></button>
                <button class="btn ghost" data-testid="share" onclick={dispatch.reform(|_| Action::Share)}
                    title="copy a link that opens this setup">{ if props.share_copied { "Copied" } else { "Share" } }<span class="long">{ " link" }</span></button>
            </nav>
            if props.saved_open {
                <SavedStudies saved={props.saved.clone()} dispatch={dispatch.clone()} />
            }
        </header>
    }
}
