//! Small browser helpers for the page: time, downloads, the URL hash, the WebGPU adapter
//! probe, the training worker and the panic hook.

use std::cell::RefCell;
use std::rc::Rc;

use sweeplab_core::vocab::BackendKind;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::protocol::{FromWorker, ToWorker};

/// Whether the window is as narrow as a phone's (at most 700 CSS pixels wide), as the
/// style sheet's narrow layout has it.
pub fn is_narrow() -> bool {
    web_sys::window()
        .and_then(|w| w.match_media("(max-width: 700px)").ok().flatten())
        .is_some_and(|m| m.matches())
}

/// Milliseconds since the page started (`performance.now()`).
pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

/// Milliseconds since the Unix epoch.
pub fn epoch_ms() -> f64 {
    js_sys::Date::now()
}

/// A local date-time stamp for names: `2026-11-25-10-55-03`.
pub fn stamp() -> String {
    let d = js_sys::Date::new_0();
    format!(
        "{:04}-{:02}-{:02}-{:02}-{:02}-{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes(),
        d.get_seconds()
    )
}

/// The study in `journal` (a compact Optuna journal) as the bytes of an Optuna SQLite
/// database, written by the `study.db` module, which is imported on first use.
pub async fn study_db(journal: &str) -> Result<Vec<u8>, String> {
    let err = |e: JsValue| {
        let text = e
            .dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .unwrap_or_else(|| format!("{e:?}"));
        format!("study.db failed: {text}")
    };
    // Against the page's URL (static/pkg/): a relative dynamic import here would resolve
    // against the calling script, the page module in pkg/.
    let write = js_sys::Function::new_with_args(
        "journal",
        "return import(new URL('pkg/sweeplab_export_sqlite.js', document.baseURI).href).then(async (m) => { await m.default(); return m.study_db(journal); })",
    );
    let promise: js_sys::Promise = write
        .call1(&JsValue::NULL, &JsValue::from_str(journal))
        .map_err(err)?
        .dyn_into()
        .map_err(err)?;
    let bytes = wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .map_err(err)?;
    Ok(js_sys::Uint8Array::new(&bytes).to_vec())
}

/// Calls `f` before the next frame is drawn (a requestAnimationFrame: not while the page
/// is hidden). Whether the frame was asked for.
pub fn on_next_frame(f: impl FnOnce() + 'static) -> bool {
    let Some(w) = web_sys::window() else {
        return false;
    };
    let task = Closure::once_into_js(f);
    w.request_animation_frame(task.unchecked_ref()).is_ok()
}

/// Calls `f` once the next frame has been drawn (a requestAnimationFrame, then a task).
pub fn after_next_frame(f: impl FnOnce() + 'static) {
    let Some(w) = web_sys::window() else { return };
    let task = Closure::once_into_js(move || {
        if let Some(w) = web_sys::window() {
            let later = Closure::once_into_js(f);
            let _ = w.set_timeout_with_callback(later.unchecked_ref());
        }
    });
    let _ = w.request_animation_frame(task.unchecked_ref());
}

/// Appends `ms` to `<body data-update-ms>` (a comma-separated list the browser tests read),
/// and the wasm memory's size to `data-wasm-bytes`.
pub fn record_update_ms(ms: f64) {
    let Some(body) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    else {
        return;
    };
    let mut list = body.get_attribute("data-update-ms").unwrap_or_default();
    if !list.is_empty() {
        list.push(',');
    }
    list.push_str(&format!("{ms:.1}"));
    let _ = body.set_attribute("data-update-ms", &list);
    if let Ok(mem) = wasm_bindgen::memory().dyn_into::<js_sys::WebAssembly::Memory>() {
        let bytes = mem
            .buffer()
            .unchecked_into::<js_sys::ArrayBuffer>()
            .byte_length();
        let _ = body.set_attribute("data-wasm-bytes", &bytes.to_string());
    }
}

