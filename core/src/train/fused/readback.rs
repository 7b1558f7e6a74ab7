//! Reading a buffer back from the device without blocking the browser: `map_async` with a
//! callback that completes a future.
//!
//! In the browser the callback fires from the event loop while the future is pending. Natively
//! wgpu runs callbacks only inside `Device::poll`, so the future's first poll waits there for
//! the submitted work (the native counterpart of the browser's event-loop turn).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use super::super::TrainError;

type MapResult = Result<(), wgpu::BufferAsyncError>;

#[derive(Default)]
struct Slot {
    result: Option<MapResult>,
    waker: Option<Waker>,
}

fn lock(slot: &Mutex<Slot>) -> MutexGuard<'_, Slot> {
    // A poisoned lock only means a panicking callback; the data is still usable.
    slot.lock().unwrap_or_else(|e| e.into_inner())
}

/// Completes when the map callback has run.
struct Mapped {
    slot: Arc<Mutex<Slot>>,
    device: wgpu::Device,
    polled: bool,
}

impl Future for Mapped {
    type Output = Result<MapResult, TrainError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if !self.polled {
            self.polled = true;
            #[cfg(not(target_arch = "wasm32"))]
            if let Err(e) = self.device.poll(wgpu::PollType::wait_indefinitely()) {
                return Poll::Ready(Err(TrainError::Device(format!(
                    "waiting for the device: {e}"
                ))));
            }
            #[cfg(target_arch = "wasm32")]
            let _ = &self.device;
        }
        let mut s = lock(&self.slot);
        match s.result.take() {
            Some(r) => Poll::Ready(Ok(r)),
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Maps the first `size` bytes of `staging` (a `MAP_READ` buffer whose copy has been
/// submitted), copies them out and unmaps it.
pub(crate) async fn read_bytes(
    device: &wgpu::Device,
    staging: &wgpu::Buffer,
    size: u64,
) -> Result<Vec<u8>, TrainError> {
    let slot = Arc::new(Mutex::new(Slot::default()));
    let cb_slot = slot.clone();
    staging.map_async(wgpu::MapMode::Read, 0..size, move |r| {
        let mut s = lock(&cb_slot);
        s.result = Some(r);
        if let Some(w) = s.waker.take() {
            w.wake();
        }
    });
    let mapped = Mapped {
        slot,
        device: device.clone(),
        polled: false,
    }
    .await?;
    mapped.map_err(|e| TrainError::Device(format!("reading results back: {e}")))?;
    let bytes = staging
        .get_mapped_range(0..size)
        .map(|view| view.to_vec())
        .map_err(|e| TrainError::Device(format!("reading results back: {e}")));
    staging.unmap();
    let bytes = bytes?;
    Ok(bytes)
}

/// Little-endian f32s from bytes.
pub(crate) fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}
