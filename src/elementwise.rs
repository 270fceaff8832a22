//! The four elementwise layers: LeakyReLU, ELU, ThresholdedReLU and ReLU.
//!
//! [`Elementwise`] is the op list of this family: its WGSL snippet, uniform parameters and
//! the CPU reference (`reference::elementwise_*`), and in the tooling (`wgact::ops`) its
//! presets, kinks, tolerances, case parsing and bench rows are exhaustive matches over it,
//! so a new op does not compile until every one is written (README: "Adding an activation").

use crate::batch::{check_aliasing, Batch};
use crate::direction::Direction;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::kernel::{Array, Arrays, KernelSource, Store};
use crate::tensor::{chunks, Tensor};

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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

/// The parameter block of a fusable activation (`WgactActivation` in
/// `shaders/activation.wgsl`): what a user kernel that pastes [`fused_wgsl`] passes as the
/// last argument of `wgact_<op>_fwd` / `wgact_<op>_bwd`. 32 bytes, WGSL uniform layout.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ActivationParams {
    /// Op-specific switches chosen on the host (ReLU's Keras path).
    pub flags: u32,
    pub _pad: [u32; 3],
    /// Op parameters: `[alpha]`, `[theta]`, `[max_value, negative_slope, threshold]`.
    pub p: [f32; 4],
}

/// Uniform block of the elementwise templates (`ElementwiseParams` in WGSL, less the
/// element offsets the dispatcher appends).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct ElementwiseParams {
    n: u32,
    /// Units per SIMD batch of [`Loop::Blocked`]; 0 under [`Loop::GridStride`].
    block: u32,
    _pad: [u32; 2],
    act: ActivationParams,
}

/// Workgroup size of the elementwise kernels.
const WORKGROUP_SIZE: u32 = crate::kernel::GRID_STRIDE_WG;

/// Workgroups of a [`Loop::Blocked`] dispatch at most. On lavapipe (2 threads) a 2^22-element
/// kernel ran as fast on 16 as on 64 and 8% slower on 1,024 (a fixed cost per workgroup):
/// 64 keeps enough workgroups to balance a few more threads.
const BLOCKED_WORKGROUPS: usize = 64;

/// How an elementwise kernel walks its units: the pipeline key holds it, as the loop is
/// generated into the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Loop {
    /// GPUs: `shaders/grid_stride.wgsl`, neighbouring invocations on neighbouring units
    /// (coalesced), as many workgroups as the adapter's grid-stride size.
    GridStride,
    /// CPU adapters: `shaders/elementwise_blocked.wgsl`, each SIMD batch of `lanes`
    /// invocations on its own contiguous block, offsets and parameters read once. On
    /// lavapipe at 2^22 elements, an identity op through the grid-stride kernel ran at 0.81
    /// of the bench's copy (0.98 of it with the offsets read once), and 1.07 of it on this
    /// loop; reading ReLU's three parameters once took relu_general from 0.76 to 0.87.
    Blocked { lanes: u32 },
}

impl Loop {
    /// The loop for `gpu`: [`Loop::Blocked`] on a CPU adapter that reports one subgroup size
    /// (its SIMD width: 8 on lavapipe with AVX2, 4 on SwiftShader), the grid-stride loop
    /// elsewhere. A batch must be exactly the SIMD width for its block to be one stream: on
    /// lavapipe, blocks of 16 lanes ran at half speed and blocks of 4 at 0.86 of blocks of 8.
    fn of(gpu: &Gpu) -> Loop {
        let info = gpu.info();
        let lanes = info.min_subgroup_size;
        if gpu.cpu_loops()
            && lanes == info.max_subgroup_size
            && lanes.is_power_of_two()
            && lanes <= WORKGROUP_SIZE
        {
            Loop::Blocked { lanes }
        } else {
            Loop::GridStride
        }
    }
}

/// The op of an [`Elementwise`] without its parameters: what selects the WGSL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(clippy::upper_case_acronyms)] // named as the layers are
pub(crate) enum ElementwiseKind {
    LeakyReLU,
    ELU,
    ThresholdedReLU,
    ReLU,
}

impl ElementwiseKind {
    pub(crate) const ALL: [ElementwiseKind; 4] = [
        ElementwiseKind::LeakyReLU,
        ElementwiseKind::ELU,
        ElementwiseKind::ThresholdedReLU,
        ElementwiseKind::ReLU,
    ];

