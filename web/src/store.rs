//! Saved studies in IndexedDB: database `sweeplab`, store `meta` (one JSON summary per
//! study, listed on the start screen), store `journals` (the study's Optuna journal as a
//! compact base, the source of truth) and store `journal_chunks` (the lines appended to
//! that base since, keyed `{study}\u{1}{seq:016}` so that a key range reads them in order).
//! A save writes the summary and either the whole journal (deleting the chunks) or one
//! chunk, in one transaction. Store `adapters` keeps, per language-model study, the LoRA
//! adapters of its best trial that this browser trained (`[trial, adapter_config.json,
//! adapter_model.safetensors bytes]`), so that a reload still offers their download.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbKeyRange, IdbRequest, IdbTransaction, IdbTransactionMode};

const DB: &str = "sweeplab";
/// The database's version: 2 added [`CHUNKS`], 3 [`ADAPTERS`].
const DB_VERSION: u32 = 3;
const META: &str = "meta";
const JOURNALS: &str = "journals";
const CHUNKS: &str = "journal_chunks";
const ADAPTERS: &str = "adapters";

pub use crate::state::{JournalSave, Listed, LmAdapter, StudyMeta};

/// The key of chunk `seq` of study `id`.
fn chunk_key(id: &str, seq: u64) -> String {
    format!("{id}\u{1}{seq:016}")
}

/// Every chunk key of study `id` (and no other study's: `\u{1}` ends the name).
fn chunk_range(id: &str) -> Result<IdbKeyRange, String> {
    IdbKeyRange::bound(
        &JsValue::from_str(&format!("{id}\u{1}")),
        &JsValue::from_str(&format!("{id}\u{2}")),
    )
    .map_err(|e| js_err("the chunk range", e))
}

fn js_err(context: &str, e: JsValue) -> String {
    let detail = e
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"));
    format!("{context}: {detail}")
}

/// Resolves when the request succeeds (with its result) or fails.
async fn wait(req: &IdbRequest) -> Result<JsValue, JsValue> {
    let req2 = req.clone();
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        let r = req2.clone();
        let ok = Closure::once_into_js(move |_e: web_sys::Event| {
            let _ = resolve.call1(&JsValue::NULL, &r.result().unwrap_or(JsValue::UNDEFINED));
        });
        let r = req2.clone();
        let bad = Closure::once_into_js(move |_e: web_sys::Event| {
            let msg = r
                .error()
                .ok()
                .flatten()
                .map(|d| d.message())
                .unwrap_or_else(|| "IndexedDB request failed".into());
            let _ = reject.call1(&JsValue::NULL, &JsValue::from_str(&msg));
        });
        req2.set_onsuccess(Some(ok.unchecked_ref()));
        req2.set_onerror(Some(bad.unchecked_ref()));
    });
    JsFuture::from(promise).await
}

/// Resolves when the transaction has committed, or fails with why it aborted. A full
/// quota shows here, not on the request: the put succeeds, the commit does not. The
/// handlers are set when this is called, before the transaction can end.
fn committed(tx: &IdbTransaction) -> JsFuture {
    let tx2 = tx.clone();
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        let ok = Closure::once_into_js(move |_e: web_sys::Event| {
            let _ = resolve.call0(&JsValue::NULL);
        });
        let t = tx2.clone();
        let reject2 = reject.clone();
        let bad = Closure::once_into_js(move |_e: web_sys::Event| {
            let msg = t
                .error()
                .map(|d| format!("{}: {}", d.name(), d.message()))
                .unwrap_or_else(|| "IndexedDB transaction failed".into());
            let _ = reject2.call1(&JsValue::NULL, &JsValue::from_str(&msg));
        });
        tx2.set_oncomplete(Some(ok.unchecked_ref()));
        tx2.set_onabort(Some(bad.unchecked_ref()));
        let t = tx2.clone();
        let bad = Closure::once_into_js(move |_e: web_sys::Event| {
            let msg = t
                .error()
                .map(|d| format!("{}: {}", d.name(), d.message()))
                .unwrap_or_else(|| "IndexedDB transaction failed".into());
            let _ = reject.call1(&JsValue::NULL, &JsValue::from_str(&msg));
        });
        tx2.set_onerror(Some(bad.unchecked_ref()));
    });
    JsFuture::from(promise)
}

thread_local! {
    /// The page's connection, opened on the first use and kept: a save is then one
    /// transaction, not an open and a transaction (a busy tab answers every round trip late).
    static CONNECTION: std::cell::RefCell<Option<IdbDatabase>> = const { std::cell::RefCell::new(None) };
}

