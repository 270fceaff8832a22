//! Every WGSL source the crate compiles parses and validates with naga: no GPU needed.

use naga::valid::{Capabilities, ValidationFlags, Validator};

#[test]
fn every_shader_source_parses_and_validates_with_naga() {
    let sources = wgpu_activations::shader_sources();
    assert!(
        sources.len() >= 8,
        "expected every op and direction, got {}",
        sources.len()
    );
    let mut failures = Vec::new();
    for (label, source) in &sources {
        match naga::front::wgsl::parse_str(source) {
            Err(e) => failures.push(format!("{label}: parse: {}", e.emit_to_string(source))),
            Ok(module) => {
                if let Err(e) =
                    Validator::new(ValidationFlags::all(), Capabilities::all()).validate(&module)
                {
                    failures.push(format!("{label}: validate: {}", e.emit_to_string(source)));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_shader_file_opens_with_a_comment_stating_its_contract() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut files = 0;
    for entry in std::fs::read_dir(dir).expect("shaders/ exists") {
        let path = entry.expect("readable entry").path();
        if path.extension().is_some_and(|e| e == "wgsl") {
            files += 1;
            let text = std::fs::read_to_string(&path).expect("readable shader");
            assert!(
                text.starts_with("//"),
                "{} must open with a comment",
                path.display()
            );
        }
    }
    assert!(files >= 7, "found only {files} shader files");
}

#[test]
fn a_broken_shader_is_rejected_by_naga() {
    // The validation above must be able to fail: an op file with a type error.
    let original = &wgpu_activations::shader_sources()[0].1;
    let source = original.replace("return wgact_relu4(x);", "return 1.0;");
    assert_ne!(&source, original, "the first source is LeakyReLU forward");
    let parsed = naga::front::wgsl::parse_str(&source);
    let valid = parsed.as_ref().ok().map(|m| {
        Validator::new(ValidationFlags::all(), Capabilities::all())
            .validate(m)
            .is_ok()
    });
    assert_ne!(
        valid,
        Some(true),
        "a function returning f32 for vec4<f32> must not validate"
    );
}
