//! Images in and out of arrays, through the `image` crate: PNG and JPEG
//! in, PNG out. Grayscale pictures become `f32[H, W]`, colour pictures
//! `f32[H, W, 3]` (alpha is dropped), with values in [0, 1].

use anyhow::{Context, Result, anyhow, bail};
use pj_compiler::dialects::arith::Scalar;
use pj_compiler::interp::Tensor;
use pj_compiler::ir::ScalarType;
use std::path::Path;

/// Whether `path` names an image this module reads or writes.
pub fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
}

/// Reads a PNG or JPEG file.
pub fn read(path: &Path) -> Result<Tensor> {
    let img = image::ImageReader::open(path)
        .with_context(|| format!("cannot read `{}`", path.display()))?
        .with_guessed_format()
        .with_context(|| format!("cannot read `{}`", path.display()))?
        .decode()
        .map_err(|e| anyhow!("`{}` is not an image this build reads: {e}", path.display()))?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    if img.color().has_color() {
        let rgb = img.into_rgb32f();
        let data = rgb.into_raw().into_iter().map(Scalar::F32).collect();
        Ok(Tensor::new(ScalarType::F32, vec![h, w, 3], data))
    } else {
        let gray = img.to_luma32f();
        let data = gray.into_raw().into_iter().map(Scalar::F32).collect();
        Ok(Tensor::new(ScalarType::F32, vec![h, w], data))
    }
}

/// The 8-bit PNG of a 2-D (grayscale) or `H x W x 3` (colour) array:
/// floats are taken as [0, 1] (clamped, NaN as 0), integers as 0..=255
/// (clamped).
pub fn encode_png(t: &Tensor) -> Result<Vec<u8>> {
    let (h, w, channels) = match t.shape[..] {
        [h, w] => (h, w, 1),
        [h, w, 3] => (h, w, 3),
        _ => bail!(
            "an image needs 2 dims (grayscale) or H x W x 3 (colour); this array is {}{:?}",
            t.elem,
            t.shape
        ),
    };
    if h == 0 || w == 0 {
        bail!(
            "an image needs at least one pixel; this array is {:?}",
            t.shape
        );
    }
    let (Ok(h32), Ok(w32)) = (u32::try_from(h), u32::try_from(w)) else {
        bail!("{h} x {w} is too large for a PNG");
    };
    let float = t.elem.is_float();
    let bytes: Vec<u8> = t
        .data
        .iter()
        .map(|s| {
            let v = s.as_f64();
            let v = if float { v * 255.0 } else { v };
            if v.is_nan() {
                0
            } else {
                v.round().clamp(0.0, 255.0) as u8
            }
        })
        .collect();
    let mut out = Vec::new();
    let encoder = image::codecs::png::PngEncoder::new(&mut out);
    let color = if channels == 1 {
        image::ExtendedColorType::L8
    } else {
        image::ExtendedColorType::Rgb8
    };
    image::ImageEncoder::write_image(encoder, &bytes, w32, h32, color)
        .map_err(|e| anyhow!("cannot encode the PNG: {e}"))?;
    Ok(out)
}

/// Writes `t` as a PNG (whole or not at all).
pub fn write_png(path: &Path, t: &Tensor) -> Result<()> {
    let bytes = encode_png(t)?;
    crate::write_atomic(&[(path, &bytes)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trips_gray_and_colour() {
        let dir = tempfile::tempdir().unwrap();
        let gray = Tensor::new(
            ScalarType::F32,
            vec![2, 3],
            [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
                .into_iter()
                .map(Scalar::F32)
                .collect(),
        );
        let p = dir.path().join("g.png");
        write_png(&p, &gray).unwrap();
        let back = read(&p).unwrap();
        assert_eq!(back.shape, vec![2, 3]);
        for (a, b) in back.data.iter().zip(&gray.data) {
            assert!((a.as_f64() - b.as_f64()).abs() <= 0.5 / 255.0 + 1e-6);
        }
        let colour = Tensor::new(
            ScalarType::U8,
            vec![1, 2, 3],
            [255u8, 0, 0, 0, 0, 255]
                .into_iter()
                .map(Scalar::U8)
                .collect(),
        );
        let p = dir.path().join("c.png");
        write_png(&p, &colour).unwrap();
        let back = read(&p).unwrap();
        assert_eq!(back.shape, vec![1, 2, 3]);
        assert_eq!(back.data[0], Scalar::F32(1.0));
        assert_eq!(back.data[5], Scalar::F32(1.0));
        assert_eq!(back.data[1], Scalar::F32(0.0));
    }

    #[test]
    fn jpeg_reads_as_colour_or_gray() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.jpg");
        let mut bytes = Vec::new();
        let rgb: Vec<u8> = (0..8 * 4 * 3).map(|i| (i * 7 % 256) as u8).collect();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90)
            .encode(&rgb, 8, 4, image::ExtendedColorType::Rgb8)
            .unwrap();
        std::fs::write(&p, &bytes).unwrap();
        let t = read(&p).unwrap();
        assert_eq!((t.elem, t.shape.clone()), (ScalarType::F32, vec![4, 8, 3]));
        assert!(t.data.iter().all(|s| (0.0..=1.0).contains(&s.as_f64())));
        let p = dir.path().join("g.jpeg");
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90)
            .encode(&[10u8; 6 * 5], 6, 5, image::ExtendedColorType::L8)
            .unwrap();
        std::fs::write(&p, &bytes).unwrap();
        assert_eq!(read(&p).unwrap().shape, vec![5, 6]);
    }

    #[test]
    fn bad_shapes_and_files_are_errors() {
        let t = Tensor::new(ScalarType::F32, vec![4], vec![Scalar::F32(0.0); 4]);
        let e = encode_png(&t).unwrap_err().to_string();
        assert!(e.contains("needs 2 dims"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("not.png");
        std::fs::write(&p, b"hello").unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("is not an image"), "{e}");
        let e = read(&dir.path().join("missing.png"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read"), "{e}");
    }
}
