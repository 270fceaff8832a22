//! PReLU: `y = x >= 0 ? x : alpha * x` with a learned alpha, forward and backward on the GPU.
//!
//! Keras: `PReLU(alpha_initializer='zeros', alpha_regularizer=None, alpha_constraint=None,
//! shared_axes=None)`, computed as Keras does, `y = relu(x) + (-alpha) * relu(-x)`:
//!
//! - alpha has shape `input_shape[1..]` with every shared axis set to 1, and broadcasts over
//!   the batch axis and the shared axes. Axes count the batch axis as 0.
//! - `dx = dy * [x > 0] + alpha * dy * [x < 0]`: **0 at `x == 0`** (LeakyReLU takes the left
//!   slope there) and 0 at NaN.
//! - `dalpha = Σ over batch and shared axes of dy * min(x, 0)`, reduced on the GPU in a fixed
//!   tree order (see [`PReLU::dalpha_tree_depth`] for the error bound).
//! - `alpha == 0` at `x == -inf` gives NaN (`0 * inf`), as in Keras; NaN in x gives NaN in y,
//!   0 in dx and NaN in that element's dalpha.
//!
//! Initializers, regularizers and constraints follow Keras's names and defaults; the last
//! two run on the CPU (alpha is small), see [`Regularizer`] and [`Constraint`].
//!
//! ```
//! use wgpu_activations::prelu::{Constraint, Initializer, PReLU, Regularizer};
//! use wgpu_activations::{Gpu, Tensor};
//!
//! # fn main() -> Result<(), wgpu_activations::Error> {
//! # let gpu = match Gpu::new() {
//! #     Ok(gpu) => gpu,
//! #     Err(wgpu_activations::Error::NoAdapter { .. }) if std::env::var_os("REQUIRE_GPU").is_none() => return Ok(()),
//! #     Err(e) => return Err(e),
//! # };
//! // let gpu = Gpu::new()?;
//! // NHWC input, alpha shared over height and width: one alpha per channel, shape [1, 1, 3].
//! let mut prelu = PReLU::new(
//!     Initializer::Constant(0.25),
//!     Some(Regularizer::l2()), // l2 = 0.01
//!     Some(Constraint::non_neg()),
//!     Some(vec![1, 2]),
//! )?;
//! prelu.build(&gpu, &[2, 4, 4, 3])?;
//! assert_eq!(prelu.alpha_shape()?, &[1, 1, 3]);
//!
//! let x = Tensor::from_slice(&gpu, &[-1.0; 96], &[2, 4, 4, 3])?;
//! let y = prelu.forward(&gpu, &x)?;
//! assert_eq!(y.to_vec(&gpu)?, vec![-0.25; 96]);
//!
//! let dy = Tensor::from_slice(&gpu, &[-1.0; 96], &[2, 4, 4, 3])?;
//! // dalpha = Σ dy * min(x, 0) over batch, height and width = 32, plus 2 * l2 * alpha.
//! let (dx, dalpha) = prelu.backward_with(&gpu, &x, &dy, true)?;
//! assert_eq!(dx.to_vec(&gpu)?, vec![-0.25; 96]);
//! assert_eq!(dalpha.to_vec(&gpu)?, vec![32.005; 3]);
//!
//! // An SGD step, then the constraint, as Keras applies it after an optimizer step.
//! let stepped: Vec<f32> = prelu.alpha(&gpu)?.iter()
//!     .zip(dalpha.to_vec(&gpu)?)
//!     .map(|(a, g)| a - 0.1 * g)
//!     .collect();
//! prelu.set_alpha(&gpu, &stepped)?; // about -2.95 each
//! prelu.apply_constraint(&gpu)?; // non_neg: w * [w >= 0]
//! assert_eq!(prelu.alpha(&gpu)?, vec![0.0; 3]);
//! assert_eq!(prelu.regularization_penalty(), 0.0);
//! # Ok(())
//! # }
//! ```

