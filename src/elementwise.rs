//! The four elementwise layers: LeakyReLU, ELU, ThresholdedReLU and ReLU.
//!
//! [`Elementwise`] is the op list of this family: its WGSL snippet, uniform parameters,
//! CPU reference ([`crate::reference`]), presets, kinks and tolerances are exhaustive
//! matches over it, so a new op does not compile until every one is written.

use crate::error::{Error, Result};
use crate::gpu::{BindingContract, DType, Gpu, PipelineKey};
use crate::tensor::{chunks, Tensor};

/// Forward or backward pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    Forward,
    Backward,
}

impl Direction {
    pub const ALL: [Direction; 2] = [Direction::Forward, Direction::Backward];
    pub fn name(self) -> &'static str {
        match self {
            Direction::Forward => "fwd",
            Direction::Backward => "bwd",
        }
    }
}

fn finite(layer: &'static str, name: &'static str, value: f32) -> Result<f32> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::InvalidParameter {
            layer,
            name,
            value: value.to_string(),
            reason: "must be a finite number",
        })
    }
}

fn non_negative(layer: &'static str, name: &'static str, value: f32) -> Result<f32> {
    finite(layer, name, value)?;
    if value < 0.0 {
        return Err(Error::InvalidParameter {
            layer,
            name,
            value: value.to_string(),
            reason: "cannot be a negative value",
        });
    }
    Ok(value)
}

/// `LeakyReLU(alpha=0.3)`: `y = x > 0 ? x : alpha * x`.
///
/// Gradient (TensorFlow's): with `alpha != 0`, `dx = x > 0 ? dy : alpha * dy`, so the left
/// slope applies at `x == 0` and at NaN. With `alpha == 0` Keras calls `tf.nn.relu`:
/// `dx = dy * [x > 0]`, 0 at the kink. Negative alpha is accepted, as Keras accepts it.
/// `y(-inf) = -inf * sign(alpha)`, and 0 when `alpha == 0`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeakyReLU {
    alpha: f32,
}

impl LeakyReLU {
    /// # Errors
    /// [`Error::InvalidParameter`] for a NaN or infinite alpha.
    pub fn new(alpha: f32) -> Result<Self> {
        Ok(Self {
            alpha: finite("LeakyReLU", "alpha", alpha)?,
        })
    }
    pub fn alpha(&self) -> f32 {
        self.alpha
    }
}

impl Default for LeakyReLU {
    fn default() -> Self {
        Self { alpha: 0.3 }
    }
}

/// `ELU(alpha=1.0)`: `y = x > 0 ? x : alpha * (exp(x) - 1)`.
///
/// As in TensorFlow, `exp(x) - 1` (not `expm1`) and the gradient is computed from the
/// alpha-1 output `y1 = elu(x)`: `dx = x > 0 ? dy : alpha * (y1 < 0 ? dy * (y1 + 1) : dy)`.
/// So `dx(0) = alpha * dy`, `dx(NaN) = alpha * dy`, `dx(-inf) = 0`, and `dx` is exactly 0
/// for `x <= -17.33` where `exp(x) - 1` rounds to -1. Negative alpha and 0 are accepted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ELU {
    alpha: f32,
}

impl ELU {
    /// # Errors
    /// [`Error::InvalidParameter`] for a NaN or infinite alpha.
    pub fn new(alpha: f32) -> Result<Self> {
        Ok(Self {
            alpha: finite("ELU", "alpha", alpha)?,
        })
    }
    pub fn alpha(&self) -> f32 {
        self.alpha
    }
}

impl Default for ELU {
    fn default() -> Self {
        Self { alpha: 1.0 }
    }
}

/// `ThresholdedReLU(theta=1.0)`: `y = x * [x > theta]`, `dx = dy * [x > theta]`.
///
/// Strict `>`: at `x == theta` both are 0. Below the threshold `y = x * 0`, so
/// `y(-inf) = NaN`, as in Keras.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ThresholdedReLU {
    theta: f32,
}