    /// This op with Keras's default parameters.
    fn default_op(self) -> Elementwise {
        match self {
            ElementwiseKind::LeakyReLU => LeakyReLU::default().into(),
            ElementwiseKind::ELU => ELU::default().into(),
            ElementwiseKind::ThresholdedReLU => ThresholdedReLU::default().into(),
            ElementwiseKind::ReLU => ReLU::default().into(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            ElementwiseKind::LeakyReLU => "leaky_relu",
            ElementwiseKind::ELU => "elu",
            ElementwiseKind::ThresholdedReLU => "thresholded_relu",
            ElementwiseKind::ReLU => "relu",
        }
    }

    /// The op's fusable WGSL (`wgact_<op>_fwd` and `wgact_<op>_bwd`).
    fn snippet(self) -> &'static str {
        match self {
            ElementwiseKind::LeakyReLU => include_str!("../shaders/leaky_relu.wgsl"),
            ElementwiseKind::ELU => include_str!("../shaders/elu.wgsl"),
            ElementwiseKind::ThresholdedReLU => include_str!("../shaders/thresholded_relu.wgsl"),
            ElementwiseKind::ReLU => include_str!("../shaders/relu.wgsl"),
        }
    }
}

/// How an elementwise kernel steps: one `vec4` or one element per unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Unit {
    Vec4,
    Scalar,
}

impl Unit {
    fn wgsl(self) -> &'static str {
        match self {
            Unit::Vec4 => "vec4<f32>",
            Unit::Scalar => "f32",
        }
    }
    fn bytes(self) -> u64 {
        match self {
            Unit::Vec4 => 16,
            Unit::Scalar => 4,
        }
    }
}

/// What the host knows about an op's parameters that changes its code path. It is compiled
/// into the pipeline as a `const` argument of the op's `_as` function, so the compiler drops
/// the paths not taken and the kernel branches on nothing per element (on lavapipe the ReLU
/// family ran at half the copy roof while it tested its flags at run time). The parameters
/// themselves stay uniforms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Variant {
    /// ELU, ThresholdedReLU: one code for every parameter.
    Any,
    /// LeakyReLU with `alpha == 0` (tf.nn.relu's rules) or not.
    LeakyZero(bool),
    /// ReLU: Keras's path, whether it clips and whether it subtracts a negative part.
    Relu {
        path: ReluPath,
        clip: bool,
        negative_part: bool,
    },
}

impl Variant {
    /// The variants a `kind` can take (every pipeline the library may compile).
    fn all(kind: ElementwiseKind) -> Vec<Variant> {
        match kind {
            ElementwiseKind::ELU | ElementwiseKind::ThresholdedReLU => vec![Variant::Any],
            ElementwiseKind::LeakyReLU => vec![Variant::LeakyZero(false), Variant::LeakyZero(true)],
            ElementwiseKind::ReLU => {
                let mut all = vec![Variant::Relu {
                    path: ReluPath::Leaky,
                    clip: false,
                    negative_part: false,
                }];
                for path in [ReluPath::Relu6, ReluPath::Threshold, ReluPath::Relu] {
                    for clip in [false, true] {
                        for negative_part in [false, true] {
                            if clip && path == ReluPath::Relu6 {
                                continue;
                            }
                            all.push(Variant::Relu {
                                path,
                                clip,
                                negative_part,
                            });
                        }
                    }
                }
                all
            }
        }
    }

    /// ReLU's `ActivationParams::flags` (`shaders/relu.wgsl`); 0 for the others.
    fn relu_flags(self) -> u32 {
        match self {
            Variant::Relu {
                path,
                clip,
                negative_part,
            } => path as u32 | if clip { 4 } else { 0 } | if negative_part { 8 } else { 0 },
            _ => 0,
        }
    }

    /// The call of the op's function in the generated kernel, `x` (and `dy`) being vec4s
    /// and `act` the expression of its parameter block.
    fn call(self, op: &str, direction: Direction, act: &str) -> String {
        let args = match direction {
            Direction::Forward => "x",
            Direction::Backward => "x, dy",
        };
        let dir = direction.name();
        match self {
            Variant::Any => format!("wgact_{op}_{dir}({args}, {act})"),
            Variant::LeakyZero(zero) => format!("wgact_{op}_{dir}_as({args}, {act}, {zero})"),
            Variant::Relu { .. } => {
                format!("wgact_{op}_{dir}_as({args}, {act}, {}u)", self.relu_flags())
            }
        }
    }