mod constraints;
mod initializers;
mod kernels;
#[cfg(test)]
pub(crate) use kernels::uniform_layouts;
mod plan;
mod regularizers;

pub use constraints::{Constraint, EPSILON};
pub use initializers::{fans, Initializer, TRUNCATED_NORMAL_STDDEV};
pub(crate) use kernels::shader_sources;
pub use regularizers::Regularizer;

use crate::batch::{check_aliasing, Batch};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::tensor::Tensor;

/// Highest input rank (8 axes: at most 4 kept and 4 reduced after canonicalisation).
const MAX_RANK: usize = 8;

const LAYER: &str = "PReLU";

/// The built state: the input shape it was built for and alpha on both sides.
#[derive(Clone, Debug)]
struct Built {
    input_shape: Vec<usize>,
    alpha_shape: Vec<usize>,
    /// The authoritative copy; the tensor mirrors it.
    alpha: Vec<f32>,
    alpha_tensor: Tensor,
}

/// `PReLU(alpha_initializer='zeros', alpha_regularizer=None, alpha_constraint=None,
/// shared_axes=None)`. See the [module docs](self) for the formulas.
///
/// `shared_axes` lists axes of the input (the batch axis is 0) along which alpha is shared.
/// **Unlike Keras**, an axis outside `1..rank` is an error: Keras silently wraps `[0]` to the
/// last axis (index -1), which is never what was meant. Duplicates are accepted, as in Keras.
#[derive(Clone, Debug)]
pub struct PReLU {
    initializer: Initializer,
    regularizer: Option<Regularizer>,
    constraint: Option<Constraint>,
    shared_axes: Option<Vec<usize>>,
    built: Option<Built>,
}

impl Default for PReLU {
    fn default() -> Self {
        PReLU {
            initializer: Initializer::Zeros,
            regularizer: None,
            constraint: None,
            shared_axes: None,
            built: None,
        }
    }
}

impl PReLU {
    /// A layer, not yet built.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for invalid initializer, regularizer or constraint
    /// parameters, or a shared axis 0 (the batch axis cannot be shared).
    pub fn new(
        initializer: Initializer,
        regularizer: Option<Regularizer>,
        constraint: Option<Constraint>,
        shared_axes: Option<Vec<usize>>,
    ) -> Result<Self> {
        initializer.validate()?;
        if let Some(r) = &regularizer {
            r.validate()?;
        }
        if let Some(c) = &constraint {
            c.validate()?;
        }
        if let Some(axes) = &shared_axes {
            if axes.contains(&0) {
                return Err(bad_shared_axes(axes, None));
            }
        }
        Ok(PReLU {
            initializer,
            regularizer,
            constraint,
            shared_axes,
            built: None,
        })
    }

    pub fn initializer(&self) -> Initializer {
        self.initializer
    }
    pub fn regularizer(&self) -> Option<Regularizer> {
        self.regularizer
    }
    pub fn constraint(&self) -> Option<&Constraint> {
        self.constraint.as_ref()
    }
    pub fn shared_axes(&self) -> Option<&[usize]> {
        self.shared_axes.as_deref()
    }
    pub fn is_built(&self) -> bool {
        self.built.is_some()
    }

    /// alpha's shape for an input of `input_shape`: `input_shape[1..]` with each shared axis
    /// set to 1.
    ///
    /// # Errors
    /// [`Error::InvalidRank`] outside ranks 1 to 8; [`Error::InvalidParameter`] for a shared
    /// axis outside `1..rank`.
    pub fn alpha_shape_for(&self, input_shape: &[usize]) -> Result<Vec<usize>> {
        let rank = input_shape.len();
        if rank == 0 || rank > MAX_RANK {
            return Err(Error::InvalidRank {
                op: LAYER,
                rank,
                shape: input_shape.to_vec(),
                allowed: "1 to 8",
            });
        }
        let mut shape = input_shape[1..].to_vec();
        if let Some(axes) = &self.shared_axes {
            for &a in axes {
                if a == 0 || a >= rank {
                    return Err(bad_shared_axes(axes, Some(rank)));
                }
                shape[a - 1] = 1;
            }
        }
        Ok(shape)
    }

