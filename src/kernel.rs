//! Kernel specs: what identifies a compiled pipeline, and the WGSL binding block every kernel
//! gets from its list of arrays.
//!
//! Every kernel follows one binding contract: `@binding(0)` is its uniform block (bound at a
//! dynamic offset into a batch's uniform arena), then its read-only storage arrays, then its
//! read-write ones. The declarations are generated here, never written in a shader, together
//! with one accessor per array:
//!
//! ```wgsl
//! fn ld_x(i: u32) -> f32 { return x[params.off[0][0] + i]; }   // read arrays
//! fn st_y(i: u32, v: f32) { y[params.off[0][1] + i] = v; }     // written arrays
//! ```
//!
//! Kernels index their arrays only through these accessors, which buys two things:
//! - **Element offsets.** Storage bindings must start at `min_storage_buffer_offset_alignment`;
//!   a view at any other element offset is bound from the aligned start below it and the
//!   remainder travels in `params.off` (the dispatcher appends it to every uniform block, so
//!   each family's params struct ends with `off: array<vec4<u32>, 2>`).
//! - **In place.** wgpu forbids binding one buffer as read-only and read-write storage in one
//!   dispatch. The in-place variant of a kernel drops the input's binding and points the
//!   input's accessor at the output array: the same kernel body, one read-write binding.

use std::hash::Hash;
use std::sync::Arc;

/// How a kernel uses one of its storage arrays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Access {
    Read,
    ReadWrite,
}

/// How a tensor array's elements are stored. Accessors always take and return `f32` (or
/// `vec4<f32>`): the storage is invisible to kernel bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Store {
    F32,
    /// `array<f16>` for scalar units (`enable f16;`, the device has `SHADER_F16`): plain
    /// scalar stores, no atomics. vec4 units read and write word pairs (`array<vec2<u32>>`)
    /// converted exactly in software as [`Store::F16Packed`] does: the same bytes and bits,
    /// and half the loads of a `vec4<f16>` on lavapipe.
    F16Native,
    /// Halves packed two to a `u32`, converted in software (`shaders/half.wgsl`). Written
    /// scalar arrays are `atomic<u32>`: each store clears and sets only its own half, so two
    /// invocations writing the two halves of one word never race. vec4 units own whole
    /// word pairs and store plainly.
    F16Packed,
}

impl Store {
    /// The storage of `dtype` on a device with (or without) `SHADER_F16`.
    pub(crate) fn of(dtype: crate::dtype::DType, shader_f16: bool) -> Store {
        match dtype {
            crate::dtype::DType::F32 => Store::F32,
            crate::dtype::DType::F16 if shader_f16 => Store::F16Native,
            crate::dtype::DType::F16 => Store::F16Packed,
        }
    }
    pub(crate) fn name(self) -> &'static str {
        match self {
            Store::F32 => "f32",
            Store::F16Native => "f16",
            Store::F16Packed => "f16packed",
        }
    }
    pub(crate) fn is_f16(self) -> bool {
        self != Store::F32
    }
}

/// One storage array of a kernel, in binding order within its access class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Array {
    pub name: &'static str,
    /// The type its accessors take and return: `f32`, `vec4<f32>`, ... (the WGSL element
    /// type itself for [`Store::F32`]).
    pub elem: &'static str,
    pub access: Access,
    pub store: Store,
}

impl Array {
    pub(crate) const fn read(name: &'static str, elem: &'static str) -> Array {
        Array {
            name,
            elem,
            access: Access::Read,
            store: Store::F32,
        }
    }
    pub(crate) const fn write(name: &'static str, elem: &'static str) -> Array {
        Array {
            name,
            elem,
            access: Access::ReadWrite,
            store: Store::F32,
        }
    }
    /// The same array stored as `store` (only `f32` and `vec4<f32>` arrays have halves).
    pub(crate) const fn stored(mut self, store: Store) -> Array {
        self.store = store;
        self
    }

