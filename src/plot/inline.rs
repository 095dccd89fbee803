//! Pictures shown in the terminal itself, where it can: kitty's graphics
//! protocol (kitty, and terminals that speak it) or iTerm2's inline images
//! (iTerm2, WezTerm). Elsewhere nothing is sent — the picture is a file
//! and the REPL draws bars or braille instead.

use anyhow::{Result, anyhow};
use std::sync::OnceLock;

/// How the terminal takes an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `ESC _G f=100,a=T,m=..; <base64 PNG> ESC \`, in chunks of 4096.
    Kitty,
    /// `ESC ]1337;File=inline=1;size=N:<base64> BEL`.
    Iterm2,
}

/// The protocol the terminal on standard output speaks, from what it says
/// of itself (`TERM`, `KITTY_WINDOW_ID`, `TERM_PROGRAM`); none when
/// standard output is not a terminal.
pub fn detect() -> Option<Protocol> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    let term = std::env::var("TERM").unwrap_or_default();
    let program = std::env::var("TERM_PROGRAM").unwrap_or_default();
    if term.contains("kitty") || std::env::var_os("KITTY_WINDOW_ID").is_some() {
        Some(Protocol::Kitty)
    } else if program == "iTerm.app" || program == "WezTerm" {
        Some(Protocol::Iterm2)
    } else {
        None
    }
}

/// The escape sequence that shows `png` in a terminal speaking `protocol`,
/// ending with a newline.
pub fn sequence(protocol: Protocol, png: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(png);
    match protocol {
        Protocol::Kitty => {
            // chunks of at most 4096 base64 bytes; m=1 while more follow
            let chunks: Vec<&str> = b64
                .as_bytes()
                .chunks(4096)
                .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
                .collect();
            let mut s = String::new();
            for (i, c) in chunks.iter().enumerate() {
                let more = u8::from(i + 1 < chunks.len());
                if i == 0 {
                    s += &format!("\x1b_Gf=100,a=T,m={more};{c}\x1b\\");
                } else {
                    s += &format!("\x1b_Gm={more};{c}\x1b\\");
                }
            }
            s + "\n"
        }
        Protocol::Iterm2 => format!("\x1b]1337;File=inline=1;size={}:{b64}\x07\n", png.len()),
    }
}

/// `svg` (one of this module's pictures) as a PNG at `scale` times its
/// size, text in the system's fonts (found once per process; where there
/// are none, the text is left out and the shapes stay).
pub fn png_of_svg(svg: &str, scale: f32) -> Result<Vec<u8>> {
    static FONTS: OnceLock<std::sync::Arc<resvg::usvg::fontdb::Database>> = OnceLock::new();
    let fonts = FONTS.get_or_init(|| {
        let mut db = resvg::usvg::fontdb::Database::new();
        db.load_system_fonts();
        std::sync::Arc::new(db)
    });
    let options = resvg::usvg::Options {
        fontdb: fonts.clone(),
        ..Default::default()
    };
    let tree = resvg::usvg::Tree::from_str(svg, &options)
        .map_err(|e| anyhow!("the picture is not valid SVG: {e}"))?;
    let size = tree.size();
    let (w, h) = (
        (size.width() * scale).ceil() as u32,
        (size.height() * scale).ceil() as u32,
    );
    let mut pixmap = resvg::tiny_skia::Pixmap::new(w.max(1), h.max(1))
        .ok_or_else(|| anyhow!("a picture of {w} x {h} pixels cannot be made"))?;
    pixmap.fill(resvg::tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| anyhow!("cannot encode the picture as PNG: {e}"))
}

/// Shows `svg` in the terminal if it can show images: the escape sequence
/// to print, or `None`.
pub fn svg_sequence(svg: &str) -> Option<String> {
    let protocol = detect()?;
    png_of_svg(svg, 1.0)
        .ok()
        .map(|png| sequence(protocol, &png))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kitty_sends_chunks_of_4096_and_iterm2_one_sequence() {
        use base64::Engine as _;
        let png: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let s = sequence(Protocol::Kitty, &png);
        let chunks: Vec<&str> = s
            .trim_end()
            .split("\x1b\\")
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(chunks.len(), 4, "13336 base64 bytes: 4 chunks");
        assert!(chunks[0].starts_with("\x1b_Gf=100,a=T,m=1;"));
        assert!(chunks[1].starts_with("\x1b_Gm=1;") && chunks[3].starts_with("\x1b_Gm=0;"));
        let data: String = chunks
            .iter()
            .map(|c| c.split(';').nth(1).unwrap())
            .collect();
        assert!(
            chunks
                .iter()
                .all(|c| c.split(';').nth(1).unwrap().len() <= 4096)
        );
        let back = base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap();
        assert_eq!(back, png);
        let s = sequence(Protocol::Iterm2, &png);
        assert!(s.starts_with("\x1b]1337;File=inline=1;size=10000:") && s.ends_with("\x07\n"));
    }

    #[test]
    fn a_picture_rasterizes_to_a_png_of_its_size() {
        let svg = crate::plot::line::svg("y", &[0.0, 1.0, 4.0, 9.0, 16.0]).unwrap();
        let png = png_of_svg(&svg, 1.0).unwrap();
        let img = image::load_from_memory(&png).unwrap().to_rgba8();
        let tree = resvg::usvg::Tree::from_str(&svg, &Default::default()).unwrap();
        assert_eq!(img.width(), tree.size().width().ceil() as u32);
        // the line is drawn: not every pixel is the background
        let first = *img.get_pixel(0, 0);
        assert!(img.pixels().filter(|&&p| p != first).count() > 100);
        let twice = image::load_from_memory(&png_of_svg(&svg, 2.0).unwrap()).unwrap();
        assert_eq!(twice.width(), 2 * img.width());
        assert!(png_of_svg("<svg", 1.0).is_err());
    }
}
