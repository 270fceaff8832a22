//! The fill kernel: writes one value over a tensor (zeroing outputs no term reaches).

use crate::batch::Batch;
use crate::error::Result;
use crate::kernel::{Array, Arrays, KernelSource, Store};
use crate::tensor::{chunks, Tensor};

const WORKGROUP_SIZE: u32 = crate::kernel::GRID_STRIDE_WG;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct FillParams {
    n: u32,
    value: f32,
    _pad: [u32; 2],
}

/// The pipeline-cache key of the fill kernel: the storage of the array it fills.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct FillKernel(Store);

pub(crate) fn source(store: Store) -> KernelSource {
    KernelSource {
        label: match store {
            Store::F32 => "fill".into(),
            s => format!("fill/{}", s.name()),
        },
        entry: "fill",
        arrays: Arrays::new(vec![Array::write("out", "f32").stored(store)]),
        body: format!(
            "const WG: u32 = {WORKGROUP_SIZE}u;\n{}\n{}\n{}",
            crate::COMMON_WGSL,
            include_str!("../shaders/fill.wgsl"),
            crate::kernel::grid_stride("fill")
        ),
    }
}

/// Records `out = 0`.
pub(crate) fn record_zeros(batch: &mut Batch<'_>, out: &Tensor) -> Result<()> {
    let gpu = batch.gpu();
    if out.is_empty() {
        return Ok(());
    }
    let store = gpu.store(out.dtype());
    let kernel = gpu.kernel(FillKernel(store), || source(store))?;
    for (start, count) in chunks(out.len(), gpu.chunk_elems()) {
        let params = FillParams {
            n: count as u32,
            value: 0.0,
            _pad: [0; 2],
        };
        let groups = gpu.grid_stride_groups(count);
        batch.push(
            &kernel,
            bytemuck::bytes_of(&params),
            vec![out.slot(gpu, start, count, 4)],
            [groups, 1, 1],
        );
    }
    Ok(())
}

#[cfg(test)]
pub(crate) fn uniform_layouts() -> Vec<crate::kernel::UniformLayout> {
    vec![crate::kernel::uniform_layout!(
        "FillParams",
        FillParams { n, value },
        true
    )]
}