    fn vec4(&self) -> bool {
        debug_assert!(self.store == Store::F32 || matches!(self.elem, "f32" | "vec4<f32>"));
        self.elem == "vec4<f32>"
    }

    /// The WGSL element type of the declared array.
    fn declared(&self) -> &'static str {
        match (self.store, self.vec4(), self.access) {
            (Store::F32, _, _) => self.elem,
            (Store::F16Native, false, _) => "f16",
            // Word pairs, as packed: see `load`.
            (Store::F16Native, true, _) => "vec2<u32>",
            (Store::F16Packed, false, Access::Read) => "u32",
            (Store::F16Packed, false, Access::ReadWrite) => "atomic<u32>",
            (Store::F16Packed, true, _) => "vec2<u32>",
        }
    }

    /// The body of `ld_<name>` reading the array `from` (this array, or the written array
    /// that serves an in-place input) at unit index `at`.
    fn load(&self, from: &Array, at: &str) -> String {
        let arr = from.name;
        match (from.store, self.vec4(), from.access) {
            (Store::F32, _, _) => format!("return {arr}[{at}];"),
            (Store::F16Native, false, _) => format!("return f32({arr}[{at}]);"),
            // vec4 units read and write their four halves as two words, converted in
            // software exactly as the packed storage does: the same bytes, and on lavapipe
            // (which loads every component of a vector separately) half the loads of a
            // `vec4<f16>`.
            (Store::F16Native, true, _) => format!("return wgact_unpack_halves4({arr}[{at}]);"),
            (Store::F16Packed, false, access) => {
                let word = match access {
                    Access::Read => format!("{arr}[e >> 1u]"),
                    Access::ReadWrite => format!("atomicLoad(&{arr}[e >> 1u])"),
                };
                format!(
                    "let e = {at}; return wgact_half_to_f32(({word} >> ((e & 1u) * 16u)) & 0xffffu);"
                )
            }
            (Store::F16Packed, true, _) => {
                format!("return wgact_unpack_halves4({arr}[{at}]);")
            }
        }
    }

    /// The body of `st_<name>` writing `v` into the array `to` at unit index `at`.
    fn store_body(&self, to: &Array, at: &str) -> String {
        let arr = to.name;
        match (to.store, self.vec4()) {
            (Store::F32, _) => format!("{arr}[{at}] = v;"),
            (Store::F16Native, false) => format!("{arr}[{at}] = f16(wgact_round_half(v));"),
            (Store::F16Native, true) => format!("{arr}[{at}] = wgact_pack_halves4(v);"),
            (Store::F16Packed, false) => format!(
                "let e = {at}; let shift = (e & 1u) * 16u; \
                 atomicAnd(&{arr}[e >> 1u], ~(0xffffu << shift)); \
                 atomicOr(&{arr}[e >> 1u], wgact_f32_to_half(v) << shift);"
            ),
            (Store::F16Packed, true) => format!("{arr}[{at}] = wgact_pack_halves4(v);"),
        }
    }
}

/// Most storage arrays a kernel may bind (the size of `params.off`).
pub(crate) const MAX_ARRAYS: usize = 8;

/// Bytes the dispatcher appends to every uniform block: `off: array<vec4<u32>, 2>`.
pub(crate) const OFFSETS_BYTES: usize = MAX_ARRAYS * 4;

/// The storage arrays of a kernel and, for an in-place variant, which read array is served by
/// which written array.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Arrays {
    pub arrays: Vec<Array>,
    /// `(input, output)`: the input's binding is dropped and `ld_<input>` reads the output.
    pub in_place: Option<(&'static str, &'static str)>,
    /// The accessors read the offsets from a private copy (see [`Arrays::hoisted_offsets`]).
    pub hoisted: bool,
}

impl Arrays {
    pub(crate) fn new(arrays: Vec<Array>) -> Self {
        Arrays {
            arrays,
            in_place: None,
            hoisted: false,
        }
    }

    pub(crate) fn in_place(mut self, input: &'static str, output: &'static str) -> Self {
        self.in_place = Some((input, output));
        self
    }

