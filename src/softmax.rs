//! softmax: not yet implemented (placeholder so the op list, checks and shader validation have a
//! place for it).

use crate::check::CheckRow;
use crate::error::Result;
use crate::gpu::Gpu;

/// Every WGSL source of this family, labelled `softmax/...`.
pub(crate) fn shader_sources() -> Vec<(String, String)> {
    Vec::new()
}

/// The `wgact check` rows of this family.
pub(crate) fn check_rows(
    _gpu: &Gpu,
    _quick: bool,
    _seed: u64,
    _emit: &mut dyn FnMut(&CheckRow),
) -> Result<()> {
    Ok(())
}
