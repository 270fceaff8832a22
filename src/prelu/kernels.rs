//! The PReLU kernels: WGSL composition, the uniform block, pipeline keys, and the
//! functions that record them into an encoder.

use super::plan::{
    canonical, grid, DalphaScratch, Lanes, TermsTree, ALIGN_ELEMS, TERMS_PER_INVOCATION,
    WORKGROUP_SIZE,
};
use super::PReLU;
use crate::error::{Error, Result};
use crate::gpu::{BindingContract, DType, Gpu, PipelineKey};
use crate::tensor::{chunks, Tensor};

/// Uniform block of every prelu kernel (`PreluParams` in `shaders/prelu_common.wgsl`).
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct PreluParams {
    n: u32,
    first: u32,
    count_a: u32,
    p_total: u32,
    p_offset: u32,
    group_a: u32,
    blocks: u32,
    rank: u32,
    n_kept: u32,
    n_red: u32,
    _pad: [u32; 2],
    sizes: [u32; 8],
    astrides: [u32; 8],
    kept_sizes: [u32; 4],
    kept_xstrides: [u32; 4],
    red_sizes: [u32; 4],
    red_xstrides: [u32; 4],
}

impl Lanes {
    /// The elementwise kernel's body (without the common files) for this walk.
    fn wgsl(self, scalar: &str, vec4: &str) -> String {
        match self {
            Lanes::Scalar => scalar.to_string(),
            Lanes::KeptVec4 => format!(
                "{vec4}\n{}",
                include_str!("../../shaders/prelu_alpha_kept4.wgsl")
            ),
            Lanes::ReducedVec4 => format!(
                "{vec4}\n{}",
                include_str!("../../shaders/prelu_alpha_reduced4.wgsl")
            ),
        }
    }
}

/// The kernels of this family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PreluKernel {
    Forward(Lanes),
    Dx(Lanes),
    DalphaTerms(TermsTree),
    DalphaPartials,
}

impl PreluKernel {
    const ALL: [PreluKernel; 11] = [
        PreluKernel::Forward(Lanes::ALL[0]),
        PreluKernel::Forward(Lanes::ALL[1]),
        PreluKernel::Forward(Lanes::ALL[2]),
        PreluKernel::Dx(Lanes::ALL[0]),
        PreluKernel::Dx(Lanes::ALL[1]),
        PreluKernel::Dx(Lanes::ALL[2]),
        PreluKernel::DalphaTerms(TermsTree::ALL[0]),
        PreluKernel::DalphaTerms(TermsTree::ALL[1]),
        PreluKernel::DalphaTerms(TermsTree::ALL[2]),
        PreluKernel::DalphaTerms(TermsTree::ALL[3]),
        PreluKernel::DalphaPartials,
    ];

    fn name(self) -> &'static str {
        match self {
            PreluKernel::Forward(Lanes::Scalar) => "prelu/forward",
            PreluKernel::Forward(Lanes::KeptVec4) => "prelu/forward/vec4_kept",
            PreluKernel::Forward(Lanes::ReducedVec4) => "prelu/forward/vec4_reduced",
            PreluKernel::Dx(Lanes::Scalar) => "prelu/dx",
            PreluKernel::Dx(Lanes::KeptVec4) => "prelu/dx/vec4_kept",
            PreluKernel::Dx(Lanes::ReducedVec4) => "prelu/dx/vec4_reduced",
            PreluKernel::DalphaTerms(TermsTree::Shared) => "prelu/dalpha_terms",
            PreluKernel::DalphaTerms(TermsTree::Registers(4)) => "prelu/dalpha_terms/registers4",
            PreluKernel::DalphaTerms(TermsTree::Registers(8)) => "prelu/dalpha_terms/registers8",
            PreluKernel::DalphaTerms(TermsTree::Registers(_)) => "prelu/dalpha_terms/registers16",
            PreluKernel::DalphaPartials => "prelu/dalpha_partials",
        }
    }

    fn entry(self) -> &'static str {
        match self {
            PreluKernel::Forward(_) => "forward",
            PreluKernel::Dx(_) => "backward",
            PreluKernel::DalphaTerms(TermsTree::Registers(_)) => "reduce_registers",
            PreluKernel::DalphaTerms(TermsTree::Shared) | PreluKernel::DalphaPartials => "reduce",
        }
    }

    fn variant(self) -> u32 {
        match self {
            PreluKernel::Forward(lanes) | PreluKernel::Dx(lanes) => lanes.variant(),
            PreluKernel::DalphaTerms(TermsTree::Registers(lanes)) => lanes,
            PreluKernel::DalphaTerms(TermsTree::Shared) | PreluKernel::DalphaPartials => 0,
        }
    }

    fn contract(self) -> BindingContract {
        let (reads, writes) = match self {
            PreluKernel::Forward(_) => (2, 1),
            PreluKernel::Dx(_) => (3, 1),
            PreluKernel::DalphaTerms(_) => (2, 1),
            PreluKernel::DalphaPartials => (1, 1),
        };
        BindingContract { reads, writes }
    }

    fn wgsl(self) -> String {
        let body = match self {
            PreluKernel::Forward(lanes) => lanes.wgsl(
                include_str!("../../shaders/prelu_forward.wgsl"),
                include_str!("../../shaders/prelu_forward4.wgsl"),
            ),
            PreluKernel::Dx(lanes) => lanes.wgsl(
                include_str!("../../shaders/prelu_backward.wgsl"),
                include_str!("../../shaders/prelu_backward4.wgsl"),
            ),
            PreluKernel::DalphaTerms(TermsTree::Shared) => format!(
                "{}\n{}",
                include_str!("../../shaders/prelu_reduce.wgsl"),
                include_str!("../../shaders/prelu_reduce_terms.wgsl")
            ),
            PreluKernel::DalphaTerms(TermsTree::Registers(lanes)) => format!(
                "const LANES: u32 = {lanes}u;\n{}\n{}\n{}",
                include_str!("../../shaders/prelu_reduce.wgsl"),
                include_str!("../../shaders/prelu_reduce_registers.wgsl"),
                include_str!("../../shaders/prelu_reduce_terms.wgsl")
            ),
            PreluKernel::DalphaPartials => format!(
                "{}\n{}",
                include_str!("../../shaders/prelu_reduce.wgsl"),
                include_str!("../../shaders/prelu_reduce_partials.wgsl")
            ),
        };
        format!(
            "const WG: u32 = {WORKGROUP_SIZE}u;\n{}\n{}\n{body}",
            crate::COMMON_WGSL,
            include_str!("../../shaders/prelu_common.wgsl")
        )
    }

    fn load(self, gpu: &Gpu) -> Result<std::sync::Arc<crate::gpu::Kernel>> {
        let key = PipelineKey {
            kernel: self.name(),
            entry: self.entry(),
            dtype: DType::F32,
            variant: self.variant(),
            workgroup_size: WORKGROUP_SIZE,
        };
        gpu.kernel(key, self.contract(), || self.wgsl())
    }
}

