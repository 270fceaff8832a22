//! The one error type every public function returns.

use thiserror::Error;

/// Everything that can go wrong, each variant naming the offending value.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// No GPU adapter could be found on any primary backend.
    #[error(
        "no GPU adapter found ({detail}); install a Vulkan driver, e.g. Mesa's software \
         rasterizer lavapipe: `apt-get install -y mesa-vulkan-drivers libvulkan1`"
    )]
    NoAdapter { detail: String },

    /// The adapter refused to create a device.
    #[error("the adapter refused to create a device: {0}")]
    RequestDevice(String),

    /// A layer parameter that Keras rejects, or a NaN / infinite parameter.
    #[error("invalid parameter for {layer}: {name} = {value}: {reason}")]
    InvalidParameter {
        layer: &'static str,
        name: &'static str,
        value: String,
        reason: &'static str,
    },

    /// The data length does not match the product of the shape.
    #[error("data of length {len} does not match shape {shape:?} ({expected} elements)")]
    LengthMismatch {
        len: usize,
        shape: Vec<usize>,
        expected: usize,
    },

    /// Two tensors that must have the same shape do not.
    #[error("shape mismatch: {what} has shape {actual:?}, expected {expected:?}")]
    ShapeMismatch {
        what: &'static str,
        actual: Vec<usize>,
        expected: Vec<usize>,
    },

    /// The tensors of one op (or a download buffer) differ in element type.
    #[error("dtype mismatch: {what} is {actual}, expected {expected}")]
    DTypeMismatch {
        what: &'static str,
        actual: &'static str,
        expected: &'static str,
    },

    /// The tensor rank is not allowed for this operation.
    #[error("{op} needs a tensor of rank {allowed}, got rank {rank} (shape {shape:?})")]
    InvalidRank {
        op: &'static str,
        rank: usize,
        shape: Vec<usize>,
        allowed: &'static str,
    },

    /// An axis outside `[-rank, rank)`.
    #[error("axis {axis} is out of range for rank {rank}: it must be in [{min}, {max})", min = -(*.rank as i64), max = *.rank)]
    AxisOutOfRange { axis: i64, rank: usize },

    /// The tensor is larger than this adapter can hold in one buffer.
    #[error("tensor {what} of {bytes} bytes exceeds the adapter's max_buffer_size of {max} bytes")]
    TooLarge {
        what: &'static str,
        bytes: u64,
        max: u64,
    },

    /// A tensor, view or layer weight of another device was passed to a
    /// [`Gpu`](crate::Gpu). (Contexts that wrap one device share tensors.)
    #[error("tensor {what} belongs to another device than this Gpu's")]
    ForeignTensor { what: &'static str },

    /// An output shares a buffer with an input of the same op (wgpu cannot bind one buffer
    /// as read-only and read-write storage in one dispatch), or two outputs overlap.
    #[error("aliasing not allowed: {what}")]
    Aliasing { what: String },

    /// A buffer lacks a usage the call needs.
    #[error("{what}: the buffer lacks the {missing} usage")]
    BufferUsage {
        what: &'static str,
        missing: &'static str,
    },

    /// A view does not fit in its buffer.
    #[error("a view of {len} elements at element offset {offset} does not fit a buffer of {capacity} elements")]
    OutOfBounds {
        offset: u64,
        len: u64,
        capacity: u64,
    },

    /// A WGSL kernel failed to compile into a pipeline.
    #[error("kernel {kernel} failed to compile: {message}")]
    ShaderCompile { kernel: String, message: String },

    /// The GPU ran out of memory.
    #[error("out of GPU memory while {during}")]
    OutOfMemory { during: String },

    /// wgpu reported a validation error: a bug in this library if it ever shows up.
    #[error("wgpu rejected {during}: {message}")]
    Gpu { during: String, message: String },

    /// The device was lost; this `Gpu` can no longer be used.
    #[error("the GPU device was lost: {0}")]
    DeviceLost(String),

    /// Reading results back from the GPU failed.
    #[error("reading {what} back from the GPU failed: {message}")]
    Readback { what: &'static str, message: String },

    /// A layer with weights was used before it was built for an input shape.
    #[error("{layer} is not built yet: call build(gpu, input_shape) or forward first")]
    NotBuilt { layer: &'static str },

    /// A Keras layer config that the Keras version reading it rejects, or that Keras accepts
    /// but whose layer cannot run (both named in `reason`). `key` is the config key (a path
    /// such as `alpha_initializer.config.bogus` for nested objects), `value` its JSON text.
    #[error("Keras {layer} config: {key} = {value}: {reason}")]
    KerasConfig {
        layer: String,
        key: String,
        value: String,
        reason: String,
    },

    /// A valid Keras parameter this crate does not compute (e.g. an `Orthogonal`
    /// initializer, a Softmax over several axes).
    #[error(
        "Keras {layer}: {key} = {value} is valid Keras but not supported by this crate: {reason}"
    )]
    KerasUnsupported {
        layer: String,
        key: String,
        value: String,
        reason: String,
    },

    /// A Keras file (`.keras` archive, model JSON, `model.weights.h5`) that cannot be read.
    #[error("cannot read Keras file {what}: {message}")]
    KerasFile { what: String, message: String },
}

/// Shorthand for `Result<T, wgpu_activations::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
