//! Parameter validation as Keras does it: same conditions, same meaning of the message.
//! No GPU needed.

use wgpu_activations::{Error, LeakyReLU, ReLU, ThresholdedReLU, ELU};

fn rejected(result: Result<impl std::fmt::Debug, Error>, name: &str) -> String {
    match result {
        Err(e @ Error::InvalidParameter { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains(name),
                "message must name {name}: {message}"
            );
            message
        }
        other => panic!("expected InvalidParameter for {name}, got {other:?}"),
    }
}

#[test]
fn negative_relu_parameters_are_rejected_as_keras_rejects_them() {
    let m = rejected(ReLU::new(Some(-1.0), 0.0, 0.0), "max_value");
    assert!(
        m.contains("cannot be a negative value") && m.contains("-1"),
        "{m}"
    );
    rejected(ReLU::new(None, -0.1, 0.0), "negative_slope");
    rejected(ReLU::new(None, 0.0, -0.5), "threshold");
}

#[test]
fn negative_theta_is_rejected() {
    let m = rejected(ThresholdedReLU::new(-1.0), "theta");
    assert!(m.contains("-1"), "{m}");
}

#[test]
fn nan_and_infinite_parameters_are_rejected() {
    rejected(LeakyReLU::new(f32::NAN), "alpha");
    rejected(ELU::new(f32::INFINITY), "alpha");
    rejected(ThresholdedReLU::new(f32::NAN), "theta");
    rejected(ReLU::new(Some(f32::INFINITY), 0.0, 0.0), "max_value");
    rejected(ReLU::new(None, f32::NAN, 0.0), "negative_slope");
    rejected(ReLU::new(None, 0.0, f32::NEG_INFINITY), "threshold");
}

#[test]
fn keras_accepts_negative_alphas_zero_max_value_and_max_value_below_threshold() {
    assert_eq!(LeakyReLU::new(-1.0).unwrap().alpha(), -1.0);
    assert_eq!(ELU::new(-1.0).unwrap().alpha(), -1.0);
    assert_eq!(ELU::new(0.0).unwrap().alpha(), 0.0);
    assert_eq!(
        ReLU::new(Some(0.0), 0.0, 0.0).unwrap().max_value(),
        Some(0.0)
    );
    assert!(ReLU::new(Some(0.25), 0.0, 0.5).is_ok());
    assert!(ReLU::new(None, 1.5, 0.0).is_ok());
}

#[test]
fn defaults_are_the_keras_defaults() {
    assert_eq!(LeakyReLU::default().alpha(), 0.3);
    assert_eq!(ELU::default().alpha(), 1.0);
    assert_eq!(ThresholdedReLU::default().theta(), 1.0);
    let relu = ReLU::default();
    assert_eq!(
        (relu.max_value(), relu.negative_slope(), relu.threshold()),
        (None, 0.0, 0.0)
    );
}
