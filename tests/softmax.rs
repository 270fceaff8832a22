//! Softmax: GPU against the CPU reference and TensorFlow's vectors, for every strategy and axis.

mod common;

use wgpu_activations::reference::{softmax_backward, softmax_forward};
use wgpu_activations::softmax::{self as sm, Softmax};
use wgpu_activations::Tensor;

#[test]
fn smoke() {
    let gpu = require_gpu!();
    for (shape, axis) in [
        (vec![3usize, 7], -1i64),
        (vec![3, 5000], -1),
        (vec![4, 5, 6], 1),
        (vec![2, 5000, 3], 1),
    ] {
        let n: usize = shape.iter().product();
        let x = sm::logits(n, 8.0, 1);
        let layer = Softmax::new(axis).unwrap();
        let xt = Tensor::from_slice(gpu, &x, &shape).unwrap();
        let y = layer.forward(gpu, &xt).unwrap().to_vec(gpu).unwrap();
        let r = softmax_forward(&x, &shape, axis, None).unwrap();
        println!("{shape:?} {:?}", sm::compare_y(&y, &r));
        let dy = sm::upstream(n, 1);
        let yt = Tensor::from_slice(gpu, &r, &shape).unwrap();
        let dyt = Tensor::from_slice(gpu, &dy, &shape).unwrap();
        let dx = layer.backward(gpu, &yt, &dyt).unwrap().to_vec(gpu).unwrap();
        let dr = softmax_backward(&r, &dy, &shape, axis, None).unwrap();
        println!(
            "{shape:?} {:?}",
            sm::compare_dx(&dx, &dr, &dy, &shape, axis)
        );
    }
}
