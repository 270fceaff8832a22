//! The element types a tensor may hold.

/// Element type of a tensor; part of every tensor and of every pipeline key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    /// IEEE binary16, two bytes per element. Stored as native `f16` where the device has
    /// `SHADER_F16`, and as halves packed two to a `u32` otherwise, with the same bits.
    F16,
}

impl DType {
    pub const ALL: [DType; 2] = [DType::F32, DType::F16];
    pub fn size_bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F16 => 2,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
        }
    }
}
