//! Timing of GPU kernels: not yet implemented.