/// The page's connection to the database (see [`CONNECTION`]).
async fn open() -> Result<IdbDatabase, String> {
    if let Some(db) = CONNECTION.with(|c| c.borrow().clone()) {
        return Ok(db);
    }
    let db = open_new().await?;
    // A newer page in another tab that upgrades the database asks this one to let go.
    let held = db.clone();
    let on_change = Closure::once_into_js(move |_e: web_sys::Event| {
        held.close();
        CONNECTION.with(|c| c.borrow_mut().take());
    });
    db.set_onversionchange(Some(on_change.unchecked_ref()));
    CONNECTION.with(|c| *c.borrow_mut() = Some(db.clone()));
    Ok(db)
}

/// Forgets the kept connection after a failure, so that the next use opens a new one.
fn forget_connection() {
    if let Some(db) = CONNECTION.with(|c| c.borrow_mut().take()) {
        db.close();
    }
}

/// Keeps `result`; a failure also drops the kept connection (it may be the cause).
fn kept<T>(result: Result<T, String>) -> Result<T, String> {
    if result.is_err() {
        forget_connection();
    }
    result
}

async fn open_new() -> Result<IdbDatabase, String> {
    let factory = web_sys::window()
        .and_then(|w| w.indexed_db().ok().flatten())
        .ok_or_else(|| "this browser has no IndexedDB; studies will not be saved".to_string())?;
    let req = factory
        .open_with_u32(DB, DB_VERSION)
        .map_err(|e| js_err("opening the study database", e))?;
    let upgrade = Closure::once_into_js(move |e: web_sys::Event| {
        let db = e
            .target()
            .and_then(|t| t.dyn_into::<IdbRequest>().ok())
            .and_then(|r| r.result().ok())
            .and_then(|r| r.dyn_into::<IdbDatabase>().ok());
        if let Some(db) = db {
            let names = db.object_store_names();
            for store in [META, JOURNALS, CHUNKS, ADAPTERS] {
                if !names.contains(store) {
                    let _ = db.create_object_store(store);
                }
            }
        }
    });
    req.set_onupgradeneeded(Some(upgrade.unchecked_ref()));
    let db = wait(&req)
        .await
        .map_err(|e| js_err("opening the study database", e))?;
    db.dyn_into::<IdbDatabase>()
        .map_err(|_| "opening the study database: unexpected result".to_string())
}

async fn get(db: &IdbDatabase, store: &str, key: &str) -> Result<Option<String>, String> {
    let tx = db
        .transaction_with_str(store)
        .map_err(|e| js_err("reading", e))?;
    let s = tx.object_store(store).map_err(|e| js_err("reading", e))?;
    let req = s
        .get(&JsValue::from_str(key))
        .map_err(|e| js_err("reading", e))?;
    let v = wait(&req).await.map_err(|e| js_err("reading", e))?;
    Ok(v.as_string())
}

/// Saves a study's summary and its journal (whole, or the lines appended since), then the
/// best trial's LoRA adapters when given (they replace the study's saved ones).
pub async fn save(
    meta: &StudyMeta,
    journal: &JournalSave,
    adapter: Option<(u64, &LmAdapter)>,
) -> Result<(), String> {
    let db = open().await?;
    let json = serde_json::to_string(meta).map_err(|e| format!("saving: {e}"))?;
    // One transaction over the stores: the summary and the journal are saved together or
    // not at all (a tab closed in between leaves no study without its summary).
    let saved = match journal {
        JournalSave::Whole(text) => put_both(&db, &meta.id, text, &json).await,
        JournalSave::Append { seq, lines } => append(&db, &meta.id, *seq, lines, &json).await,
    };
    kept(saved)?;
    match adapter {
        Some((trial, a)) => kept(put_adapter(&db, &meta.id, trial, a).await),
        None => Ok(()),
    }
}

/// Puts study `key`'s LoRA adapters (those of trial `trial`) in [`ADAPTERS`].
async fn put_adapter(db: &IdbDatabase, key: &str, trial: u64, a: &LmAdapter) -> Result<(), String> {
    let tx = db
        .transaction_with_str_and_mode(ADAPTERS, IdbTransactionMode::Readwrite)
        .map_err(|e| js_err("saving the adapters", e))?;
    let done = committed(&tx);
    let s = tx
        .object_store(ADAPTERS)
        .map_err(|e| js_err("saving the adapters", e))?;
    let value = js_sys::Array::of3(
        &JsValue::from_f64(trial as f64),
        &JsValue::from_str(&a.config),
        &js_sys::Uint8Array::from(a.safetensors.as_slice()),
    );
    let r = s
        .put_with_key(&value, &JsValue::from_str(key))
        .map_err(|e| js_err("saving the adapters", e))?;
    wait(&r)
        .await
        .map_err(|e| js_err("saving the adapters", e))?;
    done.await
        .map(drop)
        .map_err(|e| js_err("saving the adapters", e))
}

