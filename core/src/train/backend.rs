//! Choosing the burn backend at run time: wgpu (WebGPU in the browser; Vulkan, Metal or DX12
//! natively) or Flex, burn's CPU backend.
//!
//! `auto` takes wgpu on a hardware adapter and Flex on a software (CPU) adapter or when there
//! is no adapter; `gpu` insists on wgpu (a software adapter is accepted, with a note); `cpu`
//! takes Flex. The choice comes with a sentence saying which backend runs and why.

use burn::tensor::Device;

use super::TrainError;

pub use crate::vocab::BackendKind;
pub use crate::vocab::{AdapterProbe, BackendChoice};

/// The device chosen, and why.
#[derive(Clone, Debug)]
pub struct SelectedBackend {
    /// The burn device (without autodiff; the trainer adds it).
    pub device: Device,
    /// Which backend.
    pub kind: BackendKind,
    /// The wgpu adapter's name, when one was found.
    pub adapter: Option<String>,
    /// Whether that adapter is a software (CPU) one.
    pub software_adapter: bool,
    /// One sentence: which backend runs and why.
    pub reason: String,
}

/// The adapter wgpu picks with the high-performance preference (what the wgpu backend and
/// the fused engine run on).
#[cfg(feature = "wgpu")]
pub(crate) async fn preferred_adapter()
-> Result<burn::tensor::wgpu::wgpu::Adapter, burn::tensor::wgpu::wgpu::RequestAdapterError> {
    use burn::tensor::wgpu::wgpu;
    // The instance need not outlive the adapter.
    wgpu::Instance::default()
        .request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        })
        .await
}

/// Looks for the adapter wgpu would pick (high-performance preference). `None` when there is
/// none.
#[cfg(feature = "wgpu")]
pub async fn probe_adapter() -> Option<AdapterProbe> {
    use burn::tensor::wgpu::wgpu;
    let adapter = preferred_adapter().await.ok()?;
    let info = adapter.get_info();
    Some(AdapterProbe {
        name: info.name.clone(),
        api: format!("{:?}", info.backend),
        software: info.device_type == wgpu::DeviceType::Cpu,
    })
}

#[cfg(feature = "flex")]
fn flex(reason: String, adapter: Option<&AdapterProbe>) -> Result<SelectedBackend, TrainError> {
    Ok(SelectedBackend {
        device: Device::flex(),
        kind: BackendKind::Flex,
        adapter: adapter.map(|a| a.name.clone()),
        software_adapter: adapter.is_some_and(|a| a.software),
        reason,
    })
}

#[cfg(not(feature = "flex"))]
fn flex(reason: String, _adapter: Option<&AdapterProbe>) -> Result<SelectedBackend, TrainError> {
    Err(TrainError::Backend(format!(
        "{reason}, but this build has no CPU backend (enable sweeplab-core's `flex` feature)"
    )))
}

#[cfg(feature = "wgpu")]
async fn wgpu(probe: &AdapterProbe, reason: String) -> Result<SelectedBackend, TrainError> {
    let options = Device::wgpu_options();
    #[cfg(target_arch = "wasm32")]
    let device = options.init_async().await;
    #[cfg(not(target_arch = "wasm32"))]
    let device = options.init();
    let device = device.map_err(|e| {
        TrainError::Backend(format!(
            "wgpu could not start on adapter `{}`: {e}",
            probe.name
        ))
    })?;
    Ok(SelectedBackend {
        device,
        kind: BackendKind::Wgpu,
        adapter: Some(probe.name.clone()),
        software_adapter: probe.software,
        reason,
    })
}

/// Picks the backend for `choice` (see the module docs) and starts its device. Natively the
/// future completes without waiting on anything, so any executor (or a `block_on`) drives it.
pub async fn select_backend(choice: BackendChoice) -> Result<SelectedBackend, TrainError> {
    if choice == BackendChoice::Cpu {
        return flex(
            "CPU backend (Flex): backend `cpu` was requested".to_string(),
            None,
        );
    }
    #[cfg(feature = "wgpu")]
    {
        let probe = probe_adapter().await;
        let (kind, reason) = choice
            .decide(probe.as_ref())
            .map_err(|why| TrainError::Backend(format!("{why}; use `cpu` or `auto`")))?;
        match (kind, &probe) {
            (BackendKind::Wgpu, Some(p)) => wgpu(p, reason).await,
            _ => flex(reason, probe.as_ref()),
        }
    }
    #[cfg(not(feature = "wgpu"))]
    {
        match choice {
            BackendChoice::Gpu => Err(TrainError::Backend(
                "backend `gpu` was requested, but this build has no wgpu backend (enable sweeplab-core's `wgpu` feature)"
                    .into(),
            )),
            _ => flex(
                "CPU backend (Flex): this build has no wgpu backend".to_string(),
                None,
            ),
        }
    }
}

/// Whether `device` (without autodiff) is the CPU backend, Flex: where the CPU paths run
/// (`cnn_cpu`, `cpu_adam`, `lm::cpu`) and buffers may be read back at once. Always false
/// in a build without Flex.
#[cfg(feature = "flex")]
pub(crate) fn on_flex(device: &Device) -> bool {
    *device == Device::flex()
}

/// Whether `device` is Flex: never, in a build without it.
#[cfg(not(feature = "flex"))]
pub(crate) fn on_flex(_: &Device) -> bool {
    false
}