/// Offers `bytes` as a download named `name`.
pub fn download(name: &str, mime: &str, bytes: &[u8]) -> Result<(), String> {
    let err = |e: JsValue| format!("download failed: {e:?}");
    let array = js_sys::Uint8Array::from(bytes);
    let parts = js_sys::Array::of1(&array);
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &opts).map_err(err)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(err)?;
    let doc = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement = doc
        .create_element("a")
        .map_err(err)?
        .dyn_into()
        .map_err(|_| "no anchor element".to_string())?;
    a.set_href(&url);
    a.set_download(name);
    a.set_attribute("data-testid", "download-link").ok();
    if let Some(body) = doc.body() {
        body.append_child(&a).map_err(err)?;
        a.click();
        body.remove_child(&a).ok();
    }
    // Give the browser a moment to start the download before revoking the URL.
    let revoke = Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    if let Some(w) = web_sys::window() {
        let _ =
            w.set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 30_000);
    }
    Ok(())
}

/// The URL hash without `#`.
pub fn hash() -> String {
    web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default()
        .trim_start_matches('#')
        .to_string()
}

/// Replaces the URL hash without adding a history entry.
pub fn set_hash(h: &str) {
    if let Some(w) = web_sys::window()
        && let Ok(history) = w.history()
    {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&format!("#{h}")));
    }
}

/// The full URL of the page with hash `h`.
pub fn url_with_hash(h: &str) -> String {
    let loc = web_sys::window().map(|w| w.location());
    let base = loc
        .and_then(|l| {
            Some(format!(
                "{}{}{}",
                l.origin().ok()?,
                l.pathname().ok()?,
                l.search().ok()?
            ))
        })
        .unwrap_or_default();
    format!("{base}#{h}")
}

/// Copies text to the clipboard (best effort).
pub fn copy_to_clipboard(text: &str) {
    if let Some(w) = web_sys::window() {
        let nav = w.navigator();
        if let Ok(clip) = js_sys::Reflect::get(&nav, &JsValue::from_str("clipboard"))
            && !clip.is_undefined()
            && let Ok(f) = js_sys::Reflect::get(&clip, &JsValue::from_str("writeText"))
            && let Ok(f) = f.dyn_into::<js_sys::Function>()
        {
            let _ = f.call1(&clip, &JsValue::from_str(text));
        }
    }
}

pub use crate::state::GpuProbe;

fn get(v: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(v, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// Asks `navigator.gpu` for an adapter and reads its info.
pub async fn probe_gpu() -> GpuProbe {
    let mut out = GpuProbe {
        api: false,
        adapter: false,
        software: false,
        description: String::new(),
    };
    let Some(w) = web_sys::window() else {
        return out;
    };
    let gpu = get(&w.navigator(), "gpu");
    if gpu.is_undefined() || gpu.is_null() {
        return out;
    }
    out.api = true;
    let Ok(request) = get(&gpu, "requestAdapter").dyn_into::<js_sys::Function>() else {
        return out;
    };
    let Ok(promise) = request.call0(&gpu) else {
        return out;
    };
    let Ok(adapter) = JsFuture::from(js_sys::Promise::resolve(&promise)).await else {
        return out;
    };
    if adapter.is_null() || adapter.is_undefined() {
        return out;
    }
    out.adapter = true;
    let info = get(&adapter, "info");
    let field = |k: &str| get(&info, k).as_string().unwrap_or_default();
    let parts: Vec<String> = ["vendor", "architecture", "device", "description"]
        .iter()
        .map(|k| field(k))
        .filter(|s| !s.is_empty())
        .collect();
    out.description = if parts.is_empty() {
        "unnamed adapter".into()
    } else {
        parts.join(" ")
    };
    let fallback = get(&info, "isFallbackAdapter").as_bool().unwrap_or(false)
        || get(&adapter, "isFallbackAdapter")
            .as_bool()
            .unwrap_or(false);
    out.software = fallback || is_software_name(&out.description);
    out
}

/// Whether an adapter description names a software rasteriser.
pub fn is_software_name(desc: &str) -> bool {
    let d = desc.to_ascii_lowercase();
    [
        "swiftshader",
        "llvmpipe",
        "lavapipe",
        "software",
        "microsoft basic render",
        "warp",
    ]
    .iter()
    .any(|s| d.contains(s))
}

/// A running training worker; dropping it terminates the worker. It speaks the typed
/// protocol of [`crate::protocol`]: the page sends [`ToWorker`] values and gets
/// [`FromWorker`] values; the JSON text between them stays in here.
pub struct WorkerHandle {
    worker: web_sys::Worker,
    /// The backend its module trains on.
    pub kind: BackendKind,
    _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::ErrorEvent)>,
    queue: Rc<RefCell<Vec<String>>>,
    ready: Rc<RefCell<bool>>,
}

/// The worker module for a backend: `worker.js?kind=cpu` loads the CPU-only module,
/// `?kind=gpu` the one with WebGPU (see `static/worker.js`).
fn module_kind(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::Flex => "cpu",
        BackendKind::Wgpu => "gpu",
    }
}