    /// The accessors index with `wgact_off`, a private copy of `params.off` that the entry
    /// point fills once by calling `wgact_load_offsets()` before its first access. A kernel
    /// that loops over its arrays wants this on lavapipe: its compiler cannot prove that a
    /// store into a storage array leaves the uniform block alone, so it reloads `params.off`
    /// after every store (a fifth of an elementwise kernel's time at 2^22 elements).
    pub(crate) fn hoisted_offsets(mut self) -> Self {
        self.hoisted = true;
        self
    }

    /// The arrays that get a binding, reads first, in the order the dispatcher binds them.
    pub(crate) fn bound(&self) -> Vec<Array> {
        let dropped = self.in_place.map(|(input, _)| input);
        let bound = |access| {
            self.arrays
                .iter()
                .filter(move |a| a.access == access && Some(a.name) != dropped)
                .copied()
        };
        bound(Access::Read)
            .chain(bound(Access::ReadWrite))
            .collect()
    }

    /// `(reads, writes)` among the bound arrays.
    pub(crate) fn counts(&self) -> (u32, u32) {
        let bound = self.bound();
        let writes = bound
            .iter()
            .filter(|a| a.access == Access::ReadWrite)
            .count();
        ((bound.len() - writes) as u32, writes as u32)
    }

    /// Whether any array is stored as native `f16` (the module then needs `enable f16;`).
    pub(crate) fn native_f16(&self) -> bool {
        self.bound().iter().any(|a| a.store == Store::F16Native)
    }

    /// Declarations and accessors of the arrays (see the module docs).
    pub(crate) fn wgsl(&self) -> String {
        let bound = self.bound();
        debug_assert!(bound.len() <= MAX_ARRAYS);
        let slot = |name: &str| bound.iter().position(|a| a.name == name);
        let mut out =
            String::from("// Storage arrays and their accessors (generated by src/kernel.rs)\n");
        let offsets = if self.hoisted {
            out += "var<private> wgact_off: array<vec4<u32>, 2>;\n\
                    fn wgact_load_offsets() { wgact_off = params.off; }\n";
            "wgact_off"
        } else {
            "params.off"
        };
        for (k, a) in bound.iter().enumerate() {
            let access = match a.access {
                Access::Read => "read",
                Access::ReadWrite => "read_write",
            };
            out += &format!(
                "@group(0) @binding({}) var<storage, {access}> {}: array<{}>;\n",
                k + 1,
                a.name,
                a.declared()
            );
        }
        for a in &self.arrays {
            let served_by = match self.in_place {
                Some((input, output)) if input == a.name => output,
                _ => a.name,
            };
            let k = slot(served_by).expect("an in-place input is served by a bound array");
            let from = bound[k];
            let index = format!("{offsets}[{}][{}] + i", k / 4, k % 4);
            out += &format!(
                "fn ld_{}(i: u32) -> {} {{ {} }}\n",
                a.name,
                a.elem,
                a.load(&from, &index)
            );
            if a.access == Access::ReadWrite {
                out += &format!(
                    "fn st_{}(i: u32, v: {}) {{ {} }}\n",
                    a.name,
                    a.elem,
                    a.store_body(&from, &index)
                );
            }
        }
        out
    }
}

/// Everything a pipeline is compiled from: its WGSL (without the storage arrays), entry
/// point and arrays.
pub(crate) struct KernelSource {
    pub label: String,
    pub entry: &'static str,
    pub arrays: Arrays,
    /// Constants, common helpers, the params struct and the kernel body.
    pub body: String,
}

impl KernelSource {
    /// The complete WGSL module.
    pub(crate) fn wgsl(&self) -> String {
        let enable = if self.arrays.native_f16() {
            "enable f16;\n"
        } else {
            ""
        };
        format!("{enable}{}\n{}", self.body, self.arrays.wgsl())
    }
}

