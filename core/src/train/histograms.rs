//! Weight and gradient histograms of a model's trainable parameters (see
//! [`crate::histogram`]), taken after an epoch.
//!
//! Parameters are found with burn's [`ModuleVisitor`] and named by their module path as
//! PyTorch names them (`hidden.0.weight`, `conv1.bias`; LoRA adapters as PEFT's
//! `layers.0.self_attn.q_proj.lora_A.weight`). Only parameters that train are included (a LoRA
//! trial's frozen base is not). Weights and gradients are read back together, in one transfer.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use super::TrainError;
use super::trainer::read_f32;
use crate::histogram::{BINS, Histogram, gradients_tag, weights_tag};

/// Flattened tensors with the names of the parameters they belong to.
pub(crate) struct ParamValues {
    entries: Vec<(String, Tensor<1>)>,
}

struct Collect<'a> {
    path: Vec<String>,
    grads: Option<&'a GradientsParams>,
    out: Vec<(String, Tensor<1>)>,
}

fn flat<const D: usize>(t: Tensor<D>) -> Tensor<1> {
    if D == 1 {
        let n = t.shape().num_elements();
        t.reshape([n])
    } else {
        t.flatten::<1>(0, D - 1)
    }
}

impl ModuleVisitor for Collect<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        // An enum's variant (`Model::Mlp`) is not part of a parameter's name.
        if !container_type.starts_with("Enum:") {
            self.path.push(name.to_string());
        }
    }

    fn exit_module(&mut self, _name: &str, container_type: &str) {
        if !container_type.starts_with("Enum:") {
            self.path.pop();
        }
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if !param.is_require_grad() {
            return;
        }
        let name = peft_name(self.path.join("."));
        let tensor = match self.grads {
            Some(grads) => grads.get::<D>(param.id),
            None => Some(param.val().without_autodiff()),
        };
        if let Some(t) = tensor {
            self.out.push((name, flat(t)));
        }
    }
}

/// A LoRA adapter's matrices under PEFT's names (`….q_proj.lora_A.weight`), as its
/// `adapter_model.safetensors` names them.
fn peft_name(path: String) -> String {
    if let Some(p) = path.strip_suffix(".adapter.a") {
        format!("{p}.lora_A.weight")
    } else if let Some(p) = path.strip_suffix(".adapter.b") {
        format!("{p}.lora_B.weight")
    } else {
        path
    }
}

fn collect<M: Module>(model: &M, grads: Option<&GradientsParams>) -> ParamValues {
    let mut v = Collect {
        path: Vec::new(),
        grads,
        out: Vec::new(),
    };
    model.visit(&mut v);
    ParamValues { entries: v.out }
}

/// The trainable parameters' values of `model` (on the device, not read yet). `model` is
/// the training model: evaluation mode ([`Module::valid`]) marks every parameter frozen.
pub(crate) fn weights_of<M: Module>(model: &M) -> ParamValues {
    collect(model, None)
}

/// The gradients in `grads` of `model`'s trainable parameters (on the device, not read yet).
pub(crate) fn gradients_of<M: Module>(model: &M, grads: &GradientsParams) -> ParamValues {
    collect(model, Some(grads))
}

impl ParamValues {
    /// The parameters' names, in the model's order.
    #[cfg(test)]
    pub(crate) fn names(&self) -> Vec<String> {
        self.entries.iter().map(|(n, _)| n.clone()).collect()
    }
}

/// The histograms of one epoch: `weights/<param>` for every trainable parameter, then
/// `gradients/<param>` where gradients were kept; every value read back in one transfer (a
/// GPU read-back waits for the device, so one is cheaper than two).
pub(crate) async fn epoch_histograms(
    weights: ParamValues,
    gradients: Option<ParamValues>,
) -> Result<Vec<(String, Histogram)>, TrainError> {
    let mut tagged: Vec<(String, Tensor<1>)> = weights
        .entries
        .into_iter()
        .map(|(n, t)| (weights_tag(&n), t))
        .collect();
    if let Some(g) = gradients {
        tagged.extend(g.entries.into_iter().map(|(n, t)| (gradients_tag(&n), t)));
    }
    if tagged.is_empty() {
        return Ok(Vec::new());
    }
    let lens: Vec<usize> = tagged
        .iter()
        .map(|(_, t)| t.shape().num_elements())
        .collect();
    let (tags, tensors): (Vec<String>, Vec<Tensor<1>>) = tagged.into_iter().unzip();
    let values = read_f32(Tensor::cat(tensors, 0)).await?;
    let mut out = Vec::with_capacity(tags.len());
    let mut at = 0;
    for (tag, len) in tags.into_iter().zip(lens) {
        let Some(part) = values.get(at..at + len) else {
            return Err(TrainError::Device(format!(
                "read {} values back for the histograms, fewer than the parameters hold",
                values.len()
            )));
        };
        at += len;
        if let Some(h) = Histogram::from_values(part, BINS) {
            out.push((tag, h));
        }
    }
    Ok(out)
}