impl WorkerHandle {
    /// Starts the worker module for `kind`. `on_message` gets each message; `on_error` gets
    /// the text of an uncaught error (e.g. a crash) or of a message that does not parse.
    pub fn spawn(
        kind: BackendKind,
        on_message: impl Fn(FromWorker) + 'static,
        on_error: impl Fn(String) + 'static,
    ) -> Result<WorkerHandle, String> {
        let opts = web_sys::WorkerOptions::new();
        opts.set_type(web_sys::WorkerType::Module);
        let url = format!("worker.js?kind={}", module_kind(kind));
        let worker = web_sys::Worker::new_with_options(&url, &opts)
            .map_err(|e| format!("could not start the training worker: {e:?}"))?;
        let queue: Rc<RefCell<Vec<String>>> = Rc::default();
        let ready: Rc<RefCell<bool>> = Rc::default();
        let on_error: Rc<dyn Fn(String)> = Rc::new(on_error);
        let on_message = {
            let queue = queue.clone();
            let ready = ready.clone();
            let w = worker.clone();
            let on_error = on_error.clone();
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
                let Some(text) = e.data().as_string() else {
                    return;
                };
                let message = match FromWorker::from_text(&text) {
                    Ok(m) => m,
                    Err(e) => return on_error(e),
                };
                if message == FromWorker::Ready && !*ready.borrow() {
                    *ready.borrow_mut() = true;
                    for m in queue.borrow_mut().drain(..) {
                        let _ = w.post_message(&JsValue::from_str(&m));
                    }
                }
                on_message(message);
            })
        };
        let on_error =
            Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(move |e: web_sys::ErrorEvent| {
                e.prevent_default();
                let msg = e.message();
                on_error(if msg.is_empty() {
                    "the training worker stopped unexpectedly".into()
                } else {
                    msg
                });
            });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(WorkerHandle {
            worker,
            kind,
            _on_message: on_message,
            _on_error: on_error,
            queue,
            ready,
        })
    }

    /// Sends a message (queued until the worker's module is ready). Fails only when the
    /// message cannot be serialised; nothing is sent then.
    pub fn send(&self, message: &ToWorker) -> Result<(), String> {
        let text = message
            .to_text()
            .map_err(|e| format!("the message to the worker could not be serialised: {e}"))?;
        if *self.ready.borrow() {
            let _ = self.worker.post_message(&JsValue::from_str(&text));
        } else {
            self.queue.borrow_mut().push(text);
        }
        Ok(())
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

/// Installs a panic hook that shows the panic on the page (not as an uncaught console
/// error) and offers a reload.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = format!("{info}");
        let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        let el = doc.get_element_by_id("fatal").or_else(|| {
            let el = doc.create_element("div").ok()?;
            el.set_id("fatal");
            doc.body()?.append_child(&el).ok()?;
            Some(el)
        });
        if let Some(el) = el {
            el.set_class_name("fatal");
            el.set_attribute("role", "alert").ok();
            el.set_inner_html(
                "<strong>Something went wrong inside the playground.</strong> \
                 Your saved studies are safe. <a href=\"\">Reload the page</a><pre></pre>",
            );
            if let Ok(Some(pre)) = el.query_selector("pre") {
                pre.set_text_content(Some(&msg));
            }
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_adapters_are_recognised() {
        assert!(is_software_name("google swiftshader"));
        assert!(is_software_name("mesa llvmpipe (LLVM 15)"));
        assert!(!is_software_name("nvidia ampere"));
    }
}
