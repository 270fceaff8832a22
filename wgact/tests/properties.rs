//! Randomised GPU-vs-CPU properties: random shapes, parameters in each layer's valid range
//! and inputs mixed with special values. `PROPTEST_CASES=N` runs longer; failures are
//! shrunk and saved under `tests/properties.proptest-regressions`.

mod common;

use proptest::prelude::*;
use wgact::check::{check_elementwise_on, special_values};
use wgact::check::{prelu, softmax};
use wgpu_activations::{Direction, Elementwise, LeakyReLU, ReLU, Softmax, ThresholdedReLU, ELU};

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

/// Ranks 2-5 (softmax rejects rank 1), at most 2^14 elements.
fn shapes_rank_2_to_5() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=300, 2..=5).prop_filter("at most 2^14 elements", |s| {
        s.iter().product::<usize>() <= 1 << 14
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn softmax_matches_the_cpu_reference_on_random_shapes_axes_inputs_and_masks(
        (shape, axis, x, mask) in shapes_rank_2_to_5().prop_flat_map(|shape| {
            let n = shape.iter().product::<usize>();
            let rank = shape.len() as i64;
            (
                Just(shape),
                -rank..rank,
                prop::collection::vec(value(), n),
                prop::option::of(prop::collection::vec(prop_oneof![Just(0.0f32), Just(1.0f32)], n)),
            )
        }),
        seed in any::<u64>(),
    ) {
        let Some(gpu) = common::gpu() else { return Ok(()) };
        let layer = Softmax::new(axis).unwrap();
        for row in softmax::check_case(gpu, &layer, &x, mask.as_deref(), &shape, seed).unwrap() {
            prop_assert!(row.outcome.is_ok(), "{} {} {:?}: {}", row.op, row.direction.name(), shape, row.outcome.unwrap_err());
        }
    }

    #[test]
    fn prelu_matches_the_cpu_reference_on_random_shapes_and_shared_axes(
        (shape, shared) in shapes_rank_2_to_5().prop_flat_map(|shape| {
            let rank = shape.len();
            (Just(shape), prop::option::of(prop::sample::subsequence((1..rank).collect::<Vec<_>>(), 0..rank)))
        }),
        seed in any::<u64>(),
    ) {
        let Some(gpu) = common::gpu() else { return Ok(()) };
        for row in prelu::check_preset(gpu, &shape, shared.clone(), seed).unwrap() {
            prop_assert!(row.outcome.is_ok(), "{} {} {:?}: {}", row.op, row.direction.name(), shape, row.outcome.unwrap_err());
        }
    }
}
