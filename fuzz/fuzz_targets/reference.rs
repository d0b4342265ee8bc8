//! `[remote:]instance[:/path]` references and project names: any input gives a value or an
//! error, never a panic, and what parses prints back to itself.
#![no_main]

use anklume_common::reference::check_project_name;
use anklume_common::{InstanceRef, PathRef};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    if let Ok(reference) = input.parse::<PathRef>() {
        let again: PathRef = reference.to_string().parse().expect("a printed reference parses");
        assert_eq!(again, reference);
    }
    if let Ok(instance) = input.parse::<InstanceRef>() {
        let again: InstanceRef = instance.to_string().parse().expect("a printed instance parses");
        assert_eq!(again, instance);
    }
    let _ = check_project_name(input);
});