    /// The shape alpha was built with.
    ///
    /// # Errors
    /// [`Error::NotBuilt`].
    pub fn alpha_shape(&self) -> Result<&[usize]> {
        Ok(&self.built()?.alpha_shape)
    }

    /// The input shape the layer was built for.
    ///
    /// # Errors
    /// [`Error::NotBuilt`].
    pub fn input_shape(&self) -> Result<&[usize]> {
        Ok(&self.built()?.input_shape)
    }

    fn built(&self) -> Result<&Built> {
        self.built.as_ref().ok_or(Error::NotBuilt { layer: LAYER })
    }

    /// Creates alpha for `input_shape` with the initializer and uploads it. Building an
    /// already built layer only checks that `input_shape` is compatible.
    ///
    /// # Errors
    /// As [`Self::alpha_shape_for`]; [`Error::ShapeMismatch`] when already built for an
    /// incompatible shape; GPU errors.
    pub fn build(&mut self, gpu: &Gpu, input_shape: &[usize]) -> Result<()> {
        if self.built.is_some() {
            return self.check_input(input_shape);
        }
        let alpha_shape = self.alpha_shape_for(input_shape)?;
        let alpha = self.initializer.values(&alpha_shape);
        let alpha_tensor = Tensor::from_slice(gpu, &alpha, &alpha_shape)?;
        self.built = Some(Built {
            input_shape: input_shape.to_vec(),
            alpha_shape,
            alpha,
            alpha_tensor,
        });
        Ok(())
    }

    /// Checks that an input of `shape` fits the built alpha: same rank, same size along
    /// every axis that is neither the batch axis nor shared.
    fn check_input(&self, shape: &[usize]) -> Result<()> {
        let built = self.built()?;
        let fits = shape.len() == built.input_shape.len()
            && (1..shape.len()).all(|d| {
                built.alpha_shape[d - 1] == shape[d]
                    || (built.alpha_shape[d - 1] == 1 && self.is_shared(d))
            });
        if !fits {
            let mut expected = built.input_shape.clone();
            if let Some(b) = shape.first() {
                expected[0] = *b;
            }
            return Err(Error::ShapeMismatch {
                what: "x (PReLU input; only the batch axis and shared axes may change size)",
                actual: shape.to_vec(),
                expected,
            });
        }
        Ok(())
    }

    fn is_shared(&self, axis: usize) -> bool {
        self.shared_axes
            .as_ref()
            .is_some_and(|axes| axes.contains(&axis))
    }

    fn ensure_built(&mut self, gpu: &Gpu, shape: &[usize]) -> Result<()> {
        if self.built.is_none() {
            self.build(gpu, shape)?;
        }
        self.check_input(shape)
    }