/// The LoRA adapters saved with study `id`, with the trial they belong to (`None` if it
/// has none).
pub async fn load_adapter(id: &str) -> Result<Option<(u64, LmAdapter)>, String> {
    let db = open().await?;
    let read = async {
        let tx = db
            .transaction_with_str(ADAPTERS)
            .map_err(|e| js_err("reading the adapters", e))?;
        let s = tx
            .object_store(ADAPTERS)
            .map_err(|e| js_err("reading the adapters", e))?;
        let req = s
            .get(&JsValue::from_str(id))
            .map_err(|e| js_err("reading the adapters", e))?;
        wait(&req)
            .await
            .map_err(|e| js_err("reading the adapters", e))
    };
    let v = kept(read.await)?;
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    let corrupt = || format!("the adapters saved with `{id}` are corrupt");
    let parts = v.dyn_into::<js_sys::Array>().map_err(|_| corrupt())?;
    let trial = parts
        .get(0)
        .as_f64()
        .filter(|t| t.fract() == 0.0 && *t >= 0.0)
        .ok_or_else(corrupt)?;
    let config = parts.get(1).as_string().ok_or_else(corrupt)?;
    let bytes = parts
        .get(2)
        .dyn_into::<js_sys::Uint8Array>()
        .map_err(|_| corrupt())?;
    Ok(Some((
        trial as u64,
        LmAdapter {
            safetensors: bytes.to_vec(),
            config,
        },
    )))
}

/// Puts chunk `seq` of study `key` and its summary, in one transaction.
async fn append(
    db: &IdbDatabase,
    key: &str,
    seq: u64,
    lines: &str,
    meta: &str,
) -> Result<(), String> {
    let stores = js_sys::Array::of2(&JsValue::from_str(CHUNKS), &JsValue::from_str(META));
    let tx = db
        .transaction_with_str_sequence_and_mode(&stores, IdbTransactionMode::Readwrite)
        .map_err(|e| js_err("saving", e))?;
    let done = committed(&tx);
    let c = tx.object_store(CHUNKS).map_err(|e| js_err("saving", e))?;
    let r1 = c
        .put_with_key(
            &JsValue::from_str(lines),
            &JsValue::from_str(&chunk_key(key, seq)),
        )
        .map_err(|e| js_err("saving", e))?;
    let m = tx.object_store(META).map_err(|e| js_err("saving", e))?;
    let r2 = m
        .put_with_key(&JsValue::from_str(meta), &JsValue::from_str(key))
        .map_err(|e| js_err("saving", e))?;
    wait(&r1).await.map_err(|e| js_err("saving", e))?;
    wait(&r2).await.map_err(|e| js_err("saving", e))?;
    done.await.map(drop).map_err(|e| js_err("saving", e))
}

/// Puts `journal` and `meta` under `key` in their stores and deletes the study's chunks
/// (the journal holds them), in one transaction.
async fn put_both(db: &IdbDatabase, key: &str, journal: &str, meta: &str) -> Result<(), String> {
    let stores = js_sys::Array::of3(
        &JsValue::from_str(JOURNALS),
        &JsValue::from_str(META),
        &JsValue::from_str(CHUNKS),
    );
    let tx = db
        .transaction_with_str_sequence_and_mode(&stores, IdbTransactionMode::Readwrite)
        .map_err(|e| js_err("saving", e))?;
    let done = committed(&tx);
    let k = JsValue::from_str(key);
    let j = tx.object_store(JOURNALS).map_err(|e| js_err("saving", e))?;
    let r1 = j
        .put_with_key(&JsValue::from_str(journal), &k)
        .map_err(|e| js_err("saving", e))?;
    let m = tx.object_store(META).map_err(|e| js_err("saving", e))?;
    let r2 = m
        .put_with_key(&JsValue::from_str(meta), &k)
        .map_err(|e| js_err("saving", e))?;
    let c = tx.object_store(CHUNKS).map_err(|e| js_err("saving", e))?;
    let r3 = c
        .delete(&chunk_range(key)?.into())
        .map_err(|e| js_err("saving", e))?;
    wait(&r1).await.map_err(|e| js_err("saving", e))?;
    wait(&r2).await.map_err(|e| js_err("saving", e))?;
    wait(&r3).await.map_err(|e| js_err("saving", e))?;
    done.await.map(drop).map_err(|e| js_err("saving", e))
}

