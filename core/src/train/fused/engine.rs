//! The wgpu side: the device and pipelines ([`FusedEngine`]) and K trials resident on it
//! ([`FusedRun`]), trained an epoch per submit with one read-back.

use std::sync::{Arc, Mutex};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
// The kernels, from the `sweeplab-shaders` crate (the project's `shaders/` folder).
use sweeplab_shaders::{MLP_COMMON, MLP_EVAL, MLP_TRAIN, MLP_WIDE};

use super::super::TrainError;
use super::super::data::{DataSet, shuffle};
use super::layout::{
    ADAM_BETAS, FusedNet, FusedWeights, NetShape, WIDE_MAX_LAYERS, WORKGROUP_SIZE, activation_code,
    check_data, check_plan, optimizer_code, uses_wide_kernels,
};
use super::readback::{f32s, read_bytes};
use crate::vocab::TrialPlan;

/// Bytes between two `Job` records of the wide kernels (WebGPU's default
/// `minUniformBufferOffsetAlignment`).
const JOB_STRIDE: u64 = 256;
/// `Job` records: a training and an evaluation record per linear layer.
const JOB_RECORDS: usize = 2 * (WIDE_MAX_LAYERS + 1);
/// Rows and columns of a wide kernel's workgroup tile (`TILE` in mlp_wide.wgsl).
const WIDE_TILE: usize = 32;
/// Most trials at once on the wide kernels (each holds up to a few million parameters).
const WIDE_MAX_SLOTS: usize = 8;

/// Loss bins per slot and epoch: `train/loss` is kept per step while an epoch has at most this
/// many steps, otherwise per group of `ceil(steps / LOSS_BINS)` consecutive steps.
pub const LOSS_BINS: usize = 256;

/// Optimiser steps per `train` dispatch (each dispatch runs this many steps of every slot).
pub const DEFAULT_STEPS_PER_DISPATCH: u32 = 64;

/// The salt the trainer mixes into a plan's seed for its batch order (kept equal so a fused
/// trial sees the same batches as `train_trial` with the same seed).
const ORDER_SALT: u64 = 0x5eed_1dea;

/// Words per slot in the counters buffer.
const COUNTER_WORDS: u64 = 4;
/// Bytes of one `Trial` record.
const TRIAL_BYTES: u64 = 80;

/// A wgpu device with the fused kernels compiled; create once and start any number of
/// [`FusedRun`]s on it.
pub struct FusedEngine {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    layout: wgpu::BindGroupLayout,
    train: wgpu::ComputePipeline,
    eval: wgpu::ComputePipeline,
    wide: WidePipelines,
    errors: Arc<Mutex<Option<String>>>,
}

/// The wide kernels (`shaders/mlp_wide.wgsl`) and the layout of their `Job` binding.
#[derive(Clone)]
struct WidePipelines {
    job_layout: wgpu::BindGroupLayout,
    forward: wgpu::ComputePipeline,
    loss: wgpu::ComputePipeline,
    delta: wgpu::ComputePipeline,
    update: wgpu::ComputePipeline,
    advance: wgpu::ComputePipeline,
}

impl std::fmt::Debug for FusedEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FusedEngine")
            .field("adapter", &self.info.name)
            .field("backend", &self.info.backend)
            .finish()
    }
}