    /// alpha, downloaded (row-major, shape [`Self::alpha_shape`]).
    ///
    /// # Errors
    /// [`Error::NotBuilt`]; [`Error::ForeignTensor`] for another `Gpu`; readback errors.
    ///
    /// Native only (it waits): in a browser await `alpha_tensor().read(gpu)`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn alpha(&self, gpu: &Gpu) -> Result<Vec<f32>> {
        let built = self.built()?;
        built
            .alpha_tensor
            .check_gpu(gpu, "alpha (this PReLU was built on another device)")?;
        built.alpha_tensor.to_vec(gpu)
    }

    /// alpha as a GPU tensor, for reading (write through [`Self::set_alpha`]).
    ///
    /// # Errors
    /// [`Error::NotBuilt`].
    pub fn alpha_tensor(&self) -> Result<&Tensor> {
        Ok(&self.built()?.alpha_tensor)
    }

    /// Uploads new alpha values (row-major, shape [`Self::alpha_shape`]).
    ///
    /// # Errors
    /// [`Error::NotBuilt`]; [`Error::LengthMismatch`] for the wrong number of values.
    pub fn set_alpha(&mut self, gpu: &Gpu, values: &[f32]) -> Result<()> {
        let built = self
            .built
            .as_mut()
            .ok_or(Error::NotBuilt { layer: LAYER })?;
        built
            .alpha_tensor
            .check_gpu(gpu, "alpha (this PReLU was built on another device)")?;
        let tensor = Tensor::from_slice(gpu, values, &built.alpha_shape)?;
        built.alpha = values.to_vec();
        built.alpha_tensor = tensor;
        Ok(())
    }

    /// Validates a call on `x` (building the layer for `x.shape()` on first use): every
    /// tensor and alpha itself on `gpu`'s device, and `x` fitting alpha.
    fn prepare(&mut self, gpu: &Gpu, x: &Tensor) -> Result<()> {
        x.check_gpu(gpu, "x")?;
        if let Some(built) = &self.built {
            built
                .alpha_tensor
                .check_gpu(gpu, "alpha (this PReLU was built on another device)")?;
        }
        self.ensure_built(gpu, x.shape())
    }

    /// `y = prelu(x)` on the GPU into a new tensor, building the layer for `x.shape()` on
    /// first use.
    ///
    /// # Errors
    /// As [`Self::build`]; [`Error::ShapeMismatch`] for an input that does not fit alpha;
    /// [`Error::ForeignTensor`] for a tensor, or a layer built, on another device; GPU errors.
    pub fn forward(&mut self, gpu: &Gpu, x: &Tensor) -> Result<Tensor> {
        self.prepare(gpu, x)?;
        let y = Tensor::alloc_like(gpu, "prelu/y", x)?;
        self.forward_into(gpu, x, &y)?;
        Ok(y)
    }

    /// `y = prelu(x)` into an existing tensor or view.
    ///
    /// # Errors
    /// As [`Self::record_forward`]; GPU errors.
    pub fn forward_into(&mut self, gpu: &Gpu, x: &Tensor, y: &Tensor) -> Result<()> {
        let mut batch = Batch::new(gpu);
        self.record_forward(&mut batch, x, y)?;
        batch.submit().map(drop)
    }

    /// `x = prelu(x)` in place.
    ///
    /// # Errors
    /// As [`Self::record_forward_in_place`]; GPU errors.
    pub fn forward_in_place(&mut self, gpu: &Gpu, x: &Tensor) -> Result<()> {
        let mut batch = Batch::new(gpu);
        self.record_forward_in_place(&mut batch, x)?;
        batch.submit().map(drop)
    }

    /// `(dx, dalpha)` on the GPU; see the [module docs](self).
    ///
    /// # Errors
    /// As [`Self::forward`]; [`Error::ShapeMismatch`] when `dy` differs from `x` in shape.
    pub fn backward(&mut self, gpu: &Gpu, x: &Tensor, dy: &Tensor) -> Result<(Tensor, Tensor)> {
        self.prepare(gpu, x)?;
        dy.expect(gpu, "dy", x.shape())?;
        let alpha_shape = self.built()?.alpha_shape.clone();
        let dx = Tensor::alloc_like(gpu, "prelu/dx", x)?;
        let dalpha = Tensor::alloc_of(gpu, "prelu/dalpha", &alpha_shape, x.dtype())?;
        self.backward_into(gpu, x, dy, &dx, &dalpha)?;
        Ok((dx, dalpha))
    }

    /// As [`Self::backward`]; with `add_regularizer_gradient`, the regularizer's gradient
    /// (computed on the CPU) is added to dalpha. That reads dalpha back and waits, so it is
    /// native only: in a browser await `dalpha.read(gpu)` and add
    /// [`Self::regularization_gradient`].
    ///
    /// # Errors
    /// As [`Self::backward`].
    #[cfg(not(target_arch = "wasm32"))]
    pub fn backward_with(
        &mut self,
        gpu: &Gpu,
        x: &Tensor,
        dy: &Tensor,
        add_regularizer_gradient: bool,
    ) -> Result<(Tensor, Tensor)> {
        let (dx, dalpha) = self.backward(gpu, x, dy)?;
        match (&self.regularizer, add_regularizer_gradient) {
            (Some(r), true) => {
                let built = self.built()?;
                let mut values = dalpha.to_vec(gpu)?;
                for (v, g) in values.iter_mut().zip(r.gradient(&built.alpha)) {
                    *v += g;
                }
                Ok((
                    dx,
                    Tensor::from_slice_as(gpu, &values, dalpha.shape(), dalpha.dtype())?,
                ))
            }
            _ => Ok((dx, dalpha)),
        }
    }

    /// `dx` and `dalpha` into existing tensors or views (dalpha of [`Self::alpha_shape`]).
    ///
    /// # Errors
    /// As [`Self::record_backward`]; GPU errors.
    pub fn backward_into(
        &mut self,
        gpu: &Gpu,
        x: &Tensor,
        dy: &Tensor,
        dx: &Tensor,
        dalpha: &Tensor,
    ) -> Result<()> {
        let mut batch = Batch::new(gpu);
        self.record_backward(&mut batch, x, dy, dx, dalpha)?;
        batch.submit().map(drop)
    }

    /// `dy = dx` in place, and `dalpha`: dalpha's reduction is recorded first, so it reads
    /// `dy` before `dx` overwrites it.
    ///
    /// # Errors
    /// As [`Self::record_backward_in_place`]; GPU errors.
    pub fn backward_in_place(
        &mut self,
        gpu: &Gpu,
        x: &Tensor,
        dy: &Tensor,
        dalpha: &Tensor,
    ) -> Result<()> {
        let mut batch = Batch::new(gpu);
        self.record_backward_in_place(&mut batch, x, dy, dalpha)?;
        batch.submit().map(drop)
    }

    /// Records `y = prelu(x)` into `batch`, building the layer on first use.
    ///
    /// # Errors
    /// As [`Self::forward`]; [`Error::ShapeMismatch`] unless `y` has `x`'s shape;
    /// [`Error::Aliasing`] when `y` shares `x`'s buffer (use the in-place call).
    pub fn record_forward(&mut self, batch: &mut Batch<'_>, x: &Tensor, y: &Tensor) -> Result<()> {
        let gpu = batch.gpu();
        self.prepare(gpu, x)?;
        y.expect(gpu, "y", x.shape())?;
        check_aliasing(&[("x", x)], &[("y", y)])?;
        self.record_forward_kernel(batch, x, y, false)
    }

    /// Records `x = prelu(x)` into `batch`.
    ///
    /// # Errors
    /// As [`Self::forward`].
    pub fn record_forward_in_place(&mut self, batch: &mut Batch<'_>, x: &Tensor) -> Result<()> {
        self.prepare(batch.gpu(), x)?;
        self.record_forward_kernel(batch, x, x, true)
    }

    /// Records `dx` and `dalpha` into `batch`. dalpha's partial sums use the context's
    /// scratch buffers (grown once, reused by every later call).
    ///
    /// # Errors
    /// As [`Self::forward`]; shape mismatches of `dy`, `dx` and `dalpha`;
    /// [`Error::Aliasing`] when an output shares a buffer with `x` or `dy`, or the outputs
    /// overlap.
    pub fn record_backward(
        &mut self,
        batch: &mut Batch<'_>,
        x: &Tensor,
        dy: &Tensor,
        dx: &Tensor,
        dalpha: &Tensor,
    ) -> Result<()> {
        let gpu = batch.gpu();
        self.prepare(gpu, x)?;
        dy.expect(gpu, "dy", x.shape())?;
        dx.expect(gpu, "dx", x.shape())?;
        dalpha.expect(gpu, "dalpha", &self.built()?.alpha_shape)?;
        check_aliasing(&[("x", x), ("dy", dy)], &[("dx", dx), ("dalpha", dalpha)])?;
        let scratch = self.dalpha_scratch(gpu, x.shape())?;
        self.record_backward_passes(batch, &scratch, x, dy, dx, dalpha, false)
    }

    /// Records `dalpha`, then `dy = dx` in place, into `batch`.
    ///
    /// # Errors
    /// As [`Self::record_backward`].
    pub fn record_backward_in_place(
        &mut self,
        batch: &mut Batch<'_>,
        x: &Tensor,
        dy: &Tensor,
        dalpha: &Tensor,
    ) -> Result<()> {
        let gpu = batch.gpu();
        self.prepare(gpu, x)?;
        dy.expect(gpu, "dy", x.shape())?;
        dalpha.expect(gpu, "dalpha", &self.built()?.alpha_shape)?;
        check_aliasing(
            &[("x", x)],
            &[("dy (overwritten with dx)", dy), ("dalpha", dalpha)],
        )?;
        // dy is read by dalpha's first pass, which may write dalpha directly: they may not
        // share a buffer at all (the call above refuses only their overlap).
        check_aliasing(&[("dy", dy)], &[("dalpha", dalpha)])?;
        let scratch = self.dalpha_scratch(gpu, x.shape())?;
        self.record_backward_passes(batch, &scratch, x, dy, dy, dalpha, true)
    }

    /// The regularizer's penalty on the current alpha (what Keras adds to the loss); 0
    /// without a regularizer or before the layer is built.
    pub fn regularization_penalty(&self) -> f32 {
        match (&self.regularizer, &self.built) {
            (Some(r), Some(b)) => r.penalty(&b.alpha),
            _ => 0.0,
        }
    }

    /// The regularizer's gradient on the current alpha (zeros without a regularizer).
    ///
    /// # Errors
    /// [`Error::NotBuilt`].
    pub fn regularization_gradient(&self) -> Result<Vec<f32>> {
        let built = self.built()?;
        Ok(match &self.regularizer {
            Some(r) => r.gradient(&built.alpha),
            None => vec![0.0; built.alpha.len()],
        })
    }

    /// Applies the constraint to alpha (on the CPU) and uploads the result, as Keras does
    /// after an optimizer step. Without a constraint it does nothing.
    ///
    /// # Errors
    /// [`Error::NotBuilt`]; [`Error::AxisOutOfRange`] for a constraint axis outside alpha's
    /// rank; GPU errors.
    pub fn apply_constraint(&mut self, gpu: &Gpu) -> Result<()> {
        let Some(constraint) = self.constraint.clone() else {
            return Ok(());
        };
        let built = self.built()?;
        let values = constraint.apply(&built.alpha, &built.alpha_shape)?;
        self.set_alpha(gpu, &values)
    }

    /// The rounding depth `D` of the dalpha reduction for an input of `x_shape`: no term
    /// passes through more than `D` rounded additions, so
    /// `|dalpha_gpu - Σ terms| <= D * u / (1 - D * u) * Σ |terms|` with `u = 2^-24`, as long as
    /// no partial sum overflows (plus `2^-126` per term where the GPU flushes denormals).
    /// `D` is about `ceil(log2(terms per alpha element))`, plus at most 1 per pass.
    ///
    /// # Errors
    /// [`Error::NotBuilt`]; as [`Self::forward`] for an input that does not fit.
    pub fn dalpha_tree_depth(&self, gpu: &Gpu, x_shape: &[usize]) -> Result<u32> {
        self.check_input(x_shape)?;
        Ok(self.reduce_plan(gpu, x_shape)?.depth)
    }
}

fn bad_shared_axes(axes: &[usize], rank: Option<usize>) -> Error {
    Error::InvalidParameter {
        layer: LAYER,
        name: "shared_axes",
        value: match rank {
            Some(r) => format!("{axes:?} for an input of rank {r}"),
            None => format!("{axes:?}"),
        },
        reason: "every shared axis must lie in 1..rank (0 is the batch axis); unlike Keras, \
                 [0] is not wrapped to the last axis",
    }
}