    /// A short name for labels: `relu6_neg`, `alpha0`, ...
    fn label(self) -> String {
        match self {
            Variant::Any => String::new(),
            Variant::LeakyZero(true) => "/alpha0".into(),
            Variant::LeakyZero(false) => String::new(),
            Variant::Relu {
                path,
                clip,
                negative_part,
            } => format!(
                "/{}{}{}",
                match path {
                    ReluPath::Leaky => "leaky",
                    ReluPath::Relu6 => "relu6",
                    ReluPath::Threshold => "threshold",
                    ReluPath::Relu => "relu",
                },
                if clip { "_clip" } else { "" },
                if negative_part { "_neg" } else { "" }
            ),
        }
    }
}

/// The pipeline key of an elementwise kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ElementwiseKernel {
    pub kind: ElementwiseKind,
    pub variant: Variant,
    pub direction: Direction,
    pub unit: Unit,
    pub in_place: bool,
    /// Storage of the tensors, which also picks the rounding flavour of the op.
    pub store: Store,
    pub walk: Loop,
}

impl ElementwiseKernel {
    pub(crate) fn all() -> Vec<ElementwiseKernel> {
        let mut all = Vec::new();
        for kind in ElementwiseKind::ALL {
            for variant in Variant::all(kind) {
                for direction in Direction::ALL {
                    for unit in [Unit::Vec4, Unit::Scalar] {
                        for in_place in [false, true] {
                            for store in [Store::F32, Store::F16Native, Store::F16Packed] {
                                for walk in [Loop::GridStride, Loop::Blocked { lanes: 8 }] {
                                    all.push(ElementwiseKernel {
                                        kind,
                                        variant,
                                        direction,
                                        unit,
                                        in_place,
                                        store,
                                        walk,
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
        all
    }

    fn arrays(self) -> Arrays {
        let t = self.unit.wgsl();
        let read = |name| Array::read(name, t).stored(self.store);
        let write = |name| Array::write(name, t).stored(self.store);
        let arrays = match (self.direction, self.in_place) {
            (Direction::Forward, false) => Arrays::new(vec![read("x"), write("y")]),
            (Direction::Forward, true) => {
                Arrays::new(vec![read("x"), write("y")]).in_place("x", "y")
            }
            (Direction::Backward, false) => Arrays::new(vec![read("x"), read("dy"), write("dx")]),
            (Direction::Backward, true) => {
                Arrays::new(vec![read("x"), read("dy"), write("dx")]).in_place("dy", "dx")
            }
        };
        match self.walk {
            Loop::GridStride => arrays,
            Loop::Blocked { .. } => arrays.hoisted_offsets(),
        }
    }

    pub(crate) fn source(self) -> KernelSource {
        let op = self.kind.name();
        let (template, entry) = match self.direction {
            Direction::Forward => (
                include_str!("../shaders/elementwise_forward.wgsl"),
                "forward",
            ),
            Direction::Backward => (
                include_str!("../shaders/elementwise_backward.wgsl"),
                "backward",
            ),
        };
        // The CPU loop reads the parameters once (shaders/elementwise_blocked.wgsl).
        let act = match self.walk {
            Loop::GridStride => "params.act",
            Loop::Blocked { .. } => "elementwise_act",
        };
        let call = self.variant.call(op, self.direction, act);
        let apply = match (self.direction, self.unit) {
            (Direction::Forward, Unit::Vec4) => {
                format!("fn apply_fwd(x: vec4<f32>) -> vec4<f32> {{ return {call}; }}")
            }
            (Direction::Forward, Unit::Scalar) => format!(
                "fn apply_fwd(x1: f32) -> f32 {{ let x = vec4<f32>(x1); return {call}.x; }}"
            ),
            (Direction::Backward, Unit::Vec4) => format!(
                "fn apply_bwd(x: vec4<f32>, dy: vec4<f32>) -> vec4<f32> {{ return {call}; }}"
            ),
            (Direction::Backward, Unit::Scalar) => format!(
                "fn apply_bwd(x1: f32, dy1: f32) -> f32 {{ let x = vec4<f32>(x1); let dy = vec4<f32>(dy1); return {call}.x; }}"
            ),
        };
        let walk = match self.walk {
            Loop::GridStride => crate::kernel::grid_stride(entry),
            Loop::Blocked { lanes } => format!(
                "const LANES: u32 = {lanes}u;\n{}",
                include_str!("../shaders/elementwise_blocked.wgsl")
                    .replace("fn elementwise_blocked_entry(", &format!("fn {entry}("))
            ),
        };
        KernelSource {
            label: format!(
                "elementwise/{op}{}/{}/{}{}{}{}",
                self.variant.label(),
                self.direction.name(),
                match self.unit {
                    Unit::Vec4 => "vec4",
                    Unit::Scalar => "scalar",
                },
                if self.in_place { "/in_place" } else { "" },
                match self.store {
                    Store::F32 => String::new(),
                    s => format!("/{}", s.name()),
                },
                match self.walk {
                    Loop::GridStride => String::new(),
                    Loop::Blocked { lanes } => format!("/blocked{lanes}"),
                }
            ),
            entry,
            arrays: self.arrays(),
            body: format!(
                "const WG: u32 = {WORKGROUP_SIZE}u;\n{}\n{}\n{}\n{}\n{}\n{apply}\n{template}\n{}",
                crate::COMMON_WGSL,
                crate::round_wgsl(self.store.is_f16()),
                ACTIVATION_WGSL,
                include_str!("../shaders/elementwise_params.wgsl"),
                self.kind.snippet(),
                walk,
            ),
        }
    }
}

const ACTIVATION_WGSL: &str = include_str!("../shaders/activation.wgsl");

/// WGSL that defines the activation functions of `ops` for pasting into your own kernels:
/// the shared helpers, the `WgactActivation` parameter struct, and for each distinct op
/// `wgact_<op>_fwd(x: vec4<f32>, a: WgactActivation) -> vec4<f32>` and
/// `wgact_<op>_bwd(x: vec4<f32>, dy: vec4<f32>, a: WgactActivation) -> vec4<f32>`. These
/// are the very sources the library's own kernels compile, so the results are the same bits.
/// Fill `a` with [`Elementwise::activation_params`]. All names start with `wgact_` /
/// `WGACT_` / `WgactActivation`.
pub fn fused_wgsl(ops: &[Elementwise]) -> String {
    fused_wgsl_of(ops, DType::F32)
}

/// [`fused_wgsl`] in the flavour of `dtype`. The functions still take and return
/// `vec4<f32>`; the [`DType::F16`] flavour rounds every TensorFlow op's result to half as
/// TensorFlow's float16 kernels do (so the values it returns are halves held in f32; store
/// them into `f16` or pass them to `wgact_f32_to_half`), and needs the parameter block of
/// [`Elementwise::activation_params_of`] with [`DType::F16`]. With half inputs, the results
/// are the library's f16 kernels' bits. Needs no `enable f16;`.
pub fn fused_wgsl_of(ops: &[Elementwise], dtype: DType) -> String {
    let mut out = format!(
        "{}\n{}\n{}\n",
        crate::COMMON_WGSL,
        crate::round_wgsl(dtype == DType::F16),
        ACTIVATION_WGSL
    );
    let mut seen = Vec::new();
    for op in ops {
        let kind = op.kind();
        if !seen.contains(&kind) {
            seen.push(kind);
            out += kind.snippet();
            out += "\n";
        }
    }
    out
}

impl Elementwise {
    /// Every elementwise op once, with Keras's default parameters, in the op table's order:
    /// what tooling iterates to cover every op (a new op appears here once it is in the table).
    pub fn defaults() -> Vec<Elementwise> {
        ElementwiseKind::ALL
            .map(ElementwiseKind::default_op)
            .to_vec()
    }

    /// The Keras op name, as in the conformance files: `leaky_relu`, `elu`, ...
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// The code path these parameters take (part of the pipeline key).
    pub(crate) fn variant(&self) -> Variant {
        match *self {
            Elementwise::LeakyReLU(l) => Variant::LeakyZero(l.alpha == 0.0),
            Elementwise::ELU(_) | Elementwise::ThresholdedReLU(_) => Variant::Any,
            Elementwise::ReLU(l) => Variant::Relu {
                path: l.path(),
                clip: l.clips(),
                negative_part: l.has_negative_part(),
            },
        }
    }

    pub(crate) fn kind(&self) -> ElementwiseKind {
        match self {
            Elementwise::LeakyReLU(_) => ElementwiseKind::LeakyReLU,
            Elementwise::ELU(_) => ElementwiseKind::ELU,
            Elementwise::ThresholdedReLU(_) => ElementwiseKind::ThresholdedReLU,
            Elementwise::ReLU(_) => ElementwiseKind::ReLU,
        }
    }

    /// The WGSL function a fused kernel calls for `direction` (see [`fused_wgsl`]):
    /// `wgact_leaky_relu_fwd`, `wgact_elu_bwd`, ...
    pub fn wgsl_function(&self, direction: Direction) -> String {
        format!(
            "wgact_{}_{}",
            self.name(),
            match direction {
                Direction::Forward => "fwd",
                Direction::Backward => "bwd",
            }
        )
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

    /// The activation's parameter block, for [`fused_wgsl`]'s functions and for the
    /// library's own kernels.
    pub fn activation_params(&self) -> ActivationParams {
        self.activation_params_of(DType::F32)
    }

    /// The parameter block for the `dtype` flavour: in [`DType::F16`] the parameters
    /// rounded to half as TensorFlow rounds them (float64 -> float32 -> half, overflow to
    /// inf) while the paths (alpha == 0, max_value == 6, ...) stay chosen on the float32
    /// values.
    pub fn activation_params_of(&self, dtype: DType) -> ActivationParams {
        let mut block = self.activation_params_f32();
        if dtype == DType::F16 {
            for p in &mut block.p {
                *p = half::f16::from_f32(*p).to_f32();
            }
        }
        block
    }

    fn activation_params_f32(&self) -> ActivationParams {
        let (flags, p) = match *self {
            Elementwise::LeakyReLU(l) => (u32::from(l.alpha == 0.0), [l.alpha, 0.0, 0.0, 0.0]),
            Elementwise::ELU(l) => (0, [l.alpha, 0.0, 0.0, 0.0]),
            Elementwise::ThresholdedReLU(l) => (0, [l.theta, 0.0, 0.0, 0.0]),
            Elementwise::ReLU(l) => {
                let flags = self.variant().relu_flags();
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
        };
        ActivationParams {
            flags,
            _pad: [0; 3],
            p,
        }
    }

    /// The complete WGSL source of one direction of this op (the vec4 kernel, on the GPUs'
    /// grid-stride loop; a CPU adapter runs the same body on `shaders/elementwise_blocked.wgsl`).
    pub fn wgsl(&self, direction: Direction) -> String {
        ElementwiseKernel {
            kind: self.kind(),
            variant: self.variant(),
            direction,
            unit: Unit::Vec4,
            in_place: false,
            store: Store::F32,
            walk: Loop::GridStride,
        }
        .source()
        .wgsl()
    }

    /// `y = op(x)` on the GPU, into a new tensor: record + submit.
    ///
    /// # Errors
    /// [`Error::ForeignTensor`] for a tensor of another device; GPU errors.
    pub fn forward(&self, gpu: &Gpu, x: &Tensor) -> Result<Tensor> {
        x.check_gpu(gpu, "x")?;
        let y = Tensor::alloc_like(gpu, &format!("{}/y", self.name()), x)?;
        self.forward_into(gpu, x, &y)?;
        Ok(y)
    }

    /// `y = op(x)` into an existing tensor or view `y`.
    ///
    /// # Errors
    /// As [`Self::record_forward`]; GPU errors.
    pub fn forward_into(&self, gpu: &Gpu, x: &Tensor, y: &Tensor) -> Result<()> {
        let mut batch = Batch::new(gpu);
        self.record_forward(&mut batch, x, y)?;
        batch.submit().map(drop)
    }

    /// `x = op(x)` in place.
    ///
    /// # Errors
    /// As [`Self::record_forward_in_place`]; GPU errors.
    pub fn forward_in_place(&self, gpu: &Gpu, x: &Tensor) -> Result<()> {
        let mut batch = Batch::new(gpu);
        self.record_forward_in_place(&mut batch, x)?;
        batch.submit().map(drop)
    }

    /// `dx` from `x` and the upstream gradient `dy` on the GPU, into a new tensor.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when `dy` and `x` differ in shape; as [`Self::forward`].
    pub fn backward(&self, gpu: &Gpu, x: &Tensor, dy: &Tensor) -> Result<Tensor> {
        x.check_gpu(gpu, "x")?;
        dy.expect(gpu, "dy", x.shape())?;
        let dx = Tensor::alloc_like(gpu, &format!("{}/dx", self.name()), x)?;
        self.backward_into(gpu, x, dy, &dx)?;
        Ok(dx)
    }

    /// `dx` into an existing tensor or view.
    ///
    /// # Errors
    /// As [`Self::record_backward`]; GPU errors.
    pub fn backward_into(&self, gpu: &Gpu, x: &Tensor, dy: &Tensor, dx: &Tensor) -> Result<()> {
        let mut batch = Batch::new(gpu);
        self.record_backward(&mut batch, x, dy, dx)?;
        batch.submit().map(drop)
    }

    /// `dy = dx` in place: the gradient overwrites the upstream gradient.
    ///
    /// # Errors
    /// As [`Self::record_backward_in_place`]; GPU errors.
    pub fn backward_in_place(&self, gpu: &Gpu, x: &Tensor, dy: &Tensor) -> Result<()> {
        let mut batch = Batch::new(gpu);
        self.record_backward_in_place(&mut batch, x, dy)?;
        batch.submit().map(drop)
    }

    /// Records `y = op(x)` into `batch`. Nothing is submitted.
    ///
    /// # Errors
    /// [`Error::ForeignTensor`], [`Error::ShapeMismatch`] (y must have x's shape),
    /// [`Error::Aliasing`] when `y` shares `x`'s buffer (use the in-place call).
    pub fn record_forward(&self, batch: &mut Batch<'_>, x: &Tensor, y: &Tensor) -> Result<()> {
        let gpu = batch.gpu();
        x.check_gpu(gpu, "x")?;
        y.expect(gpu, "y", x.shape())?;
        check_aliasing(&[("x", x)], &[("y", y)])?;
        self.record(batch, Direction::Forward, &[x, y], false)
    }

    /// Records `x = op(x)` into `batch`.
    ///
    /// # Errors
    /// [`Error::ForeignTensor`].
    pub fn record_forward_in_place(&self, batch: &mut Batch<'_>, x: &Tensor) -> Result<()> {
        x.check_gpu(batch.gpu(), "x")?;
        self.record(batch, Direction::Forward, &[x], true)
    }

    /// Records `dx` from `x` and `dy` into `batch`.
    ///
    /// # Errors
    /// [`Error::ForeignTensor`], [`Error::ShapeMismatch`], [`Error::Aliasing`] when `dx`
    /// shares a buffer with `x` or `dy`.
    pub fn record_backward(
        &self,
        batch: &mut Batch<'_>,
        x: &Tensor,
        dy: &Tensor,
        dx: &Tensor,
    ) -> Result<()> {
        let gpu = batch.gpu();
        x.check_gpu(gpu, "x")?;
        dy.expect(gpu, "dy", x.shape())?;
        dx.expect(gpu, "dx", x.shape())?;
        check_aliasing(&[("x", x), ("dy", dy)], &[("dx", dx)])?;
        self.record(batch, Direction::Backward, &[x, dy, dx], false)
    }

    /// Records `dy = dx(x, dy)` in place into `batch`.
    ///
    /// # Errors
    /// [`Error::ForeignTensor`], [`Error::ShapeMismatch`], [`Error::Aliasing`] when `dy`
    /// shares a buffer with `x`.
    pub fn record_backward_in_place(
        &self,
        batch: &mut Batch<'_>,
        x: &Tensor,
        dy: &Tensor,
    ) -> Result<()> {
        let gpu = batch.gpu();
        x.check_gpu(gpu, "x")?;
        dy.expect(gpu, "dy", x.shape())?;
        check_aliasing(&[("x", x)], &[("dy (overwritten with dx)", dy)])?;
        self.record(batch, Direction::Backward, &[x, dy], true)
    }

    /// Records one direction over `tensors` (the bound arrays in binding order, the output
    /// last), validated by the caller. vec4 units from the first element where every tensor
    /// is on a 4-element boundary (the start, for the library's own tensors; up to 3 in for
    /// views that share a misalignment), with scalar dispatches for that head and for a tail
    /// that a buffer may end exactly at; scalar units where the tensors' boundaries differ
    /// (on lavapipe a view at offset 1 ran at 0.57 of copy on scalar units). Tensors larger
    /// than one storage binding go in chunks, each on a bounded grid.
    fn record(
        &self,
        batch: &mut Batch<'_>,
        direction: Direction,
        tensors: &[&Tensor],
        in_place: bool,
    ) -> Result<()> {
        let gpu = batch.gpu();
        let out = tensors[tensors.len() - 1];
        let n = out.len();
        if n == 0 {
            return Ok(());
        }
        let dtype = crate::tensor::common_dtype(tensors, &["x", "dy", "output"])?;
        let store = gpu.store(dtype);
        let act = self.activation_params_of(dtype);
        let padded = tensors.iter().all(|t| t.padding_elems() >= 3);
        let walk = Loop::of(gpu);
        let kernel = |unit| {
            let spec = ElementwiseKernel {
                kind: self.kind(),
                variant: self.variant(),
                direction,
                unit,
                in_place,
                store,
                walk,
            };
            gpu.kernel(spec, || spec.source())
        };
        let mut dispatch = |unit: Unit, start: usize, count: usize| -> Result<()> {
            let units = match unit {
                Unit::Vec4 => count.div_ceil(4),
                Unit::Scalar => count,
            };
            let compiled = kernel(unit)?;
            let (groups, block) = match walk {
                Loop::GridStride => (gpu.grid_stride_groups(units), 0),
                Loop::Blocked { lanes } => {
                    let lanes = lanes as usize;
                    let groups = units
                        .div_ceil(WORKGROUP_SIZE as usize)
                        .min(BLOCKED_WORKGROUPS)
                        .min(gpu.max_groups_per_dim() as usize)
                        .max(1);
                    let batches = groups * (WORKGROUP_SIZE as usize / lanes);
                    (
                        groups as u32,
                        units.div_ceil(batches).next_multiple_of(lanes),
                    )
                }
            };
            let params = ElementwiseParams {
                n: units as u32,
                block: block as u32,
                _pad: [0; 2],
                act,
            };
            let slots = tensors
                .iter()
                .map(|t| {
                    t.slot(
                        gpu,
                        start,
                        units * (unit.bytes() as usize / 4),
                        unit.bytes(),
                    )
                })
                .collect();
            batch.push(
                &compiled,
                bytemuck::bytes_of(&params),
                slots,
                [groups, 1, 1],
            );
            Ok(())
        };
        for (start, count) in chunks(n, gpu.chunk_elems()) {
            let head = (0..4).find(|&h| tensors.iter().all(|t| t.vec4_aligned(start + h)));
            let Some(head) = head.filter(|&h| h < count) else {
                dispatch(Unit::Scalar, start, count)?;
                continue;
            };
            if head > 0 {
                dispatch(Unit::Scalar, start, head)?;
            }
            let (start, count) = (start + head, count - head);
            if padded || count.is_multiple_of(4) {
                dispatch(Unit::Vec4, start, count)?;
            } else {
                let body = count / 4 * 4;
                if body > 0 {
                    dispatch(Unit::Vec4, start, body)?;
                }
                dispatch(Unit::Scalar, start + body, count - body)?;
            }
        }
        Ok(())
    }
}

/// The call and record methods of each elementwise layer, delegating to [`Elementwise`].
macro_rules! layer_methods {
    ($($layer:ident),*) => {$(
        impl $layer {
            /// `y = layer(x)` into a new tensor. See [`Elementwise::forward`].
            ///
            /// # Errors
            /// As [`Elementwise::forward`].
            pub fn forward(&self, gpu: &Gpu, x: &Tensor) -> Result<Tensor> {
                Elementwise::from(*self).forward(gpu, x)
            }
            /// `y = layer(x)` into `y`. See [`Elementwise::forward_into`].
            ///
            /// # Errors
            /// As [`Elementwise::forward_into`].
            pub fn forward_into(&self, gpu: &Gpu, x: &Tensor, y: &Tensor) -> Result<()> {
                Elementwise::from(*self).forward_into(gpu, x, y)
            }
            /// `x = layer(x)`. See [`Elementwise::forward_in_place`].
            ///
            /// # Errors
            /// As [`Elementwise::forward_in_place`].
            pub fn forward_in_place(&self, gpu: &Gpu, x: &Tensor) -> Result<()> {
                Elementwise::from(*self).forward_in_place(gpu, x)
            }
            /// `dx` from `x` and `dy` into a new tensor. See [`Elementwise::backward`].
            ///
            /// # Errors
            /// As [`Elementwise::backward`].
            pub fn backward(&self, gpu: &Gpu, x: &Tensor, dy: &Tensor) -> Result<Tensor> {
                Elementwise::from(*self).backward(gpu, x, dy)
            }
            /// `dx` into `dx`. See [`Elementwise::backward_into`].
            ///
            /// # Errors
            /// As [`Elementwise::backward_into`].
            pub fn backward_into(&self, gpu: &Gpu, x: &Tensor, dy: &Tensor, dx: &Tensor) -> Result<()> {
                Elementwise::from(*self).backward_into(gpu, x, dy, dx)
            }
            /// `dy = dx` in place. See [`Elementwise::backward_in_place`].
            ///
            /// # Errors
            /// As [`Elementwise::backward_in_place`].
            pub fn backward_in_place(&self, gpu: &Gpu, x: &Tensor, dy: &Tensor) -> Result<()> {
                Elementwise::from(*self).backward_in_place(gpu, x, dy)
            }
            /// Records `y = layer(x)`. See [`Elementwise::record_forward`].
            ///
            /// # Errors
            /// As [`Elementwise::record_forward`].
            pub fn record_forward(&self, batch: &mut Batch<'_>, x: &Tensor, y: &Tensor) -> Result<()> {
                Elementwise::from(*self).record_forward(batch, x, y)
            }
            /// Records `x = layer(x)`. See [`Elementwise::record_forward_in_place`].
            ///
            /// # Errors
            /// As [`Elementwise::record_forward_in_place`].
            pub fn record_forward_in_place(&self, batch: &mut Batch<'_>, x: &Tensor) -> Result<()> {
                Elementwise::from(*self).record_forward_in_place(batch, x)
            }
            /// Records `dx`. See [`Elementwise::record_backward`].
            ///
            /// # Errors
            /// As [`Elementwise::record_backward`].
            pub fn record_backward(&self, batch: &mut Batch<'_>, x: &Tensor, dy: &Tensor, dx: &Tensor) -> Result<()> {
                Elementwise::from(*self).record_backward(batch, x, dy, dx)
            }
            /// Records `dy = dx` in place. See [`Elementwise::record_backward_in_place`].
            ///
            /// # Errors
            /// As [`Elementwise::record_backward_in_place`].
            pub fn record_backward_in_place(&self, batch: &mut Batch<'_>, x: &Tensor, dy: &Tensor) -> Result<()> {
                Elementwise::from(*self).record_backward_in_place(batch, x, dy)
            }
        }
    )*};
}
layer_methods!(LeakyReLU, ELU, ThresholdedReLU, ReLU);

#[cfg(test)]
pub(crate) fn uniform_layouts() -> Vec<crate::kernel::UniformLayout> {
    use crate::kernel::uniform_layout;
    vec![
        uniform_layout!("WgactActivation", ActivationParams { flags, p }, false),
        uniform_layout!(
            "ElementwiseParams",
            ElementwiseParams { n, block, act },
            true
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relu_and_leaky_relu_kernels_take_their_path_from_the_source_not_a_uniform() {
        let relu6 = Elementwise::from(ReLU::new(Some(6.0), 0.1, 0.0).unwrap());
        let flags = relu6.activation_params().flags;
        assert_eq!(flags, ReluPath::Relu6 as u32 | 8);
        let src = relu6.wgsl(Direction::Forward);
        assert!(src.contains(&format!("wgact_relu_fwd_as(x, params.act, {flags}u)")));
        let general = Elementwise::from(ReLU::new(Some(3.0), 0.1, 0.5).unwrap());
        assert_ne!(relu6.variant(), general.variant());
        let leaky0 = Elementwise::from(LeakyReLU::new(0.0).unwrap());
        assert!(leaky0
            .wgsl(Direction::Backward)
            .contains("wgact_leaky_relu_bwd_as(x, dy, params.act, true)"));
        // Every variant a layer can take is among those compiled for validation.
        let all = ElementwiseKernel::all();
        for op in [relu6, general, leaky0] {
            assert!(all.iter().any(|k| k.variant == op.variant()));
        }
    }

    #[test]
    fn the_cpu_loop_reads_the_offsets_once_and_walks_simd_batches_of_its_lanes() {
        let kernel = ElementwiseKernel {
            kind: ElementwiseKind::ELU,
            variant: Variant::Any,
            direction: Direction::Backward,
            unit: Unit::Vec4,
            in_place: true,
            store: Store::F32,
            walk: Loop::Blocked { lanes: 8 },
        };
        let src = kernel.source().wgsl();
        assert!(src.contains("const LANES: u32 = 8u;"));
        assert!(src.contains("fn backward(") && !src.contains("elementwise_blocked_entry"));
        assert!(src.contains("wgact_load_offsets();"));
        assert!(!src.contains("params.off[0]"));
        assert!(src.contains("elementwise_act = params.act;"));
        assert!(src.contains("wgact_elu_bwd(x, dy, elementwise_act)"));
        let gpu_src = ElementwiseKernel {
            walk: Loop::GridStride,
            ..kernel
        }
        .source()
        .wgsl();
        assert!(gpu_src.contains("params.off[0]") && !gpu_src.contains("wgact_off"));
        assert!(ElementwiseKernel::all()
            .iter()
            .any(|k| k.walk == Loop::GridStride));
    }
}