fn storage_entry(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

impl FusedEngine {
    /// Finds the adapter wgpu prefers (high performance), opens a device and compiles the
    /// kernels. In the browser this is WebGPU; natively Vulkan, Metal or DX12 (a software
    /// adapter such as lavapipe or SwiftShader works, at CPU speed).
    pub async fn new() -> Result<FusedEngine, TrainError> {
        let adapter = super::super::backend::preferred_adapter()
            .await
            .map_err(|e| {
                TrainError::Backend(format!(
                    "the fused engine needs a GPU adapter (WebGPU, Vulkan, Metal or DX12), but none was found: {e}"
                ))
            })?;
        FusedEngine::from_adapter(&adapter).await
    }

    /// Opens a device on `adapter` and compiles the kernels.
    pub async fn from_adapter(adapter: &wgpu::Adapter) -> Result<FusedEngine, TrainError> {
        let info = adapter.get_info();
        let supported = adapter.limits();
        let limits = wgpu::Limits {
            max_storage_buffer_binding_size: supported.max_storage_buffer_binding_size,
            max_buffer_size: supported.max_buffer_size,
            ..wgpu::Limits::default()
        };
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("sweeplab-fused"),
                required_limits: limits,
                ..Default::default()
            })
            .await
            .map_err(|e| {
                TrainError::Backend(format!(
                    "the fused engine could not open a device on adapter `{}`: {e}",
                    info.name
                ))
            })?;
        // Errors outside an error scope are recorded (and reported at the next read-back)
        // rather than wgpu's default of panicking.
        let errors: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
        {
            let errors = errors.clone();
            device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
                let mut slot = errors.lock().unwrap_or_else(|p| p.into_inner());
                if slot.is_none() {
                    *slot = Some(e.to_string());
                }
            }));
        }
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let source = [MLP_COMMON, MLP_TRAIN, MLP_EVAL].concat();
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("sweeplab-fused-mlp"),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("sweeplab-fused"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                },
                storage_entry(1, true),
                storage_entry(2, true),
                storage_entry(3, true),
                storage_entry(4, false),
                storage_entry(5, false),
                storage_entry(6, false),
                storage_entry(7, false),
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("sweeplab-fused"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = |layout: &wgpu::PipelineLayout, module: &wgpu::ShaderModule, entry: &str| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: Some(layout),
                module,
                entry_point: Some(entry),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: &[],
                    zero_initialize_workgroup_memory: false,
                },
                cache: None,
            })
        };
        let train = pipeline(&pipeline_layout, &module, "train");
        let eval = pipeline(&pipeline_layout, &module, "evaluate");

        let wide_source = [MLP_COMMON, MLP_WIDE].concat();
        let wide_module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("sweeplab-fused-mlp-wide"),
            source: wgpu::ShaderSource::Wgsl(wide_source.into()),
        });
        let job_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("sweeplab-fused-job"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: true,
                    min_binding_size: wgpu::BufferSize::new(16),
                },
                count: None,
            }],
        });
        let wide_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("sweeplab-fused-wide"),
            bind_group_layouts: &[Some(&layout), Some(&job_layout)],
            immediate_size: 0,
        });
        let wide_pipeline = |entry: &str| pipeline(&wide_layout, &wide_module, entry);
        let wide = WidePipelines {
            forward: wide_pipeline("wide_forward"),
            loss: wide_pipeline("wide_loss"),
            delta: wide_pipeline("wide_delta"),
            update: wide_pipeline("wide_update"),
            advance: wide_pipeline("wide_advance"),
            job_layout,
        };
        if let Some(e) = scope.pop().await {
            return Err(TrainError::Backend(format!(
                "the fused kernels did not compile on adapter `{}`: {e}",
                info.name
            )));
        }
        Ok(FusedEngine {
            device,
            queue,
            info,
            layout,
            train,
            eval,
            wide,
            errors,
        })
    }

    /// The adapter's name (e.g. `llvmpipe (LLVM 15.0.6, 256 bits)` for lavapipe).
    pub fn adapter_name(&self) -> &str {
        &self.info.name
    }

    /// The graphics API in use (Vulkan, Metal, Dx12, BrowserWebGpu, …).
    pub fn api(&self) -> String {
        format!("{:?}", self.info.backend)
    }

    /// Whether the adapter is a software (CPU) one.
    pub fn software_adapter(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    fn take_error(&self) -> Option<String> {
        self.errors.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// One epoch of one slot, as read back.
#[derive(Clone, Debug, PartialEq)]
pub struct SlotEpoch {
    /// The slot.
    pub slot: usize,
    /// The epoch just trained, from 1.
    pub epoch: usize,
    /// `(global optimiser step from 1, loss)`: one entry per step, or per group of steps
    /// (their mean, at the group's last step) when the epoch has more than [`LOSS_BINS`].
    pub train_losses: Vec<(u64, f64)>,
    /// Mean training loss over the epoch's steps (non-finite if any step's was).
    pub train_loss: f64,
    /// Mean validation cross-entropy after the epoch (NaN without validation samples).
    pub val_loss: f64,
    /// Validation accuracy after the epoch (NaN without validation samples).
    pub val_accuracy: f64,
    /// The slot's parameters after the epoch, when [`FusedRun::set_read_weights`] is on
    /// (read back with the metrics, in the same copy).
    pub weights: Option<FusedWeights>,
    /// The training samples of the epoch's last step (indices into the training split),
    /// when the weights are read.
    pub last_batch: Vec<u32>,
}

/// Host-side state of an occupied slot.
#[derive(Clone, Debug)]
struct Lane {
    net: FusedNet,
    batch: usize,
    steps: usize,
    group: usize,
    epoch: usize,
    step: u64,
    order: Vec<u32>,
    rng: ChaCha8Rng,
}

struct Buffers {
    trials: wgpu::Buffer,
    data: wgpu::Buffer,
    perm: wgpu::Buffer,
    state: wgpu::Buffer,
    scratch: wgpu::Buffer,
    counters: wgpu::Buffer,
    out: wgpu::Buffer,
    staging: wgpu::Buffer,
    globals: wgpu::Buffer,
}

/// K slots of fused MLP training on one data set: load a trial into a slot, train every
/// occupied slot an epoch at a time, read metrics back once per epoch.
pub struct FusedRun {
    device: wgpu::Device,
    queue: wgpu::Queue,
    layout: wgpu::BindGroupLayout,
    train: wgpu::ComputePipeline,
    eval: wgpu::ComputePipeline,
    errors: Arc<Mutex<Option<String>>>,
    /// The wide kernels and their `Job` records, when the data set needs them.
    wide: Option<(WidePipelines, wgpu::BindGroup)>,
    bufs: Buffers,
    bind_group: wgpu::BindGroup,
    lanes: Vec<Option<Lane>>,
    n_train: usize,
    n_valid: usize,
    in_dim: usize,
    classes: usize,
    max_params: usize,
    scratch_stride: usize,
    steps_per_dispatch: u32,
    max_binding: u64,
    read_weights: bool,
}

impl std::fmt::Debug for FusedRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FusedRun")
            .field("slots", &self.lanes.len())
            .field("active", &self.active_slots())
            .finish()
    }
}