/// The chunks appended to study `id`'s journal, in order.
async fn chunks(db: &IdbDatabase, id: &str) -> Result<Vec<String>, String> {
    let tx = db
        .transaction_with_str(CHUNKS)
        .map_err(|e| js_err("reading", e))?;
    let s = tx.object_store(CHUNKS).map_err(|e| js_err("reading", e))?;
    let req = s
        .get_all_with_key(&chunk_range(id)?.into())
        .map_err(|e| js_err("reading", e))?;
    let all = wait(&req).await.map_err(|e| js_err("reading", e))?;
    Ok(js_sys::Array::from(&all)
        .iter()
        .map(|v| v.as_string().unwrap_or_default())
        .collect())
}

/// Loads a study's summary and journal.
pub async fn load(id: &str) -> Result<(StudyMeta, String), String> {
    let db = open().await?;
    let meta = get(&db, META, id)
        .await?
        .ok_or_else(|| format!("no saved study `{id}`"))?;
    let base = get(&db, JOURNALS, id).await?.unwrap_or_default();
    let chunks = kept(chunks(&db, id).await);
    let journal = JournalSave::read_back(&base, &chunks?);
    let meta: StudyMeta = serde_json::from_str(&meta)
        .map_err(|e| format!("the saved study `{id}` is corrupt: {e}"))?;
    Ok((meta, journal))
}

/// Every saved study, newest first (corrupt entries last).
pub async fn list() -> Result<Vec<Listed>, String> {
    let db = open().await?;
    let tx = db
        .transaction_with_str(META)
        .map_err(|e| js_err("listing studies", e))?;
    let s = tx
        .object_store(META)
        .map_err(|e| js_err("listing studies", e))?;
    let keys = wait(&s.get_all_keys().map_err(|e| js_err("listing studies", e))?)
        .await
        .map_err(|e| js_err("listing studies", e))?;
    let values = wait(&s.get_all().map_err(|e| js_err("listing studies", e))?)
        .await
        .map_err(|e| js_err("listing studies", e))?;
    let keys = js_sys::Array::from(&keys);
    let values = js_sys::Array::from(&values);
    let mut out: Vec<Listed> = keys
        .iter()
        .zip(values.iter())
        .map(|(k, v)| {
            let key = k.as_string().unwrap_or_default();
            match v.as_string().map(|s| serde_json::from_str::<StudyMeta>(&s)) {
                Some(Ok(m)) => Listed::Ok(m),
                Some(Err(e)) => Listed::Corrupt(key, e.to_string()),
                None => Listed::Corrupt(key, "not a JSON text".into()),
            }
        })
        .collect();
    out.sort_by(|a, b| match (a, b) {
        (Listed::Ok(x), Listed::Ok(y)) => y.updated_ms.total_cmp(&x.updated_ms),
        (Listed::Ok(_), Listed::Corrupt(..)) => std::cmp::Ordering::Less,
        (Listed::Corrupt(..), Listed::Ok(_)) => std::cmp::Ordering::Greater,
        (Listed::Corrupt(a, _), Listed::Corrupt(b, _)) => a.cmp(b),
    });
    Ok(out)
}

/// Deletes a saved study.
pub async fn delete(id: &str) -> Result<(), String> {
    let db = open().await?;
    for store in [META, JOURNALS, CHUNKS, ADAPTERS] {
        let tx = db
            .transaction_with_str_and_mode(store, IdbTransactionMode::Readwrite)
            .map_err(|e| js_err("deleting", e))?;
        let s = tx.object_store(store).map_err(|e| js_err("deleting", e))?;
        let key: JsValue = if store == CHUNKS {
            chunk_range(id)?.into()
        } else {
            JsValue::from_str(id)
        };
        let req = s.delete(&key).map_err(|e| js_err("deleting", e))?;
        wait(&req).await.map_err(|e| js_err("deleting", e))?;
    }
    Ok(())
}

/// Writes raw values under a key (tests use it to plant corrupt entries).
pub async fn put_raw(id: &str, meta: &str, journal: &str) -> Result<(), String> {
    let db = open().await?;
    kept(put_both(&db, id, journal, meta).await)
}
