//! The WGSL uniform structs and their Rust `#[repr(C)]` mirrors are written twice; this test
//! reflects every params struct of every compiled source with naga and checks that each named
//! member sits at the offset `std::mem::offset_of!` gives, and that the WGSL struct is the Rust
//! struct plus the dispatcher's `off` block ([`crate::kernel::OFFSETS_BYTES`]).

use std::collections::BTreeMap;

use crate::kernel::{UniformLayout, OFFSETS_BYTES};

/// Every Rust uniform struct with the WGSL struct it mirrors.
fn rust_layouts() -> Vec<UniformLayout> {
    let mut all = crate::elementwise::uniform_layouts();
    all.extend(crate::prelu::uniform_layouts());
    all.extend(crate::softmax::uniform_layouts());
    all.extend(crate::fill::uniform_layouts());
    all
}

/// A WGSL struct as naga lays it out: its span and `(member, offset)`.
#[derive(Debug, PartialEq)]
struct WgslLayout {
    span: u32,
    members: Vec<(String, u32)>,
}

/// Every struct named `wanted` in every source, by name, with the first source that has it;
/// panics if two sources lay the same struct out differently.
fn reflected(wanted: &[&str]) -> BTreeMap<String, (String, WgslLayout)> {
    let mut found: BTreeMap<String, (String, WgslLayout)> = BTreeMap::new();
    for (label, source) in crate::shader_sources() {
        let module = naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{label}: {}", e.emit_to_string(&source)));
        for (_, ty) in module.types.iter() {
            let (Some(name), naga::TypeInner::Struct { members, span }) = (&ty.name, &ty.inner)
            else {
                continue;
            };
            if !wanted.contains(&name.as_str()) {
                continue;
            }
            let layout = WgslLayout {
                span: *span,
                members: members
                    .iter()
                    .map(|m| (m.name.clone().unwrap_or_default(), m.offset))
                    .collect(),
            };
            match found.get(name) {
                Some((first, known)) => assert_eq!(
                    known, &layout,
                    "{name} is laid out differently in {first} and {label}"
                ),
                None => {
                    found.insert(name.clone(), (label.clone(), layout));
                }
            }
        }
    }
    found
}

/// What differs between a Rust layout and the reflected WGSL struct; empty when they agree.
fn mismatches(rust: &UniformLayout, label: &str, w: &WgslLayout) -> Vec<String> {
    let mut out = Vec::new();
    let name = rust.wgsl_name;
    let expected_span = rust.size + if rust.with_offsets { OFFSETS_BYTES } else { 0 };
    if w.span as usize != expected_span {
        out.push(format!(
            "{name} ({label}) is {} bytes; Rust {} is {} (+{OFFSETS_BYTES} of offsets: {})",
            w.span, rust.rust_name, rust.size, rust.with_offsets
        ));
    }
    for (member, offset) in &w.members {
        if member.starts_with("_pad") {
            continue;
        }
        if rust.with_offsets && member == "off" {
            if *offset as usize != rust.size {
                out.push(format!(
                    "{name}.off ({label}) at {offset}, not after the Rust struct"
                ));
            }
            continue;
        }
        match rust.members.iter().find(|(n, _)| n == member) {
            None => out.push(format!("{name}.{member} ({label}) has no Rust field")),
            Some(&(_, at)) if at != *offset as usize => out.push(format!(
                "{name}.{member}: WGSL offset {offset} ({label}), Rust {}.{member} at {at}",
                rust.rust_name
            )),
            Some(_) => {}
        }
    }
    for (field, _) in &rust.members {
        if !w.members.iter().any(|(n, _)| n == field) {
            out.push(format!(
                "Rust {}.{field} has no WGSL member in {name}",
                rust.rust_name
            ));
        }
    }
    out
}

#[test]
fn every_wgsl_params_struct_matches_its_rust_mirror_member_by_member() {
    let layouts = rust_layouts();
    let names: Vec<&str> = layouts.iter().map(|l| l.wgsl_name).collect();
    let wgsl = reflected(&names);
    let mut problems = Vec::new();
    for rust in &layouts {
        match wgsl.get(rust.wgsl_name) {
            None => problems.push(format!("no compiled source declares {}", rust.wgsl_name)),
            Some((label, w)) => problems.extend(mismatches(rust, label, w)),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_moved_or_missing_member_is_reported() {
    // The comparison must be able to fail.
    let wgsl = reflected(&["ElementwiseParams"]);
    let (label, w) = &wgsl["ElementwiseParams"];
    let fresh = || {
        rust_layouts()
            .into_iter()
            .find(|l| l.wgsl_name == "ElementwiseParams")
            .expect("ElementwiseParams is mirrored")
    };
    assert!(mismatches(&fresh(), label, w).is_empty());
    let mut moved = fresh();
    moved.members.iter_mut().for_each(|m| m.1 += 4);
    assert_eq!(
        mismatches(&moved, label, w).len(),
        3,
        "n, block and act moved"
    );
    let mut grown = fresh();
    grown.size += 16;
    assert_eq!(mismatches(&grown, label, w).len(), 2, "size and off");
    let mut missing = fresh();
    missing.members.retain(|m| m.0 != "act");
    assert_eq!(
        mismatches(&missing, label, w).len(),
        1,
        "act has no Rust field"
    );
}