impl ThresholdedReLU {
    /// # Errors
    /// [`Error::InvalidParameter`] for a negative, NaN or infinite theta.
    pub fn new(theta: f32) -> Result<Self> {
        Ok(Self {
            theta: non_negative("ThresholdedReLU", "theta", theta)?,
        })
    }
    pub fn theta(&self) -> f32 {
        self.theta
    }
}

impl Default for ThresholdedReLU {
    fn default() -> Self {
        Self { theta: 1.0 }
    }
}

/// `ReLU(max_value=None, negative_slope=0.0, threshold=0.0)`, Keras's `backend.relu`.
///
/// `y = clip(x > threshold ? x : 0, 0, max_value) - negative_slope * relu(threshold - x)`,
/// computed along the same path Keras picks, because the gradient at the kinks depends on it:
/// - only `negative_slope` set: `tf.nn.leaky_relu`, `dx(0) = negative_slope * dy`;
/// - `max_value == 6`, `threshold == 0`: `tf.nn.relu6`, `dx(6) = 0`;
/// - any other `max_value`: clip, ties pass the gradient, `dx(max_value) = dy`;
/// - `threshold != 0`: `x * [x > threshold]`: `y(threshold) = 0`, `dx(threshold) = 0`,
///   `y(-inf) = NaN`.
///
/// With `max_value` set and `threshold == 0`, `dx(0) = 0` even when `negative_slope != 0`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReLU {
    max_value: Option<f32>,
    negative_slope: f32,
    threshold: f32,
}

/// Which TensorFlow ops Keras's `backend.relu` composes for a set of parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReluPath {
    /// `tf.nn.leaky_relu(x, negative_slope)`.
    Leaky = 0,
    /// `tf.nn.relu6(x)`, no clip.
    Relu6 = 1,
    /// `x * cast(x > threshold)`.
    Threshold = 2,
    /// `tf.nn.relu(x)`.
    Relu = 3,
}

impl ReLU {
    /// # Errors
    /// [`Error::InvalidParameter`] for a negative, NaN or infinite `max_value`,
    /// `negative_slope` or `threshold` (Keras: "cannot be a negative value").
    pub fn new(max_value: Option<f32>, negative_slope: f32, threshold: f32) -> Result<Self> {
        let max_value = match max_value {
            Some(m) => Some(non_negative("ReLU", "max_value", m)?),
            None => None,
        };
        Ok(Self {
            max_value,
            negative_slope: non_negative("ReLU", "negative_slope", negative_slope)?,
            threshold: non_negative("ReLU", "threshold", threshold)?,
        })
    }
    pub fn max_value(&self) -> Option<f32> {
        self.max_value
    }
    pub fn negative_slope(&self) -> f32 {
        self.negative_slope
    }
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// The path Keras takes for these parameters.
    pub fn path(&self) -> ReluPath {
        if self.negative_slope != 0.0 && self.max_value.is_none() && self.threshold == 0.0 {
            ReluPath::Leaky
        } else if self.threshold != 0.0 {
            ReluPath::Threshold
        } else if self.max_value == Some(6.0) {
            ReluPath::Relu6
        } else {
            ReluPath::Relu
        }
    }

    /// Whether the positive part is clipped to `[0, max_value]` (not on the relu6 path).
    pub fn clips(&self) -> bool {
        self.max_value.is_some() && self.path() != ReluPath::Relu6
    }

    /// Whether `negative_slope * relu(threshold - x)` is subtracted (not on the leaky path).
    pub fn has_negative_part(&self) -> bool {
        self.negative_slope != 0.0 && self.path() != ReluPath::Leaky
    }
}

impl Default for ReLU {
    fn default() -> Self {
        Self {
            max_value: None,
            negative_slope: 0.0,
            threshold: 0.0,
        }
    }
}

/// The elementwise op list.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Elementwise {
    LeakyReLU(LeakyReLU),
    ELU(ELU),
    ThresholdedReLU(ThresholdedReLU),
    ReLU(ReLU),
}

