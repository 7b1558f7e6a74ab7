//! Which backend trains: what the user asks for ([`BackendChoice`]), what an adapter probe
//! found ([`AdapterProbe`]) and the rule that picks between them ([`BackendChoice::decide`]),
//! shared by the CLI's backend selection and the playground.

use serde::{Deserialize, Serialize};

use super::{BackendKind, PlanError};

/// What the user asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// wgpu on a hardware adapter, otherwise the CPU backend.
    #[default]
    Auto,
    /// wgpu, whatever the adapter (an error, or the CPU in the browser, when there is none).
    Gpu,
    /// The CPU backend (Flex).
    Cpu,
}

/// What a wgpu (or WebGPU) adapter probe found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterProbe {
    /// The adapter's name.
    pub name: String,
    /// The graphics API (Vulkan, Metal, Dx12, WebGPU, …).
    pub api: String,
    /// Whether it is a software rasteriser or a CPU adapter.
    pub software: bool,
}

impl BackendChoice {
    /// Every choice, in menu order.
    pub const ALL: [BackendChoice; 3] =
        [BackendChoice::Auto, BackendChoice::Gpu, BackendChoice::Cpu];

    /// Parses `auto`, `gpu` or `cpu` (case-insensitive; also `wgpu`, `webgpu`, `flex`).
    pub fn parse(s: &str) -> Result<BackendChoice, PlanError> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(BackendChoice::Auto),
            "gpu" | "wgpu" | "webgpu" => Ok(BackendChoice::Gpu),
            "cpu" | "flex" => Ok(BackendChoice::Cpu),
            _ => Err(PlanError(format!(
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

    /// A human label for the playground's menu.
    pub fn label(self) -> &'static str {
        match self {
            BackendChoice::Auto => "Auto",
            BackendChoice::Gpu => "WebGPU",
            BackendChoice::Cpu => "CPU",
        }
    }

    /// The backend this choice takes given the adapter a probe found, with one sentence
    /// saying which and why: `cpu` takes the CPU; `gpu` takes any adapter (a software one
    /// with a note); `auto` takes a hardware adapter and the CPU otherwise, since a
    /// software adapter is slower than the CPU backend. `Err` (the reason) when `gpu` was
    /// asked for and there is no adapter.
    pub fn decide(self, probe: Option<&AdapterProbe>) -> Result<(BackendKind, String), String> {
        match (self, probe) {
            (BackendChoice::Cpu, _) => Ok((
                BackendKind::Flex,
                "CPU backend (Flex): backend `cpu` was requested".into(),
            )),
            (BackendChoice::Gpu, Some(p)) => Ok((
                BackendKind::Wgpu,
                format!(
                    "wgpu on `{}` ({}){}: backend `gpu` was requested",
                    p.name,
                    p.api,
                    if p.software {
                        " (a software adapter: expect CPU speed)"
                    } else {
                        ""
                    }
                ),
            )),
            (BackendChoice::Gpu, None) => Err(
                "backend `gpu` was requested, but no GPU adapter was found (no WebGPU, Vulkan, Metal or DX12 device)".into(),
            ),
            (BackendChoice::Auto, Some(p)) if !p.software => Ok((
                BackendKind::Wgpu,
                format!(
                    "wgpu on `{}` ({}): auto picks the GPU on a hardware adapter",
                    p.name, p.api
                ),
            )),
            (BackendChoice::Auto, Some(p)) => Ok((
                BackendKind::Flex,
                format!(
                    "CPU backend (Flex): auto found only a software adapter (`{}`), which is slower than Flex",
                    p.name
                ),
            )),
            (BackendChoice::Auto, None) => Ok((
                BackendKind::Flex,
                "CPU backend (Flex): auto found no GPU adapter".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_takes_hardware_gpu_asks_for_any_cpu_takes_the_cpu() {
        let hw = AdapterProbe {
            name: "GPU".into(),
            api: "Vulkan".into(),
            software: false,
        };
        let sw = AdapterProbe {
            software: true,
            ..hw.clone()
        };
        let kind = |c: BackendChoice, p: Option<&AdapterProbe>| c.decide(p).map(|(k, _)| k);
        assert_eq!(kind(BackendChoice::Auto, Some(&hw)), Ok(BackendKind::Wgpu));
        assert_eq!(kind(BackendChoice::Auto, Some(&sw)), Ok(BackendKind::Flex));
        assert_eq!(kind(BackendChoice::Auto, None), Ok(BackendKind::Flex));
        assert_eq!(kind(BackendChoice::Gpu, Some(&sw)), Ok(BackendKind::Wgpu));
        assert!(kind(BackendChoice::Gpu, None).is_err());
        assert_eq!(kind(BackendChoice::Cpu, Some(&hw)), Ok(BackendKind::Flex));
        let (_, why) = BackendChoice::Auto.decide(Some(&sw)).unwrap();
        assert!(why.contains("software") && why.contains("CPU"), "{why}");
        for c in BackendChoice::ALL {
            assert_eq!(BackendChoice::parse(c.name()), Ok(c));
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.name()));
        }
    }
}
