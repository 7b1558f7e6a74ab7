//! The trials table: sortable, virtualised (it draws only the rows in view and a few
//! around them, so 5,000 trials cost what 40 do), a row selects its trial.

use yew::prelude::*;

use super::fmt_param;
use crate::data::{Column, StudyData, fmt_duration, shown_state, sort_trials};
use crate::scale::precise;
use crate::state::Action;

/// Height of a row in CSS pixels, as the style sheet fixes it (`table.trials tr.trow`).
const ROW_PX: f64 = 33.0;
/// Rows in view at once: the table's scrolling area is this many rows high.
const VISIBLE_ROWS: usize = 14;
/// Rows drawn beyond the visible ones, above and below, so a scroll shows rows at once.
const OVERSCAN: usize = 12;
/// Height of the header row in CSS pixels.
const HEAD_PX: f64 = 31.0;

/// Props of [`TrialsTable`].
#[derive(Properties, PartialEq)]
pub struct TableProps {
    /// The study.
    pub data: StudyData,
    /// The sort column and whether ascending.
    pub sort: (Column, bool),
    /// The first row in view.
    pub top: usize,
    /// The selected trial.
    pub selected: Option<u64>,
    /// Sends actions to the reducer.
    pub dispatch: Callback<Action>,
}

/// The rows `[first, last)` of `n` that a table scrolled to row `top` draws.
pub fn window(top: usize, n: usize) -> (usize, usize) {
    let top = top.min(n.saturating_sub(1));
    let first = top.saturating_sub(OVERSCAN);
    let last = (top + VISIBLE_ROWS + OVERSCAN).min(n);
    (first, last)
}

/// Every trial: number, state, value, parameters and duration.
#[function_component]
pub fn TrialsTable(props: &TableProps) -> Html {
    let dispatch = &props.dispatch;
    let trials = &props.data.trials;
    let axes = props.data.axes();
    let (sort_col, ascending) = &props.sort;
    let order = sort_trials(trials, sort_col, *ascending);
    let (first, last) = window(props.top, order.len());
    let head = |label: String, col: Column| {
        let arrow = if *sort_col == col {
            if *ascending { " ▲" } else { " ▼" }
        } else {
            ""
        };
        html! { <th><button class="th" onclick={dispatch.reform(move |_| Action::Sort(col.clone()))}>{ format!("{label}{arrow}") }</button></th> }
    };
    let onscroll = {
        let dispatch = dispatch.clone();
        Callback::from(move |e: Event| {
            use wasm_bindgen::JsCast;
            if let Some(el) = e
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            {
                let row = (f64::from(el.scroll_top()) / ROW_PX).floor().max(0.0) as usize;
                dispatch.emit(Action::TableScroll(row));
            }
        })
    };
    let spacer = |rows: usize| {
        (rows > 0).then(|| {
            html! { <tr class="spacer" aria-hidden="true" style={format!("height:{}px", rows as f64 * ROW_PX)}></tr> }
        })
    };
    // A new order is a new scrolling area, which starts at the top.
    let key = format!("{sort_col:?}-{ascending}");
    html! {
        <section class="card table-card">
            <h2>{ format!("Trials ({})", trials.len()) }</h2>
            <div class="table-wrap" {key} tabindex="0" role="region" aria-label="trials table"
                style={format!("max-height:{}px", HEAD_PX + VISIBLE_ROWS as f64 * ROW_PX + 2.0)} {onscroll}>
                <table class="trials" data-testid="trials-table" data-rows={order.len().to_string()}>
                    <thead><tr>
                        { head("#".into(), Column::Number) }
                        { head("state".into(), Column::State) }
                        { head("value".into(), Column::Value) }
                        { for axes.iter().map(|a| head(a.name.clone(), Column::Param(a.name.clone()))) }
                        { head("duration".into(), Column::Duration) }
                    </tr></thead>
                    <tbody>
                        { spacer(first).unwrap_or_default() }
                        { for order[first..last].iter().map(|&i| {
                            let t = &trials[i];
                            let n = t.number;
                            html! {
                                <tr class={classes!("trow", (props.selected == Some(n)).then_some("selected"))} data-testid="trial-row"
                                    onclick={dispatch.reform(move |_| Action::Select(n))}>
                                    <td>{ n }</td>
                                    <td><span class={classes!("pill", shown_state(t))}>{ shown_state(t) }</span></td>
                                    <td>{ t.value().map_or("–".into(), precise) }</td>
                                    { for axes.iter().map(|a| html! { <td>{ t.param(&a.name).map_or("–".into(), |v| fmt_param(&v)) }</td> }) }
                                    <td>{ t.duration().map_or("–".into(), |d| fmt_duration(d.as_seconds_f64())) }</td>
                                </tr>
                            }
                        }) }
                        { spacer(order.len() - last).unwrap_or_default() }
                    </tbody>
                </table>
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_covers_the_rows_in_view_and_a_margin() {
        assert_eq!(window(0, 3), (0, 3));
        assert_eq!(window(0, 5000), (0, VISIBLE_ROWS + OVERSCAN));
        assert_eq!(
            window(100, 5000),
            (100 - OVERSCAN, 100 + VISIBLE_ROWS + OVERSCAN)
        );
        // Scrolled past the end (rows were removed): the last rows.
        assert_eq!(window(9000, 50), (50 - 1 - OVERSCAN, 50));
        assert_eq!(window(0, 0), (0, 0));
    }
}
