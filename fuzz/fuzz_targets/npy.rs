//! `.npy` bytes: the header checks, npyz, the element types and shapes.
//! Nothing may panic, and no allocation may exceed what the bytes hold.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = picojoule::npy::read_from(
        std::io::Cursor::new(data),
        data.len() as u64,
        std::path::Path::new("fuzz.npy"),
    );
});
