//! Randomised GPU-vs-CPU properties: random shapes, parameters in each layer's valid range
//! and inputs mixed with special values. `PROPTEST_CASES=N` runs longer; failures are
//! shrunk and saved under `tests/properties.proptest-regressions`.

mod common;

use proptest::prelude::*;
use wgpu_activations::check::{check_elementwise_on, special_values};
use wgpu_activations::{Direction, Elementwise, LeakyReLU, ReLU, ThresholdedReLU, ELU};

/// Ranks 1-5, dims 1-300, at most 2^16 elements (lavapipe is slow).
fn shapes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=300, 1..=5).prop_filter("at most 2^16 elements", |s| {
        s.iter().product::<usize>() <= 1 << 16
    })
}

fn value() -> impl Strategy<Value = f32> {
    let specials = special_values();
    prop_oneof![
        6 => -8.0f32..8.0,
        2 => any::<f32>(),
        2 => prop::sample::select(specials),
    ]
}

fn elementwise_op() -> impl Strategy<Value = Elementwise> {
    let slope = prop_oneof![Just(0.0f32), 0.0f32..2.0];
    prop_oneof![
        (-3.0f32..3.0).prop_map(|a| LeakyReLU::new(a).unwrap().into()),
        (-3.0f32..3.0).prop_map(|a| ELU::new(a).unwrap().into()),
        (0.0f32..5.0).prop_map(|t| ThresholdedReLU::new(t).unwrap().into()),
        (
            prop::option::of(prop_oneof![Just(6.0f32), 0.0f32..8.0]),
            slope,
            prop_oneof![Just(0.0f32), 0.0f32..3.0]
        )
            .prop_map(|(mv, ns, th)| ReLU::new(mv, ns, th).unwrap().into()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_elementwise_op_matches_the_cpu_reference_on_random_shapes_parameters_and_inputs(
        op in elementwise_op(),
        (shape, x, dy) in shapes().prop_flat_map(|shape| {
            let n = shape.iter().product::<usize>();
            (Just(shape), prop::collection::vec(value(), n), prop::collection::vec(-1.0f32..1.0, n))
        }),
    ) {
        let Some(gpu) = common::gpu() else { return Ok(()) };
        for direction in Direction::ALL {
            let row = check_elementwise_on(gpu, &op, direction, &x, &dy, &shape).unwrap();
            prop_assert!(row.outcome.is_ok(), "{} {} {:?}: {}", row.op, direction.name(), shape, row.outcome.unwrap_err());
        }
    }
}
