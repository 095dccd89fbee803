//! Blurs a generated image with a kernel that build.rs compiled ahead of
//! time, through the C ABI and the runtime's safe `Buffer`.
//!
//! `cargo run -p pj-example-aot-rust`; `cargo test` runs the same check.

use pj_runtime::{Buffer, ElemType, PjBuffer};

unsafe extern "C" {
    fn blur(input: *const PjBuffer, out: *const PjBuffer) -> i32;
    fn blur_shape(input: *const PjBuffer, shape: *const PjBuffer) -> i32;
}

fn f32_buffer(shape: &[usize], values: &[f32]) -> Buffer {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    Buffer::from_bytes(ElemType::F32, shape, &bytes).expect("a valid buffer")
}

fn f32s(b: &Buffer) -> Vec<f32> {
    b.bytes()
        .chunks(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Blurs `img` (h x w) with the AOT kernel.
pub fn run_blur(h: usize, w: usize, img: &[f32]) -> Result<Vec<f32>, String> {
    let mut input = f32_buffer(&[h, w], img);
    let mut shape = Buffer::zeros(ElemType::I64, &[2]).expect("small");
    // SAFETY: descriptors of live buffers of the types the kernel expects.
    let st = unsafe { blur_shape(input.descriptor(), shape.descriptor()) };
    if st != 0 {
        return Err(pj_runtime::error::last_error().unwrap_or_default());
    }
    let dims: Vec<usize> = shape
        .bytes()
        .chunks(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as usize)
        .collect();
    let mut out = Buffer::zeros(ElemType::F32, &dims).map_err(|e| format!("{e:?}"))?;
    // SAFETY: as above; `out` has the shape the kernel asked for.
    let st = unsafe { blur(input.descriptor(), out.descriptor()) };
    if st != 0 {
        return Err(pj_runtime::error::last_error().unwrap_or_default());
    }
    Ok(f32s(&out))
}

/// The same blur in plain Rust, to check against.
pub fn reference_blur(h: usize, w: usize, img: &[f32]) -> Vec<f32> {
    let at = |y: i64, x: i64| {
        img[(y.clamp(0, h as i64 - 1) as usize) * w + x.clamp(0, w as i64 - 1) as usize]
    };
    let bx = |y: i64, x: i64| (at(y, x - 1) + at(y, x) + at(y, x + 1)) / 3.0;
    let mut out = Vec::with_capacity(h * w);
    for y in 0..h as i64 {
        for x in 0..w as i64 {
            out.push((bx(y - 1, x) + bx(y, x) + bx(y + 1, x)) / 3.0);
        }
    }
    out
}

fn main() {
    let (h, w) = (48, 64);
    let img: Vec<f32> = (0..h * w)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
        .collect();
    let out = run_blur(h, w, &img).expect("blur runs");
    assert_eq!(out, reference_blur(h, w, &img));
    println!(
        "blur {h}x{w} via the AOT kernel: ok (mean {:.4})",
        out.iter().sum::<f32>() / out.len() as f32
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_aot_kernel_matches_plain_rust() {
        for (h, w) in [(1, 1), (7, 33), (48, 64)] {
            let img: Vec<f32> = (0..h * w).map(|i| ((i * 31) % 97) as f32 / 97.0).collect();
            assert_eq!(
                run_blur(h, w, &img).unwrap(),
                reference_blur(h, w, &img),
                "{h}x{w}"
            );
        }
    }
}