fn words(ws: &[u32]) -> Vec<u8> {
    ws.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn floats(fs: &[f32]) -> Vec<u8> {
    fs.iter().flat_map(|f| f.to_le_bytes()).collect()
}

impl FusedRun {
    /// Uploads `data` and makes room for `slots` trials (all empty). The data set must suit
    /// the kernels (see [`check_data`](super::check_data)). On the wide kernels (see
    /// [`uses_wide_kernels`](super::uses_wide_kernels)) the run takes at most 8 trials at
    /// once, and fewer where the device's buffers hold fewer of the largest networks:
    /// [`FusedRun::slots`] says how many it made room for.
    pub fn new(engine: &FusedEngine, data: &DataSet, slots: usize) -> Result<FusedRun, TrainError> {
        check_data(data)?;
        if !(1..=65_535).contains(&slots) {
            return Err(TrainError::Config(format!(
                "the fused engine takes 1 to 65535 trials at once, not {slots}"
            )));
        }
        let wide = uses_wide_kernels(data);
        let device = &engine.device;
        let n_train = data.train.len();
        let n_valid = data.valid.len();
        let in_dim = data.shape.numel();
        let classes = data.classes;
        let max_params = NetShape::largest(in_dim, classes).param_count();
        let limits = device.limits();
        let max_binding = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        let slots = if wide {
            let fit = (max_binding / (3 * max_params as u64 * 4)).max(1) as usize;
            slots.min(WIDE_MAX_SLOTS).min(fit)
        } else {
            slots
        };
        let state_bytes = (slots * 3 * max_params * 4) as u64;
        let perm_bytes = (slots * n_train * 4) as u64;
        if state_bytes > max_binding || perm_bytes > max_binding {
            return Err(TrainError::Config(format!(
                "{slots} trials at once do not fit in the device's buffers (at most {max_binding} bytes each); use fewer"
            )));
        }
        // Training features, training labels, validation features, validation labels.
        let mut values: Vec<f32> = Vec::new();
        values.extend_from_slice(&data.train.features);
        values.extend(data.train.labels.iter().map(|&y| y as f32));
        values.extend_from_slice(&data.valid.features);
        values.extend(data.valid.labels.iter().map(|&y| y as f32));
        if values.len() * 4 > max_binding as usize {
            return Err(TrainError::Config(format!(
                "data set `{}` is too large for the device's buffers",
                data.name
            )));
        }
        let buffer = |label: &str, size: u64, usage: wgpu::BufferUsages| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: size.max(16),
                usage,
                mapped_at_creation: false,
            })
        };
        use wgpu::BufferUsages as U;
        let out_stride = LOSS_BINS + 2;
        let scratch_stride = if wide {
            16
        } else {
            2 * WORKGROUP_SIZE as usize
        };
        let bufs = Buffers {
            globals: buffer("globals", 64, U::UNIFORM | U::COPY_DST),
            trials: buffer(
                "trials",
                slots as u64 * TRIAL_BYTES,
                U::STORAGE | U::COPY_DST,
            ),
            data: buffer("data", values.len() as u64 * 4, U::STORAGE | U::COPY_DST),
            perm: buffer("perm", perm_bytes, U::STORAGE | U::COPY_DST),
            state: buffer("state", state_bytes, U::STORAGE | U::COPY_DST | U::COPY_SRC),
            scratch: buffer("scratch", (slots * scratch_stride * 4) as u64, U::STORAGE),
            counters: buffer(
                "counters",
                slots as u64 * COUNTER_WORDS * 4,
                U::STORAGE | U::COPY_DST,
            ),
            out: buffer(
                "out",
                (slots * out_stride * 4) as u64,
                U::STORAGE | U::COPY_SRC,
            ),
            // The metrics, then (when weights are read with them) every slot's parameters.
            staging: buffer(
                "staging",
                ((slots * out_stride + slots * max_params) * 4) as u64,
                U::MAP_READ | U::COPY_DST,
            ),
        };
        let queue = &engine.queue;
        queue.write_buffer(&bufs.data, 0, &floats(&values));
        queue.write_buffer(&bufs.trials, 0, &vec![0u8; slots * TRIAL_BYTES as usize]);
        let wide = wide.then(|| {
            // One `Job` record per (mode, layer): record `mode * (WIDE_MAX_LAYERS + 1) + layer`.
            let jobs = buffer(
                "jobs",
                JOB_RECORDS as u64 * JOB_STRIDE,
                U::UNIFORM | U::COPY_DST,
            );
            let mut records = vec![0u8; JOB_RECORDS * JOB_STRIDE as usize];
            for (i, rec) in records.chunks_mut(JOB_STRIDE as usize).enumerate() {
                let layer = (i % (WIDE_MAX_LAYERS + 1)) as u32;
                let eval = (i / (WIDE_MAX_LAYERS + 1)) as u32;
                rec[..8].copy_from_slice(&words(&[layer, eval]));
            }
            queue.write_buffer(&jobs, 0, &records);
            let group = engine.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("sweeplab-fused-jobs"),
                layout: &engine.wide.job_layout,
                entries: &[wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &jobs,
                        offset: 0,
                        size: wgpu::BufferSize::new(16),
                    }),
                }],
            });
            (engine.wide.clone(), group)
        });
        let mut run = FusedRun {
            device: engine.device.clone(),
            queue: engine.queue.clone(),
            layout: engine.layout.clone(),
            train: engine.train.clone(),
            eval: engine.eval.clone(),
            errors: engine.errors.clone(),
            wide,
            bind_group: Self::make_bind_group(&engine.device, &engine.layout, &bufs),
            bufs,
            lanes: vec![None; slots],
            n_train,
            n_valid,
            in_dim,
            classes,
            max_params,
            scratch_stride,
            steps_per_dispatch: DEFAULT_STEPS_PER_DISPATCH,
            max_binding,
            read_weights: false,
        };
        run.rewrite_globals();
        Ok(run)
    }

    fn make_bind_group(
        device: &wgpu::Device,
        layout: &wgpu::BindGroupLayout,
        b: &Buffers,
    ) -> wgpu::BindGroup {
        fn entry(binding: u32, buffer: &wgpu::Buffer) -> wgpu::BindGroupEntry<'_> {
            wgpu::BindGroupEntry {
                binding,
                resource: buffer.as_entire_binding(),
            }
        }
        device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("sweeplab-fused"),
            layout,
            entries: &[
                entry(0, &b.globals),
                entry(1, &b.trials),
                entry(2, &b.data),
                entry(3, &b.perm),
                entry(4, &b.state),
                entry(5, &b.scratch),
                entry(6, &b.counters),
                entry(7, &b.out),
            ],
        })
    }

    fn write_globals(&mut self, train_y: usize, valid_x: usize, valid_y: usize) {
        let g = [
            self.n_train as u32,
            self.n_valid as u32,
            self.in_dim as u32,
            self.classes as u32,
            0,
            train_y as u32,
            valid_x as u32,
            valid_y as u32,
            (3 * self.max_params) as u32,
            self.max_params as u32,
            self.scratch_stride as u32,
            (LOSS_BINS + 2) as u32,
            LOSS_BINS as u32,
            self.steps_per_dispatch,
            self.lanes.len() as u32,
            0,
        ];
        self.queue.write_buffer(&self.bufs.globals, 0, &words(&g));
    }

    fn globals_offsets(&self) -> (usize, usize, usize) {
        let train_y = self.n_train * self.in_dim;
        let valid_x = train_y + self.n_train;
        let valid_y = valid_x + self.n_valid * self.in_dim;
        (train_y, valid_x, valid_y)
    }

    fn rewrite_globals(&mut self) {
        let (a, b, c) = self.globals_offsets();
        self.write_globals(a, b, c);
    }

    /// Number of slots.
    pub fn slots(&self) -> usize {
        self.lanes.len()
    }

    /// The occupied slots, in order.
    pub fn active_slots(&self) -> Vec<usize> {
        (0..self.lanes.len())
            .filter(|&i| self.lanes[i].is_some())
            .collect()
    }

    /// Epochs trained by the trial in `slot` (None for an empty slot).
    pub fn epochs_done(&self, slot: usize) -> Option<usize> {
        self.lanes.get(slot)?.as_ref().map(|l| l.epoch)
    }

    /// Optimiser steps each slot runs per `train` dispatch (a command buffer holds enough
    /// dispatches for a whole epoch). Smaller values keep single dispatches short on a GPU
    /// that enforces a time limit; larger ones cut dispatch overhead. Clamped to 1..=4096.
    pub fn set_steps_per_dispatch(&mut self, steps: u32) {
        self.steps_per_dispatch = steps.clamp(1, 4096);
        self.rewrite_globals();
    }

    /// Puts the trial `plan` into `slot` (replacing whatever was there), with the given
    /// initial parameters (in [`NetShape::param_count`] order, e.g. copied from a burn
    /// model) or fresh ones from [`NetShape::init_params`] with the plan's seed. The batch
    /// order follows the trainer's: a ChaCha8 stream from the plan's seed reshuffles the
    /// training indices every epoch.
    pub fn load(
        &mut self,
        slot: usize,
        plan: &TrialPlan,
        params: Option<&[f32]>,
        data: &DataSet,
    ) -> Result<FusedNet, TrainError> {
        if slot >= self.lanes.len() {
            return Err(TrainError::Config(format!(
                "slot {slot} does not exist (the run has {})",
                self.lanes.len()
            )));
        }
        if data.train.len() != self.n_train
            || data.valid.len() != self.n_valid
            || data.shape.numel() != self.in_dim
            || data.classes != self.classes
        {
            return Err(TrainError::Config(
                "load: the data set differs from the one the run was created with".into(),
            ));
        }
        let net = check_plan(plan, data)?;
        let shape = net.shape;
        let init;
        let params = match params {
            Some(p) if p.len() != shape.param_count() => {
                return Err(TrainError::Config(format!(
                    "expected {} initial parameters for {} hidden layer(s) of {} units, got {}",
                    shape.param_count(),
                    shape.layers,
                    shape.width,
                    p.len()
                )));
            }
            Some(p) => p,
            None => {
                init = shape.init_params(plan.seed);
                &init
            }
        };
        if params.iter().any(|v| !v.is_finite()) {
            return Err(TrainError::Config(
                "initial parameters must be finite".into(),
            ));
        }
        let batch = plan.batch_size.min(self.n_train);
        let steps = self.n_train.div_ceil(batch);
        let group = steps.div_ceil(LOSS_BINS);
        let need = shape.scratch_floats(batch, self.wide.is_some());
        if need > self.scratch_stride {
            let bytes = (self.lanes.len() * need * 4) as u64;
            if bytes > self.max_binding {
                return Err(TrainError::Config(format!(
                    "batch size {batch} with {} trials at once needs {bytes} bytes of scratch, more than the device allows",
                    self.lanes.len()
                )));
            }
            self.scratch_stride = need;
            self.bufs.scratch = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("scratch"),
                size: bytes,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            });
            self.bind_group = Self::make_bind_group(&self.device, &self.layout, &self.bufs);
            self.rewrite_globals();
        }
        // Parameters, then zeroed optimiser moments.
        let base = (slot * 3 * self.max_params * 4) as u64;
        let mut state = vec![0f32; 3 * self.max_params];
        state[..params.len()].copy_from_slice(params);
        self.queue
            .write_buffer(&self.bufs.state, base, &floats(&state));
        self.queue.write_buffer(
            &self.bufs.counters,
            slot as u64 * COUNTER_WORDS * 4,
            &[0u8; (COUNTER_WORDS * 4) as usize],
        );
        let (beta1, beta2, eps) = ADAM_BETAS;
        let seed = (plan.seed as u32) ^ ((plan.seed >> 32) as u32);
        let decay = (1.0 - plan.lr * plan.weight_decay) as f32;
        let mut rec = words(&[
            1,
            shape.layers as u32,
            shape.width as u32,
            activation_code(net.activation),
            optimizer_code(plan.optimizer),
            batch as u32,
            steps as u32,
            group as u32,
        ]);
        rec.extend(floats(&[
            plan.lr as f32,
            plan.weight_decay as f32,
            plan.momentum as f32,
            net.dropout as f32,
        ]));
        rec.extend(words(&[seed]));
        rec.extend(floats(&[beta1, beta2, eps, decay]));
        rec.extend(words(&[0, 0, 0]));
        self.queue
            .write_buffer(&self.bufs.trials, slot as u64 * TRIAL_BYTES, &rec);
        self.lanes[slot] = Some(Lane {
            net,
            batch,
            steps,
            group,
            epoch: 0,
            step: 0,
            order: (0..self.n_train as u32).collect(),
            rng: ChaCha8Rng::seed_from_u64(plan.seed ^ ORDER_SALT),
        });
        Ok(net)
    }

    /// Whether [`FusedRun::run_epoch`] also reads every occupied slot's parameters back
    /// (in [`SlotEpoch::weights`]), in the same copy as the metrics: one read-back per
    /// epoch either way. The playground turns it on to draw decision boundaries.
    pub fn set_read_weights(&mut self, on: bool) {
        self.read_weights = on;
    }

    /// Empties `slot`; its workgroup returns at once from then on.
    pub fn unload(&mut self, slot: usize) {
        if let Some(lane) = self.lanes.get_mut(slot)
            && lane.take().is_some()
        {
            self.queue.write_buffer(
                &self.bufs.trials,
                slot as u64 * TRIAL_BYTES,
                &[0u8; TRIAL_BYTES as usize],
            );
        }
    }

    fn check_device(&self) -> Result<(), TrainError> {
        match self.errors.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(e) => Err(TrainError::Device(e)),
            None => Ok(()),
        }
    }

    /// Trains every occupied slot for one epoch (one submit: the epoch's `train` dispatches,
    /// the evaluation, one copy) and reads the metrics back once. Returns one entry per
    /// occupied slot, in slot order.
    pub async fn run_epoch(&mut self) -> Result<Vec<SlotEpoch>, TrainError> {
        let active = self.active_slots();
        if active.is_empty() {
            return Ok(Vec::new());
        }
        let mut max_steps = 0;
        for &slot in &active {
            let Some(lane) = self.lanes[slot].as_mut() else {
                continue;
            };
            shuffle(&mut lane.order, &mut lane.rng);
            max_steps = max_steps.max(lane.steps);
            self.queue.write_buffer(
                &self.bufs.perm,
                (slot * self.n_train * 4) as u64,
                &words(&lane.order),
            );
        }
        let slots = self.lanes.len() as u32;
        let dispatches = max_steps.div_ceil(self.steps_per_dispatch as usize);
        let out_bytes = (self.lanes.len() * (LOSS_BINS + 2) * 4) as u64;
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("sweeplab-fused-epoch"),
            });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("sweeplab-fused-epoch"),
                timestamp_writes: None,
            });
            pass.set_bind_group(0, &self.bind_group, &[]);
            if let Some((wide, jobs)) = &self.wide {
                self.encode_wide_epoch(&mut pass, wide, jobs, &active, max_steps);
            } else {
                pass.set_pipeline(&self.train);
                for _ in 0..dispatches {
                    pass.dispatch_workgroups(slots, 1, 1);
                }
                pass.set_pipeline(&self.eval);
                pass.dispatch_workgroups(slots, 1, 1);
            }
        }
        encoder.copy_buffer_to_buffer(&self.bufs.out, 0, &self.bufs.staging, 0, out_bytes);
        let mut read = out_bytes;
        if self.read_weights {
            for &slot in &active {
                let Some(lane) = self.lanes[slot].as_ref() else {
                    continue;
                };
                let dst = out_bytes + (slot * self.max_params * 4) as u64;
                let n = (lane.net.shape.param_count() * 4) as u64;
                encoder.copy_buffer_to_buffer(
                    &self.bufs.state,
                    (slot * 3 * self.max_params * 4) as u64,
                    &self.bufs.staging,
                    dst,
                    n,
                );
                read = read.max(dst + n);
            }
        }
        self.queue.submit([encoder.finish()]);
        let bytes = read_bytes(&self.device, &self.bufs.staging, read).await;
        self.check_device()?;
        let values = f32s(&bytes?);
        let stride = LOSS_BINS + 2;
        let weights_at = self.lanes.len() * stride;
        let mut results = Vec::with_capacity(active.len());
        for &slot in &active {
            let Some(lane) = self.lanes[slot].as_mut() else {
                continue;
            };
            let row = &values[slot * stride..(slot + 1) * stride];
            let mut train_losses = Vec::new();
            let mut sum = 0.0f64;
            for (bin, &v) in row.iter().enumerate().take(lane.steps.div_ceil(lane.group)) {
                let first = bin * lane.group;
                let last = ((bin + 1) * lane.group).min(lane.steps);
                let v = f64::from(v);
                sum += v;
                train_losses.push((lane.step + last as u64, v / (last - first) as f64));
            }
            lane.step += lane.steps as u64;
            lane.epoch += 1;
            let (val_loss, val_accuracy) = if self.n_valid == 0 {
                (f64::NAN, f64::NAN)
            } else {
                (f64::from(row[LOSS_BINS]), f64::from(row[LOSS_BINS + 1]))
            };
            let weights = self.read_weights.then(|| {
                let at = weights_at + slot * self.max_params;
                FusedWeights {
                    shape: lane.net.shape,
                    activation: lane.net.activation,
                    params: values
                        .get(at..at + lane.net.shape.param_count())
                        .map(<[f32]>::to_vec)
                        .unwrap_or_default(),
                }
            });
            let last_batch = if self.read_weights {
                let from = (lane.steps.saturating_sub(1) * lane.batch).min(lane.order.len());
                let to = (lane.steps * lane.batch).min(lane.order.len());
                lane.order[from..to].to_vec()
            } else {
                Vec::new()
            };
            results.push(SlotEpoch {
                slot,
                epoch: lane.epoch,
                train_losses,
                train_loss: sum / lane.steps as f64,
                val_loss,
                val_accuracy,
                weights,
                last_batch,
            });
        }
        Ok(results)
    }

    /// The wide kernels' epoch: per step, the forward pass layer by layer, the loss, then from
    /// the output layer down each hidden layer's delta (before its weights change) and each
    /// layer's update, and the cursor's advance; then the validation set in chunks of each
    /// slot's batch. Every dispatch covers every slot (`z`); a slot with nothing to do in
    /// one (a shallower net, a finished epoch) returns at once.
    fn encode_wide_epoch(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        wide: &WidePipelines,
        jobs: &wgpu::BindGroup,
        active: &[usize],
        max_steps: usize,
    ) {
        let nets: Vec<(FusedNet, usize)> = active
            .iter()
            .filter_map(|&s| self.lanes[s].as_ref())
            .map(|l| (l.net, l.batch))
            .collect();
        let Some(max_layers) = nets.iter().map(|(n, _)| n.shape.layers).max() else {
            return;
        };
        let tiles = |n: usize| n.div_ceil(WIDE_TILE).max(1) as u32;
        let max_batch = nets.iter().map(|&(_, b)| b).max().unwrap_or(1);
        // Per linear layer: the widest fan-in and fan-out among the slots that have it.
        let dims: Vec<(usize, usize)> = (0..=max_layers)
            .map(|l| {
                nets.iter()
                    .filter(|(n, _)| l <= n.shape.layers)
                    .map(|(n, _)| {
                        let fi = if l == 0 {
                            n.shape.in_dim
                        } else {
                            n.shape.width
                        };
                        let fo = if l == n.shape.layers {
                            n.shape.classes
                        } else {
                            n.shape.width
                        };
                        (fi, fo)
                    })
                    .fold((0, 0), |(a, b), (fi, fo)| (a.max(fi), b.max(fo)))
            })
            .collect();
        let slots = self.lanes.len() as u32;
        let job = |layer: usize, eval: bool| {
            let record = usize::from(eval) * (WIDE_MAX_LAYERS + 1) + layer;
            (record as u64 * JOB_STRIDE) as u32
        };
        let rows = tiles(max_batch);
        let run = |pass: &mut wgpu::ComputePass<'_>,
                   pipeline: &wgpu::ComputePipeline,
                   offset: u32,
                   x: u32,
                   y: u32| {
            pass.set_pipeline(pipeline);
            pass.set_bind_group(1, jobs, &[offset]);
            pass.dispatch_workgroups(x, y, slots);
        };
        for _ in 0..max_steps {
            for (l, &(_, fo)) in dims.iter().enumerate() {
                run(pass, &wide.forward, job(l, false), tiles(fo), rows);
            }
            run(pass, &wide.loss, job(0, false), 1, 1);
            for (l, &(fi, fo)) in dims.iter().enumerate().rev() {
                if l >= 1 {
                    run(pass, &wide.delta, job(l, false), tiles(fi), rows);
                }
                run(pass, &wide.update, job(l, false), tiles(fo), tiles(fi + 1));
            }
            run(pass, &wide.advance, job(0, false), 1, 1);
        }
        let chunks = nets
            .iter()
            .map(|&(_, b)| self.n_valid.div_ceil(b))
            .max()
            .unwrap_or(0)
            .max(1);
        for _ in 0..chunks {
            for (l, &(_, fo)) in dims.iter().enumerate() {
                run(pass, &wide.forward, job(l, true), tiles(fo), rows);
            }
            run(pass, &wide.loss, job(0, true), 1, 1);
            run(pass, &wide.advance, job(0, true), 1, 1);
        }
    }

    /// Reads the current parameters of the trial in `slot` back.
    pub async fn read_weights(&self, slot: usize) -> Result<FusedWeights, TrainError> {
        let Some(Some(lane)) = self.lanes.get(slot) else {
            return Err(TrainError::Config(format!("slot {slot} holds no trial")));
        };
        let n = lane.net.shape.param_count();
        let bytes = (n * 4) as u64;
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("sweeplab-fused-weights"),
            });
        encoder.copy_buffer_to_buffer(
            &self.bufs.state,
            (slot * 3 * self.max_params * 4) as u64,
            &self.bufs.staging,
            0,
            bytes,
        );
        self.queue.submit([encoder.finish()]);
        let read = read_bytes(&self.device, &self.bufs.staging, bytes).await;
        self.check_device()?;
        Ok(FusedWeights {
            shape: lane.net.shape,
            activation: lane.net.activation,
            params: f32s(&read?),
        })
    }
}

impl FusedEngine {
    /// Starts a run of `slots` trials on `data` (see [`FusedRun::new`]).
    pub fn start(&self, data: &DataSet, slots: usize) -> Result<FusedRun, TrainError> {
        let run = FusedRun::new(self, data, slots)?;
        if let Some(e) = self.take_error() {
            return Err(TrainError::Device(e));
        }
        Ok(run)
    }
}