impl From<LeakyReLU> for Elementwise {
    fn from(l: LeakyReLU) -> Self {
        Elementwise::LeakyReLU(l)
    }
}
impl From<ELU> for Elementwise {
    fn from(l: ELU) -> Self {
        Elementwise::ELU(l)
    }
}
impl From<ThresholdedReLU> for Elementwise {
    fn from(l: ThresholdedReLU) -> Self {
        Elementwise::ThresholdedReLU(l)
    }
}
impl From<ReLU> for Elementwise {
    fn from(l: ReLU) -> Self {
        Elementwise::ReLU(l)
    }
}

/// Uniform block shared by the elementwise templates (`ElementwiseParams` in WGSL).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ElementwiseParams {
    len_vec4: u32,
    flags: u32,
    _pad: [u32; 2],
    p: [f32; 4],
}

/// Workgroup size of the elementwise kernels.
const WORKGROUP_SIZE: u32 = 256;

impl Elementwise {
    /// The Keras op name, as in the conformance files: `leaky_relu`, `elu`, ...
    pub fn name(&self) -> &'static str {
        match self {
            Elementwise::LeakyReLU(_) => "leaky_relu",
            Elementwise::ELU(_) => "elu",
            Elementwise::ThresholdedReLU(_) => "thresholded_relu",
            Elementwise::ReLU(_) => "relu",
        }
    }

    /// The op with its parameters, Keras style: `relu(max_value=6, negative_slope=0.1, threshold=0)`.
    pub fn describe(&self) -> String {
        match self {
            Elementwise::LeakyReLU(l) => format!("leaky_relu(alpha={})", l.alpha),
            Elementwise::ELU(l) => format!("elu(alpha={})", l.alpha),
            Elementwise::ThresholdedReLU(l) => format!("thresholded_relu(theta={})", l.theta),
            Elementwise::ReLU(l) => format!(
                "relu(max_value={}, negative_slope={}, threshold={})",
                l.max_value.map_or("None".to_string(), |m| m.to_string()),
                l.negative_slope,
                l.threshold
            ),
        }
    }

    fn shader(&self) -> &'static str {
        match self {
            Elementwise::LeakyReLU(_) => include_str!("../shaders/leaky_relu.wgsl"),
            Elementwise::ELU(_) => include_str!("../shaders/elu.wgsl"),
            Elementwise::ThresholdedReLU(_) => include_str!("../shaders/thresholded_relu.wgsl"),
            Elementwise::ReLU(_) => include_str!("../shaders/relu.wgsl"),
        }
    }

    /// `(flags, p)` of the uniform block.
    fn uniform(&self) -> (u32, [f32; 4]) {
        match *self {
            Elementwise::LeakyReLU(l) => (0, [l.alpha, 0.0, 0.0, 0.0]),
            Elementwise::ELU(l) => (0, [l.alpha, 0.0, 0.0, 0.0]),
            Elementwise::ThresholdedReLU(l) => (0, [l.theta, 0.0, 0.0, 0.0]),
            Elementwise::ReLU(l) => {
                let flags = l.path() as u32
                    | if l.clips() { 4 } else { 0 }
                    | if l.has_negative_part() { 8 } else { 0 };
                (
                    flags,
                    [
                        l.max_value.unwrap_or(0.0),
                        l.negative_slope,
                        l.threshold,
                        0.0,
                    ],
                )
            }
        }
    }

    /// The complete WGSL source of one direction of this op.
    pub fn wgsl(&self, direction: Direction) -> String {
        let template = match direction {
            Direction::Forward => include_str!("../shaders/elementwise_forward.wgsl"),
            Direction::Backward => include_str!("../shaders/elementwise_backward.wgsl"),
        };
        format!(
            "const WG: u32 = {WORKGROUP_SIZE}u;\n{}\n{}\n{template}\n{}",
            crate::COMMON_WGSL,
            include_str!("../shaders/elementwise_params.wgsl"),
            self.shader()
        )
    }

    fn key(&self, direction: Direction) -> PipelineKey {
        PipelineKey {
            kernel: self.name(),
            entry: match direction {
                Direction::Forward => "forward",
                Direction::Backward => "backward",
            },
            dtype: DType::F32,
            variant: 0,
            workgroup_size: WORKGROUP_SIZE,
        }
    }

    /// `y = op(x)` on the GPU.
    ///
    /// # Errors
    /// [`Error::ForeignTensor`] for a tensor of another `Gpu`; GPU errors.
    pub fn forward(&self, gpu: &Gpu, x: &Tensor) -> Result<Tensor> {
        x.check_gpu(gpu, "x")?;
        let y = Tensor::alloc(gpu, &format!("{}/y", self.name()), x.shape())?;
        gpu.run(&format!("{}/fwd", self.name()), |encoder| {
            self.record(gpu, encoder, Direction::Forward, &[x], &y)
        })?;
        Ok(y)
    }

    /// `dx` from `x` and the upstream gradient `dy` on the GPU.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when `dy` and `x` differ in shape; as [`Self::forward`].
    pub fn backward(&self, gpu: &Gpu, x: &Tensor, dy: &Tensor) -> Result<Tensor> {
        x.check_gpu(gpu, "x")?;
        dy.expect(gpu, "dy", x.shape())?;
        let dx = Tensor::alloc(gpu, &format!("{}/dx", self.name()), x.shape())?;
        gpu.run(&format!("{}/bwd", self.name()), |encoder| {
            self.record(gpu, encoder, Direction::Backward, &[x, dy], &dx)
        })?;
        Ok(dx)
    }

    /// Records one direction into `encoder`, writing `out`; `inputs` are `[x]` forward and
    /// `[x, dy]` backward, all of `out`'s length. Tensors larger than one storage binding are
    /// processed in chunks; each dispatch loops over its chunk on a bounded grid.
    pub(crate) fn record(
        &self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        direction: Direction,
        inputs: &[&Tensor],
        out: &Tensor,
    ) -> Result<()> {
        let n = out.len();
        if n == 0 {
            return Ok(());
        }
        let contract = BindingContract {
            reads: inputs.len() as u32,
            writes: 1,
        };
        let kernel = gpu.kernel(self.key(direction), contract, || self.wgsl(direction))?;
        let (flags, p) = self.uniform();
        let chunk = (gpu.max_binding_bytes() / 4) as usize;
        let max_groups = gpu.grid_stride_workgroups();
        for (start, count) in chunks(n, chunk) {
            let len_vec4 = count.div_ceil(4) as u32;
            let params = ElementwiseParams {
                len_vec4,
                flags,
                _pad: [0; 2],
                p,
            };
            let groups = len_vec4.div_ceil(WORKGROUP_SIZE).min(max_groups);
            let mut bindings: Vec<_> = inputs.iter().map(|t| t.binding(start, count)).collect();
            bindings.push(out.binding(start, count));
            gpu.record(
                encoder,
                &kernel,
                bytemuck::bytes_of(&params),
                &bindings,
                [groups, 1, 1],
            );
        }
        Ok(())
    }
}

macro_rules! layer_methods {
    ($($layer:ident),*) => {$(
        impl $layer {
            /// `y = layer(x)` on the GPU. See [`Elementwise::forward`].
            ///
            /// # Errors
            /// As [`Elementwise::forward`].
            pub fn forward(&self, gpu: &Gpu, x: &Tensor) -> Result<Tensor> {
                Elementwise::from(*self).forward(gpu, x)
            }
            /// `dx` from `x` and `dy` on the GPU. See [`Elementwise::backward`].
            ///
            /// # Errors
            /// As [`Elementwise::backward`].
            pub fn backward(&self, gpu: &Gpu, x: &Tensor, dy: &Tensor) -> Result<Tensor> {
                Elementwise::from(*self).backward(gpu, x, dy)
            }
        }
    )*};
}
layer_methods!(LeakyReLU, ELU, ThresholdedReLU, ReLU);
