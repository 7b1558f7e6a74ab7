//! The page's shell: it holds the [`State`], turns every event into an [`Action`] for
//! [`reduce`], carries out the [`Effect`]s the reducer returns (the worker, IndexedDB, the
//! URL hash, downloads, the clipboard) and lays out the components.

use std::rc::Rc;

use yew::prelude::*;

use crate::browser::{self, WorkerHandle};
use crate::components::{
    BaselinesCard, Downloads, Header, LessonPanel, LivePanel, RunPanel, SetupPanel, StudyPanel,
    TrialsTable,
};
use crate::setup::{Dataset, Setup};
use crate::state::{Action, Effect, Env, Listed, RunState, State, reduce};
use crate::store;

/// Page messages: an action for the reducer, or an event only the shell handles.
pub enum Msg {
    /// An action for the reducer (boxed: some actions carry a whole saved study).
    Do(Box<Action>),
    /// A YAML file was chosen: read it, then send its text.
    YamlFile(web_sys::File),
    /// A second passed while a run is in progress (the elapsed and remaining times move).
    Tick,
    /// The frame the worker's messages since the last one are drawn in.
    Frame,
}

impl Msg {
    /// The message that hands `action` to the reducer.
    pub fn act(action: Action) -> Msg {
        Msg::Do(Box::new(action))
    }
}

/// The page.
pub struct App {
    state: State,
    dispatch: Callback<Action>,
    worker: Option<WorkerHandle>,
    /// The worker measuring the setup's cost, while it does.
    estimator: Option<WorkerHandle>,
    /// The pending measurement: a new setup change replaces (cancels) it.
    estimate_timer: Option<gloo::timers::callback::Timeout>,
    /// A narrow screen (a phone) when the page opened: steps 2 and 3 start collapsed.
    narrow: bool,
    /// A frame is asked for to draw what the worker's messages changed: a worker sends
    /// hundreds of messages a second when epochs are fast, and drawing the page for each
    /// would keep the main thread busy (the page would stop answering); they are drawn
    /// once per frame instead.
    frame_pending: bool,
    _ticker: Option<gloo::timers::callback::Interval>,
    _hash_listener: Option<gloo::events::EventListener>,
}

fn env() -> Env {
    Env {
        now_ms: browser::now_ms(),
        epoch_ms: browser::epoch_ms(),
        stamp: browser::stamp(),
    }
}

impl App {
    /// Applies an action and carries out its effects; returns whether to re-render.
    fn act(&mut self, ctx: &Context<Self>, action: Action) -> bool {
        let (effects, redraw) = reduce(&mut self.state, action, &env());
        for e in effects {
            self.run(ctx, e);
        }
        redraw
    }

