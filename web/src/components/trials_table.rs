//! The trials table: sortable, paged, a row selects its trial.

use yew::prelude::*;

use super::fmt_param;
use crate::data::{Column, StudyData, fmt_duration, shown_state, sort_trials};
use crate::scale::precise;
use crate::state::{Action, PAGE};

/// Props of [`TrialsTable`].
#[derive(Properties, PartialEq)]
pub struct TableProps {
    /// The study.
    pub data: StudyData,
    /// The sort column and whether ascending.
    pub sort: (Column, bool),
    /// The page shown.
    pub page: usize,
    /// The selected trial.
    pub selected: Option<u64>,
    /// Sends actions to the reducer.
    pub dispatch: Callback<Action>,
}

/// Every trial: number, state, value, parameters and duration.
#[function_component]
pub fn TrialsTable(props: &TableProps) -> Html {
    let dispatch = &props.dispatch;
    let trials = &props.data.trials;
    let axes = props.data.axes();
    let (sort_col, ascending) = &props.sort;
    let order = sort_trials(trials, sort_col, *ascending);
    let pages = order.len().div_ceil(PAGE).max(1);
    let page = props.page.min(pages - 1);
    let head = |label: String, col: Column| {
        let arrow = if *sort_col == col {
            if *ascending { " ▲" } else { " ▼" }
        } else {
            ""
        };
        html! { <th><button class="th" onclick={dispatch.reform(move |_| Action::Sort(col.clone()))}>{ format!("{label}{arrow}") }</button></th> }
    };
    html! {
        <section class="card table-card">
            <h2>{ format!("Trials ({})", trials.len()) }</h2>
            <div class="table-wrap">
                <table class="trials" data-testid="trials-table">
                    <thead><tr>
                        { head("#".into(), Column::Number) }
                        { head("state".into(), Column::State) }
                        { head("value".into(), Column::Value) }
                        { for axes.iter().map(|a| head(a.name.clone(), Column::Param(a.name.clone()))) }
                        { head("duration".into(), Column::Duration) }
                    </tr></thead>
                    <tbody>
                        { for order.iter().skip(page * PAGE).take(PAGE).map(|&i| {
                            let t = &trials[i];
                            let n = t.number;
                            html! {
                                <tr class={classes!((props.selected == Some(n)).then_some("selected"))} data-testid="trial-row"
                                    onclick={dispatch.reform(move |_| Action::Select(n))}>
                                    <td>{ n }</td>
                                    <td><span class={classes!("pill", shown_state(t))}>{ shown_state(t) }</span></td>
                                    <td>{ t.value().map_or("–".into(), precise) }</td>
                                    { for axes.iter().map(|a| html! { <td>{ t.param(&a.name).map_or("–".into(), |v| fmt_param(&v)) }</td> }) }
                                    <td>{ t.duration().map_or("–".into(), |d| fmt_duration(d.as_seconds_f64())) }</td>
                                </tr>
                            }
                        }) }
                    </tbody>
                </table>
            </div>
            if pages > 1 {
                <div class="pager">
                    <button class="btn small ghost" disabled={page == 0} onclick={dispatch.reform(move |_| Action::Page(page.saturating_sub(1)))}>{ "‹ prev" }</button>
                    <span class="muted">{ format!("page {} of {pages}", page + 1) }</span>
                    <button class="btn small ghost" disabled={page + 1 >= pages} onclick={dispatch.reform(move |_| Action::Page(page + 1))}>{ "next ›" }</button>
                </div>
            }
        </section>
    }
}
