//! Choosing the burn backend at run time: wgpu (WebGPU in the browser; Vulkan, Metal or DX12
//! natively) or Flex, burn's CPU backend.
//!
//! `auto` takes wgpu on a hardware adapter and Flex on a software (CPU) adapter or when there
//! is no adapter; `gpu` insists on wgpu (a software adapter is accepted, with a note); `cpu`
//! takes Flex. The choice comes with a sentence saying which backend runs and why.

use burn::tensor::Device;

use super::TrainError;

/// What the user asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum BackendChoice {
    /// wgpu on a hardware adapter, otherwise the CPU backend.
    #[default]
    Auto,
    /// wgpu, or an error when no adapter exists.
    Gpu,
    /// The CPU backend (Flex).
    Cpu,
}

impl BackendChoice {
    /// Parses `auto`, `gpu` or `cpu` (case-insensitive).
    pub fn parse(s: &str) -> Result<BackendChoice, TrainError> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(BackendChoice::Auto),
            "gpu" | "wgpu" | "webgpu" => Ok(BackendChoice::Gpu),
            "cpu" | "flex" => Ok(BackendChoice::Cpu),
            _ => Err(TrainError::Backend(format!(
                "backend `{s}` is not one of auto, gpu, cpu"
            ))),
        }
    }

    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Gpu => "gpu",
            BackendChoice::Cpu => "cpu",
        }
    }
}

/// The backend that runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// burn's Flex CPU backend.
    Flex,
    /// burn's wgpu backend.
    Wgpu,
}

impl BackendKind {
    /// `flex` or `wgpu`.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Flex => "flex",
            BackendKind::Wgpu => "wgpu",
        }
    }
}

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

/// What a wgpu adapter probe found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterProbe {
    /// The adapter's name.
    pub name: String,
    /// The graphics API (Vulkan, Metal, Dx12, BrowserWebGpu, …).
    pub api: String,
    /// Whether it is a software rasteriser or a CPU adapter.
    pub software: bool,
}

/// Looks for the adapter wgpu would pick (high-performance preference). `None` when there is
/// none.
#[cfg(feature = "wgpu")]
pub async fn probe_adapter() -> Option<AdapterProbe> {
    use burn::tensor::wgpu::wgpu;
    let instance = wgpu::Instance::default();
    let adapter = instance
        .request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        })
        .await
        .ok()?;
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
        match (choice, probe) {
            (BackendChoice::Gpu, Some(p)) => {
                let note = if p.software {
                    " (a software adapter: expect CPU speed)"
                } else {
                    ""
                };
                let reason = format!(
                    "wgpu on `{}` ({}){note}: backend `gpu` was requested",
                    p.name, p.api
                );
                wgpu(&p, reason).await
            }
            (BackendChoice::Gpu, None) => Err(TrainError::Backend(
                "backend `gpu` was requested, but no GPU adapter was found (no WebGPU, Vulkan, Metal or DX12 device); use `cpu` or `auto`".into(),
            )),
            (_, Some(p)) if !p.software => {
                let reason = format!(
                    "wgpu on `{}` ({}): auto picks the GPU on a hardware adapter",
                    p.name, p.api
                );
                wgpu(&p, reason).await
            }
            (_, Some(p)) => flex(
                format!(
                    "CPU backend (Flex): auto found only a software adapter (`{}`), which is slower than Flex",
                    p.name
                ),
                Some(&p),
            ),
            (_, None) => flex(
                "CPU backend (Flex): auto found no GPU adapter".to_string(),
                None,
            ),
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
