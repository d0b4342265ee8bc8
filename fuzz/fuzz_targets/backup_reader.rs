//! What `anklume-backup` reads from a file it did not write: content sniffing, OpenPGP packet
//! framing (recipients), decompression, the tar walk and `index.yaml`. Any input gives a value
//! or an error, never a panic or a hang; a checked stream never releases more than it got.
#![no_main]

use std::io::Read;

use anklume_backup::archive::{self, Checked, Packing};
use anklume_backup::crypto;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = crypto::looks_encrypted(data);
    let _ = crypto::recipients_of(data);
    let Some(packing) = Packing::sniff(data) else {
        return;
    };
    let _ = archive::walk(data, packing);
    let _ = archive::index_then_stream(data, packing, 1 << 20);
    let mut released = Vec::new();
    if Checked::new(data, packing).read_to_end(&mut released).is_ok() {
        assert_eq!(released, data, "a sound archive goes through unchanged");
    }
});