    fn run(&mut self, ctx: &Context<Self>, effect: Effect) {
        let link = ctx.link();
        match effect {
            Effect::ProbeGpu => {
                link.send_future(async { Msg::act(Action::Probed(browser::probe_gpu().await)) })
            }
            Effect::SpawnWorker { kind, start } => {
                let (l1, l2) = (link.clone(), link.clone());
                let handle = WorkerHandle::spawn(
                    kind,
                    move |m| l1.send_message(Msg::act(Action::Worker(m))),
                    move |e| l2.send_message(Msg::act(Action::WorkerCrashed(e))),
                );
                match handle.and_then(|h| {
                    h.send(&start)
                        .map_err(|e| format!("The run could not start: {e}"))
                        .map(|()| h)
                }) {
                    Ok(h) => {
                        self.worker = Some(h);
                        let l = link.clone();
                        self._ticker =
                            Some(gloo::timers::callback::Interval::new(1000, move || {
                                l.send_message(Msg::Tick)
                            }));
                    }
                    // Dropping a handle terminates its worker.
                    Err(e) => link.send_message(Msg::act(Action::SpawnFailed(e))),
                }
            }
            Effect::Send(m) => {
                if let Some(w) = &self.worker
                    && let Err(e) = w.send(&m)
                {
                    link.send_message(Msg::act(Action::SendFailed(e)));
                }
            }
            Effect::EndWorker => {
                self.worker = None;
                self._ticker = None;
            }
            Effect::Save {
                meta,
                journal,
                adapter,
            } => link.send_future(async move {
                let adapter = adapter.as_ref().map(|(trial, a)| (*trial, &**a));
                Msg::act(Action::Saved(store::save(&meta, &journal, adapter).await))
            }),
            Effect::LoadAdapter(id) => link.send_future(async move {
                let adapter = store::load_adapter(&id).await;
                Msg::act(Action::AdapterLoaded { id, adapter })
            }),
            Effect::List => {
                link.send_future(async { Msg::act(Action::Listed(store::list().await)) })
            }
            Effect::Restore { wanted } => link.send_future(async move {
                match store::list().await {
                    Ok(list) => {
                        let pick = list.iter().find_map(|l| match l {
                            Listed::Ok(m) if wanted.as_ref().is_none_or(|w| *w == m.id) => {
                                Some(m.id.clone())
                            }
                            _ => None,
                        });
                        match pick {
                            Some(id) => Msg::act(Action::Opened(store::load(&id).await)),
                            None => Msg::act(Action::Listed(Ok(list))),
                        }
                    }
                    Err(e) => Msg::act(Action::Listed(Err(e))),
                }
            }),
            Effect::Load(id) => {
                link.send_future(async move { Msg::act(Action::Opened(store::load(&id).await)) })
            }
            Effect::Delete(id) => link.send_future(async move {
                let _ = store::delete(&id).await;
                Msg::act(Action::Listed(store::list().await))
            }),
            Effect::SetHash(h) => browser::set_hash(&h),
            Effect::CopyLink(h) => browser::copy_to_clipboard(&browser::url_with_hash(&h)),
            Effect::DownloadSqlite { name, journal } => link.send_future(async move {
                let done = match browser::study_db(&journal).await {
                    Ok(bytes) => browser::download(&name, "application/vnd.sqlite3", &bytes),
                    Err(e) => Err(e),
                };
                match done {
                    Ok(()) => Msg::act(Action::Downloaded(name)),
                    Err(e) => Msg::act(Action::DownloadFailed(e)),
                }
            }),
            Effect::SyntheticNextIn(ms) => {
                let l = link.clone();
                gloo::timers::callback::Timeout::new(ms, move || {
                    l.send_message(Msg::act(Action::SyntheticNext))
                })
                .forget();
            }
            Effect::EstimateIn(ms) => {
                let l = link.clone();
                self.estimate_timer = Some(gloo::timers::callback::Timeout::new(ms, move || {
                    l.send_message(Msg::act(Action::EstimateDue))
                }));
            }
            Effect::ProbeForEstimate => link.send_future(async {
                Msg::act(Action::ProbedForEstimate(browser::probe_gpu().await))
            }),
            Effect::SpawnEstimator { kind, start } => {
                let (l1, l2) = (link.clone(), link.clone());
                let handle = WorkerHandle::spawn(
                    kind,
                    move |m| l1.send_message(Msg::act(Action::Estimator(m))),
                    move |e| l2.send_message(Msg::act(Action::EstimatorFailed(e))),
                );
                match handle.and_then(|h| h.send(&start).map(|()| h)) {
                    Ok(h) => self.estimator = Some(h),
                    Err(e) => link.send_message(Msg::act(Action::EstimatorFailed(e))),
                }
            }
            Effect::EndEstimator => self.estimator = None,
            Effect::Download { name, mime, bytes } => {
                if let Err(e) = browser::download(&name, mime, &bytes) {
                    link.send_message(Msg::act(Action::DownloadFailed(e)));
                }
            }
        }
    }
}

impl Component for App {
    type Message = Msg;
    type Properties = ();

    fn create(ctx: &Context<Self>) -> Self {
        let link = ctx.link().clone();
        let mut app = App {
            state: State::new(Setup::preset("spiral-mlp")),
            dispatch: ctx.link().callback(Msg::act),
            worker: None,
            estimator: None,
            estimate_timer: None,
            narrow: browser::is_narrow(),
            frame_pending: false,
            _ticker: None,
            _hash_listener: web_sys::window().map(|w| {
                gloo::events::EventListener::new(&w, "hashchange", move |_| {
                    link.send_message(Msg::act(Action::HashChanged(browser::hash())))
                })
            }),
        };
        app.act(ctx, Action::Opening(browser::hash()));
        app
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Self::Message) -> bool {
        match msg {
            Msg::Do(action) if matches!(*action, Action::SyntheticNext) => {
                // How long the page takes to follow a new trial (the study, every plot and
                // the table redrawn), read by the browser tests: from here to the frame
                // after the render.
                let t0 = browser::now_ms();
                browser::after_next_frame(move || {
                    browser::record_update_ms(browser::now_ms() - t0)
                });
                self.act(ctx, *action)
            }
            Msg::Do(action) if matches!(*action, Action::Worker(_)) => {
                if !self.act(ctx, *action) || self.frame_pending {
                    return false;
                }
                let link = ctx.link().clone();
                self.frame_pending = browser::on_next_frame(move || link.send_message(Msg::Frame));
                // Without a frame to wait for, drawn now.
                !self.frame_pending
            }
            Msg::Do(action) => self.act(ctx, *action),
            Msg::YamlFile(file) => {
                let blob: &web_sys::Blob = file.as_ref();
                let blob = gloo::file::Blob::from(blob.clone());
                ctx.link().send_future(async move {
                    Msg::act(Action::YamlText(
                        match gloo::file::futures::read_as_text(&blob).await {
                            Ok(t) => t,
                            Err(e) => format!("# could not read the file: {e}"),
                        },
                    ))
                });
                false
            }
            Msg::Tick => true,
            Msg::Frame => {
                self.frame_pending = false;
                true
            }
        }
    }