/// A compiled pipeline with the bind-group layout its dispatches need.
pub(crate) struct CompiledKernel {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
    pub label: String,
    /// Bound storage arrays, in binding order.
    pub arrays: Vec<Array>,
}

impl std::fmt::Debug for CompiledKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledKernel")
            .field("label", &self.label)
            .finish()
    }
}

/// What a kernel family keys its pipelines by: its own typed spec (`ElementwiseKernel`,
/// `PreluKernelKey`, `SoftmaxKernelKey`, ...), holding only what changes the generated code
/// (never parameters or sizes, which live in uniforms). The cache keeps one map per key type,
/// so this module and `Gpu` need not know the families (no import cycle).
pub(crate) trait KernelKey: Copy + Eq + Hash + Send + Sync + 'static {}
impl<T: Copy + Eq + Hash + Send + Sync + 'static> KernelKey for T {}

/// A compiled kernel as the pipeline cache hands it out (shared, cheap to clone).
pub(crate) type SharedKernel = Arc<CompiledKernel>;

/// What a Rust uniform struct says about its layout, for comparing with the WGSL struct
/// of `wgsl_name` that naga reflects (`tests` in `src/uniform_layout.rs`).
#[cfg(test)]
pub(crate) struct UniformLayout {
    pub wgsl_name: &'static str,
    pub rust_name: &'static str,
    pub size: usize,
    /// Whether the WGSL struct ends with the dispatcher's `off` block ([`OFFSETS_BYTES`]).
    pub with_offsets: bool,
    pub members: Vec<(&'static str, usize)>,
}

/// `uniform_layout!("WgslName", RustType { field, ... }, with_offsets)`: the size and the
/// named fields' offsets of a `#[repr(C)]` uniform struct, through `std::mem::offset_of!`.
#[cfg(test)]
macro_rules! uniform_layout {
    ($wgsl:literal, $ty:ident { $($field:ident),* $(,)? }, $with_offsets:expr) => {
        $crate::kernel::UniformLayout {
            wgsl_name: $wgsl,
            rust_name: stringify!($ty),
            size: std::mem::size_of::<$ty>(),
            with_offsets: $with_offsets,
            members: vec![$((stringify!($field), std::mem::offset_of!($ty, $field))),*],
        }
    };
}
#[cfg(test)]
pub(crate) use uniform_layout;

/// The grid-stride loop (`shaders/grid_stride.wgsl`) with its entry point named `entry`: the
/// kernel body before it defines `grid_units()` and `grid_step(i)`.
pub(crate) fn grid_stride(entry: &str) -> String {
    include_str!("../shaders/grid_stride.wgsl")
        .replace("fn grid_stride_entry(", &format!("fn {entry}("))
}

/// Workgroup size of the grid-stride kernels.
pub(crate) const GRID_STRIDE_WG: u32 = 256;

/// A 2-D grid of at least `total` workgroups, at most `per_dim` along each dimension: the
/// kernels number workgroups `x + y * groups_x` and skip those past their work.
///
/// # Errors
/// [`crate::Error::TooLarge`] naming `what` when `total` exceeds `per_dim^2`.
pub(crate) fn grid(total: u64, per_dim: u32, what: &'static str) -> crate::Result<[u32; 3]> {
    let max = per_dim.max(1) as u64;
    let x = total.min(max);
    let y = total.div_ceil(x.max(1));
    if y > max {
        return Err(crate::Error::TooLarge {
            what,
            bytes: total,
            max: max * max,
        });
    }
    Ok([x as u32, y.max(1) as u32, 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_fold_into_a_second_dimension_and_refuse_what_two_cannot_hold() {
        assert_eq!(grid(10, 65535, "t").unwrap(), [10, 1, 1]);
        assert_eq!(grid(65536, 65535, "t").unwrap(), [65535, 2, 1]);
        assert_eq!(grid(0, 7, "t").unwrap(), [0, 1, 1]);
        assert!(grid(50, 7, "t").is_err());
    }

    #[test]
    fn an_in_place_variant_drops_the_input_binding_and_reads_the_output() {
        let arrays = Arrays::new(vec![
            Array::read("x", "f32"),
            Array::read("dy", "f32"),
            Array::write("dx", "f32"),
        ]);
        assert_eq!(arrays.counts(), (2, 1));
        let in_place = arrays.clone().in_place("dy", "dx");
        assert_eq!(in_place.counts(), (1, 1));
        let src = in_place.wgsl();
        assert!(src.contains("@binding(1) var<storage, read> x"));
        assert!(src.contains("@binding(2) var<storage, read_write> dx"));
        assert!(!src.contains("var<storage, read> dy"));
        assert!(src.contains("fn ld_dy(i: u32) -> f32 { return dx[params.off[0][1] + i]; }"));
        assert!(src.contains("fn st_dx(i: u32, v: f32) { dx[params.off[0][1] + i] = v; }"));
    }

    #[test]
    fn hoisted_accessors_read_a_private_copy_of_the_offsets_loaded_once() {
        let arrays = Arrays::new(vec![Array::read("x", "f32"), Array::write("y", "f32")]);
        assert!(!arrays.wgsl().contains("wgact_off"));
        let src = arrays.in_place("x", "y").hoisted_offsets().wgsl();
        assert!(src.contains("fn wgact_load_offsets() { wgact_off = params.off; }"));
        assert!(src.contains("fn ld_x(i: u32) -> f32 { return y[wgact_off[0][0] + i]; }"));
        assert!(src.contains("fn st_y(i: u32, v: f32) { y[wgact_off[0][0] + i] = v; }"));
        assert!(!src.contains("params.off[0]"));
    }

    #[test]
    fn packed_halves_are_read_plainly_and_written_half_by_half_through_atomics() {
        let arrays = Arrays::new(vec![
            Array::read("x", "f32").stored(Store::F16Packed),
            Array::write("y", "f32").stored(Store::F16Packed),
        ]);
        let src = arrays.clone().wgsl();
        assert!(src.contains("var<storage, read> x: array<u32>;"));
        assert!(src.contains("var<storage, read_write> y: array<atomic<u32>>;"));
        assert!(src.contains("atomicAnd(&y[e >> 1u], ~(0xffffu << shift))"));
        assert!(src.contains("atomicOr(&y[e >> 1u], wgact_f32_to_half(v) << shift)"));
        // In place, the input reads the written array atomically.
        let in_place = arrays.in_place("x", "y").wgsl();
        assert!(in_place.contains("fn ld_x(i: u32) -> f32 { let e = params.off[0][0] + i; return wgact_half_to_f32((atomicLoad(&y[e >> 1u])"));
        // vec4 units own whole word pairs: plain stores.
        let v = Arrays::new(vec![Array::write("y", "vec4<f32>").stored(Store::F16Packed)]).wgsl();
        assert!(
            v.contains("array<vec2<u32>>")
                && v.contains("y[params.off[0][0] + i] = wgact_pack_halves4(v);")
        );
    }

    #[test]
    fn native_halves_need_enable_f16_and_round_exactly_on_store() {
        let source = KernelSource {
            label: "t".into(),
            entry: "main",
            arrays: Arrays::new(vec![
                Array::write("y", "vec4<f32>").stored(Store::F16Native),
                Array::write("z", "f32").stored(Store::F16Native),
            ]),
            body: String::new(),
        };
        let src = source.wgsl();
        assert!(src.starts_with("enable f16;"));
        assert!(src.contains("z: array<f16>"));
        assert!(src.contains("= f16(wgact_round_half(v))"));
        // vec4 units: word pairs, rounded and packed exactly in software.
        assert!(src.contains("y: array<vec2<u32>>"));
        assert!(src.contains("= wgact_pack_halves4(v);"));
        assert!(src.contains("return wgact_unpack_halves4(y["));
        let f32_only = KernelSource {
            arrays: Arrays::new(vec![Array::write("y", "f32")]),
            ..source
        };
        assert!(!f32_only.wgsl().contains("enable f16"));
    }
}
