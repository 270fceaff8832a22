//! Which pass of a layer runs: shared by every family, the pipeline keys and the tooling.

/// Forward (`y` from `x`) or backward (`dx` from `x` or `y` and the upstream gradient `dy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    Forward,
    Backward,
}

impl Direction {
    pub const ALL: [Direction; 2] = [Direction::Forward, Direction::Backward];

    /// `"fwd"` or `"bwd"`, as kernel labels and `wgact` output name it.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Forward => "fwd",
            Direction::Backward => "bwd",
        }
    }
}