#[cfg(test)]
#[cfg(feature = "flex")]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic

    use burn::tensor::{Device, Int, Tensor, TensorData};

    use super::*;
    use crate::train::data::InputShape;
    use crate::train::lm::LmConfig;
    use crate::train::trainer::cross_entropy;
    use crate::vocab::{Activation, LoraSettings, LoraTargets, ModelSpec};

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        futures_lite::future::block_on(f)
    }

    #[test]
    fn mlp_and_cnn_parameters_are_named_as_pytorch_names_them() {
        let device = Device::flex().autodiff();
        let mlp = ModelSpec::Mlp {
            layers: 2,
            width: 5,
            activation: Activation::Relu,
            dropout: 0.0,
        }
        .build(InputShape::Flat(3), 4, &device)
        .unwrap();
        assert_eq!(
            weights_of(&mlp).names(),
            [
                "hidden.0.weight",
                "hidden.0.bias",
                "hidden.1.weight",
                "hidden.1.bias",
                "out.weight",
                "out.bias"
            ]
        );
        let cnn = ModelSpec::Cnn { dropout: 0.0 }
            .build(
                InputShape::Image {
                    height: 8,
                    width: 8,
                },
                10,
                &device,
            )
            .unwrap();
        assert_eq!(
            weights_of(&cnn).names(),
            [
                "conv1.weight",
                "conv1.bias",
                "conv2.weight",
                "conv2.bias",
                "fc1.weight",
                "fc1.bias",
                "fc2.weight",
                "fc2.bias"
            ]
        );
    }

    #[test]
    fn weights_and_gradients_histograms_count_every_value() {
        let device = Device::flex().autodiff();
        device.seed(3);
        let model = ModelSpec::Mlp {
            layers: 1,
            width: 6,
            activation: Activation::Tanh,
            dropout: 0.0,
        }
        .build(InputShape::Flat(2), 3, &device)
        .unwrap();
        let x = Tensor::<2>::from_data(
            TensorData::new(vec![0.5f32, -1.0, 2.0, 0.25], [2, 2]),
            &device,
        );
        let y = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 2], [2]), &device);
        let (logits, tape) = model.forward_train(x);
        let grads = model.gradients(cross_entropy(logits, y).backward(), tape);
        let h = block_on(epoch_histograms(
            weights_of(&model),
            Some(gradients_of(&model, &grads)),
        ))
        .unwrap();
        let tags: Vec<&str> = h.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            tags,
            [
                "weights/hidden.0.weight",
                "weights/hidden.0.bias",
                "weights/out.weight",
                "weights/out.bias",
                "gradients/hidden.0.weight",
                "gradients/hidden.0.bias",
                "gradients/out.weight",
                "gradients/out.bias"
            ]
        );
        let nums: Vec<u64> = h.iter().map(|(_, h)| h.num).collect();
        assert_eq!(nums, [12, 6, 18, 3, 12, 6, 18, 3]);
        // The output bias's gradient is softmax − one-hot, averaged: it sums to 0.
        let (_, out_bias) = &h[7];
        assert!(out_bias.sum.abs() < 1e-6, "{}", out_bias.sum);
        assert!(out_bias.sum_squares > 0.0);
        for (tag, hist) in &h {
            assert_eq!(hist.counts.len(), BINS, "{tag}");
            assert_eq!(hist.counts.iter().sum::<u64>(), hist.num, "{tag}");
        }
    }

    #[test]
    fn a_lora_model_histograms_only_its_adapters() {
        let device = Device::flex().autodiff();
        let base = LmConfig {
            d_model: 8,
            layers: 1,
            heads: 2,
            d_ff: 16,
            context: 6,
        }
        .init(&device)
        .unwrap();
        let spec = LoraSettings {
            r: 2,
            alpha: 4.0,
            dropout: 0.0,
            targets: LoraTargets::Qv,
        };
        let lora = base.with_lora(&spec, &device).unwrap();
        let names = weights_of(&lora).names();
        let peft: Vec<String> = lora.adapter_tensors().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names, peft,
            "the adapters, under the names PEFT's file gives them"
        );
        assert_eq!(names.len(), 4, "{names:?}");
    }
}