    fn rendered(&mut self, _ctx: &Context<Self>, first_render: bool) {
        if first_render
            && let Some(body) = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.body())
        {
            // Time to interactive, read by the browser tests.
            let _ = body.set_attribute("data-ready", &format!("{:.0}", browser::now_ms()));
        }
    }

    fn view(&self, ctx: &Context<Self>) -> Html {
        let s = &self.state;
        let dispatch = &self.dispatch;
        let n_done = s.counted();
        let total = s.setup.n_trials as usize;
        let resumable = s.continues() && n_done < total && !s.data.trials.is_empty();
        let real_2d = s.setup.dataset.is_2d() && !s.synthetic;
        let estimate = s.estimate_text();
        // The run panel comes first in the document, so Start is a few Tab presses from the
        // top; the grid still shows the setup on the left (and first on a phone).
        let hidden = s
            .lesson
            .as_ref()
            .map(|l| l.lesson.hide.iter().map(|h| h.class()).collect::<Vec<_>>())
            .unwrap_or_default();
        html! {
            <div class={classes!("app", hidden)}>
                <Header study_name={s.study_name.clone()} share_copied={s.share_copied}
                    saved_open={s.saved_open} saved={s.saved.clone()} dispatch={dispatch.clone()} />
                <div class="layout">
                    <main class="main" id="main">
                        <RunPanel run={s.run} progress={s.progress.clone()} live_trial={s.live.trial}
                            n_done={n_done} total={total} time_limit_s={s.setup.time_limit_s} resumable={resumable}
                            valid={s.setup.problems().is_empty()} notices={s.notices.clone()}
                            backend_note={s.backend_note.clone()} cpu_fallback={s.cpu_fallback}
                            summary={s.setup.summary()} estimate={estimate.clone().map(AttrValue::from)}
                            engine_note={s.engine_note.clone()}
                            step_delay_ms={s.view.step_delay_ms}
                            throughput_unit={if s.setup.dataset.is_text() { "tokens/s" } else { "samples/s" }}
                            now_ms={browser::now_ms()} dispatch={dispatch.clone()} />
                        <LivePanel selected={s.selected} data={s.data.clone()} live={s.live.clone()}
                            boundaries={s.boundaries.clone()} boundary_n={s.boundary_n} points={s.points.clone()}
                            show_boundary={real_2d} log_y={s.view.log_y} smoothing={s.view.smoothing}
                            pruner={s.setup.pruner.clone()} dispatch={dispatch.clone()} />
                        <StudyPanel data={s.data.clone()} importances={s.importances.clone()} tab={s.view.tab}
                            log_y={s.view.log_y} objective={s.setup.objective} pruner={Some(s.setup.pruner.clone())} selected={s.selected} dispatch={dispatch.clone()} />
                        if s.setup.dataset.is_text() {
                            <BaselinesCard data={s.data.clone()} baselines={Rc::new(s.study_baselines())}
                                phase={s.baseline_phase.clone()} enabled={s.baselines} />
                        }
                        <TrialsTable data={s.data.clone()} sort={s.view.sort.clone()} top={s.view.table_top}
                            selected={s.selected} dispatch={dispatch.clone()} />
                        <Downloads enabled={s.study_name.is_some() && !s.data.trials.is_empty()} adapter={s.best_adapter().map(|(n, _)| n)} dispatch={dispatch.clone()} />
                    </main>
                    <aside class="panel" aria-label="setup">
                        <LessonPanel lesson={s.lesson.clone()} dispatch={dispatch.clone()} />
                        <SetupPanel setup={s.setup.clone()} locked={s.run != RunState::Idle} yaml={s.yaml.clone()}
                            estimate={estimate.map(AttrValue::from)} narrow={self.narrow} histograms={s.histograms} baselines={s.baselines}
                            dispatch={dispatch.clone()} on_yaml_file={ctx.link().callback(Msg::YamlFile)} />
                    </aside>
                </div>
                <footer class="footer">
                    { "sweeplab runs Optuna's TPE (by default with sweeplab's tuning; Optuna's own defaults are one menu choice away), pruners and PED-ANOVA importances in your browser and trains every trial with burn on WebGPU or the CPU, or many MLPs at once on its own fused WGSL kernels. " }
                    if s.setup.dataset == Dataset::Mnist {
                        <span class="credit" data-testid="mnist-credit">{ "MNIST: Yann LeCun, Corinna Cortes and Christopher J.C. Burges, CC BY-SA 3.0." }</span>
                    }
                </footer>
            </div>
        }
    }
}