/// Every WGSL source of this family, labelled `prelu/...`.
pub(crate) fn shader_sources() -> Vec<(String, String)> {
    PreluKernel::ALL
        .iter()
        .map(|k| (k.name().to_string(), k.wgsl()))
        .collect()
}

impl PReLU {
    /// Uniforms describing the canonical shape for the elementwise kernels, and how those
    /// kernels walk it.
    fn elementwise_params(&self, x_shape: &[usize]) -> Result<(PreluParams, Lanes)> {
        let built = self.built()?;
        let axes = canonical(x_shape, &built.alpha_shape);
        let mut p = PreluParams {
            count_a: built.alpha.len() as u32,
            rank: axes.len() as u32,
            ..Default::default()
        };
        let mut astride = 1usize;
        for (k, axis) in axes.iter().enumerate().rev() {
            p.sizes[k] = axis.size as u32;
            if axis.kept {
                p.astrides[k] = astride as u32;
                astride *= axis.size;
            }
        }
        Ok((p, Lanes::for_shape(&axes)))
    }

    /// Records `y = prelu(x)` into `encoder` (x chunked by the binding limit).
    pub(crate) fn record_forward(
        &self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        x: &Tensor,
        y: &Tensor,
    ) -> Result<()> {
        self.record_elementwise(gpu, encoder, PreluKernel::Forward, &[x], y)
    }

    /// Records `dx` into `encoder`.
    pub(crate) fn record_dx(
        &self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        x: &Tensor,
        dy: &Tensor,
        dx: &Tensor,
    ) -> Result<()> {
        self.record_elementwise(gpu, encoder, PreluKernel::Dx, &[x, dy], dx)
    }

    fn record_elementwise(
        &self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        kernel: fn(Lanes) -> PreluKernel,
        inputs: &[&Tensor],
        out: &Tensor,
    ) -> Result<()> {
        for t in inputs {
            t.expect(gpu, "x", out.shape())?;
        }
        out.check_gpu(gpu, "out")?;
        self.check_input(out.shape())?;
        let n = out.len();
        if n == 0 {
            return Ok(());
        }
        Self::check_u32("x", n)?;
        let built = self.built()?;
        let (mut params, lanes) = self.elementwise_params(out.shape())?;
        let compiled = kernel(lanes).load(gpu)?;
        // Elements per invocation and step of the grid-stride loop.
        let per_step = match lanes {
            Lanes::Scalar => 1,
            Lanes::KeptVec4 | Lanes::ReducedVec4 => 4,
        };
        let chunk = self.limits.binding_elems(gpu) / ALIGN_ELEMS * ALIGN_ELEMS;
        let max_groups = gpu
            .grid_stride_workgroups()
            .min(self.limits.groups_per_dim(gpu));
        let alpha_len = built.alpha.len().max(1);
        if alpha_len * 4 > gpu.max_binding_bytes() as usize {
            return Err(Error::TooLarge {
                what: "alpha (must fit one storage binding)",
                bytes: alpha_len as u64 * 4,
                max: gpu.max_binding_bytes(),
            });
        }
        for (start, count) in chunks(n, chunk) {
            params.n = count as u32;
            params.first = start as u32;
            let groups =
                (count.div_ceil(per_step * WORKGROUP_SIZE as usize) as u32).min(max_groups);
            let mut bindings: Vec<_> = inputs.iter().map(|t| t.binding(start, count)).collect();
            bindings.push(built.alpha_tensor.binding(0, alpha_len));
            bindings.push(out.binding(start, count));
            gpu.record(
                encoder,
                &compiled,
                bytemuck::bytes_of(&params),
                &bindings,
                [groups, 1, 1],
            );
        }
        Ok(())
    }

