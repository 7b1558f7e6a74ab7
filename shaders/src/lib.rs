//! # sweeplab-shaders
//!
//! The WGSL kernels of sweeplab's fused MLP engine (`sweeplab_core::train::fused`, cargo
//! feature `fused`), as string constants so that the engine reaches them through a dependency
//! instead of a path outside its own package. The `.wgsl` files sit next to this crate's
//! manifest; `README.md` there documents their bindings, memory layout and numerics.
//!
//! The engine builds two shader modules by concatenation:
//! [`MLP_COMMON`] + [`MLP_TRAIN`] + [`MLP_EVAL`] (small MLPs, one trial per workgroup) and
//! [`MLP_COMMON`] + [`MLP_WIDE`] (the wide kernels, one dispatch per layer and phase).

/// `mlp_common.wgsl`: bindings, the `Globals` and `Trial` structs, layer geometry,
/// activations and their derivatives, the dropout hash. Shared by both modules.
pub const MLP_COMMON: &str = include_str!("../mlp_common.wgsl");

/// `mlp_train.wgsl`: the `train` entry point (up to `steps_per_dispatch` fused optimiser
/// steps of every active slot).
pub const MLP_TRAIN: &str = include_str!("../mlp_train.wgsl");

/// `mlp_eval.wgsl`: the `evaluate` entry point (validation loss and accuracy of every active
/// slot; rewinds the step cursor for the next epoch).
pub const MLP_EVAL: &str = include_str!("../mlp_eval.wgsl");

/// `mlp_wide.wgsl`: the wide kernels (`wide_forward`, `wide_loss`, `wide_delta`,
/// `wide_update`, `wide_advance`) for inputs of more than 32 features, such as MNIST.
pub const MLP_WIDE: &str = include_str!("../mlp_wide.wgsl");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_is_included_with_its_entry_points() {
        assert!(MLP_COMMON.contains("struct Trial"));
        assert!(MLP_TRAIN.contains("fn train("));
        assert!(MLP_EVAL.contains("fn evaluate("));
        for entry in [
            "wide_forward",
            "wide_loss",
            "wide_delta",
            "wide_update",
            "wide_advance",
        ] {
            assert!(MLP_WIDE.contains(&format!("fn {entry}(")), "{entry}");
        }
    }
}