    /// Records the dalpha reduction into `encoder`: pass 1 reads x and dy chunk by chunk
    /// and writes `[count_a][p_total]` partial sums (or dalpha itself when one block per
    /// alpha element suffices); each later pass reduces rows of partials by 1024.
    pub(crate) fn record_dalpha(
        &self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        scratch: &DalphaScratch,
        x: &Tensor,
        dy: &Tensor,
        dalpha: &Tensor,
    ) -> Result<()> {
        if scratch.x_shape != x.shape() {
            return Err(Error::ShapeMismatch {
                what: "x (the dalpha scratch was planned for another shape)",
                actual: x.shape().to_vec(),
                expected: scratch.x_shape.clone(),
            });
        }
        dy.expect(gpu, "dy", x.shape())?;
        dalpha.expect(gpu, "dalpha", &self.built()?.alpha_shape)?;
        let plan = &scratch.plan;
        let scratch = &scratch.partials;
        let count_a = plan.count_a;
        if count_a == 0 {
            return Ok(());
        }
        let per_dim = self.limits.groups_per_dim(gpu);
        let max_binding = (gpu.max_binding_bytes() / 4) as usize;
        // Where pass i writes: the next pass's input, or dalpha after the last pass.
        let target = |i: usize| scratch.get(i).unwrap_or(dalpha);
        if x.is_empty() {
            // No terms: dalpha stays zero (Tensor::alloc zero-fills).
            return Ok(());
        }
        let tree = match self.limits.shared_tree_only {
            true => TermsTree::Shared,
            false => TermsTree::for_group(plan.group_a),
        };
        let terms = PreluKernel::DalphaTerms(tree).load(gpu)?;
        let mut base = PreluParams {
            count_a: count_a as u32,
            p_total: plan.p_total as u32,
            group_a: plan.group_a as u32,
            n_kept: plan.kept.len() as u32,
            n_red: plan.red.len() as u32,
            ..Default::default()
        };
        for (k, &(size, stride)) in plan.kept.iter().enumerate() {
            base.kept_sizes[k] = size as u32;
            base.kept_xstrides[k] = stride as u32;
        }
        for (k, &(size, stride)) in plan.red.iter().enumerate() {
            base.red_sizes[k] = size as u32;
            base.red_xstrides[k] = stride as u32;
        }
        let inner_red: usize = plan.red[1..].iter().map(|r| r.0).product();
        let a_groups = count_a.div_ceil(plan.group_a);
        let out = target(0);
        if out.len() > max_binding {
            return Err(Error::TooLarge {
                what: "dalpha partials",
                bytes: out.len() as u64 * 4,
                max: max_binding as u64 * 4,
            });
        }
        for chunk in &plan.chunks {
            let mut params = base;
            params.n = (chunk.outer_len * inner_red) as u32;
            params.first = chunk.skew as u32;
            params.p_offset = chunk.p_offset as u32;
            params.blocks = chunk.blocks as u32;
            params.red_sizes[0] = chunk.outer_len as u32;
            gpu.record(
                encoder,
                &terms,
                bytemuck::bytes_of(&params),
                &[
                    x.binding(chunk.bind_start, chunk.bind_len),
                    dy.binding(chunk.bind_start, chunk.bind_len),
                    out.binding(0, out.len()),
                ],
                grid(
                    a_groups * chunk.blocks.div_ceil(tree.blocks_per_workgroup()),
                    per_dim,
                )?,
            );
        }
        if plan.passes.is_empty() {
            return Ok(());
        }
        let partials = PreluKernel::DalphaPartials.load(gpu)?;
        let full_block = WORKGROUP_SIZE as usize * TERMS_PER_INVOCATION;
        for (i, &p) in plan.passes.iter().enumerate() {
            let src = &scratch[i];
            let dst = target(i + 1);
            let p_next = p.div_ceil(full_block);
            let mut params = PreluParams {
                n: p as u32,
                count_a: count_a as u32,
                p_total: p_next as u32,
                group_a: 1,
                blocks: p_next as u32,
                n_kept: 1,
                n_red: 1,
                ..Default::default()
            };
            params.kept_sizes[0] = count_a as u32;
            params.kept_xstrides[0] = p as u32;
            params.red_sizes[0] = p as u32;
            params.red_xstrides[0] = 1;
            gpu.record(
                encoder,
                &partials,
                bytemuck::bytes_of(&params),
                &[src.binding(0, src.len()), dst.binding(0, dst.len())],
                grid(count_a * p_next, per_dim)?,
            );
        }
        Ok(())
    }
}
