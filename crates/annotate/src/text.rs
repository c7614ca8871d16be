//! Text from the embedded font's outlines (ttf-parser), filled by
//! tiny-skia: the same glyphs on every system, in the preview and the
//! shared file alike.

use std::sync::LazyLock;

use tiny_skia::{FillRule, Paint, PathBuilder, PixmapMut, Transform};
use ttf_parser::{Face, OutlineBuilder};

use crate::Point;

/// DejaVu Sans Bold (fonts/LICENSE): bold reads well over any capture.
static FONT: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

static FACE: LazyLock<Face<'static>> =
    LazyLock::new(|| Face::parse(FONT, 0).expect("the embedded font parses"));

/// Line height, in font sizes.
const LEADING: f32 = 1.25;

/// The width and height `text` takes at `size` pixels.
pub(crate) fn measure(text: &str, size: f32) -> (f32, f32) {
    let face = &*FACE;
    let scale = size / f32::from(face.units_per_em());
    let width = text
        .lines()
        .map(|line| advance(face, line) * scale)
        .fold(0.0, f32::max);
    let lines = text.lines().count().max(1) as f32;
    let ascent = f32::from(face.ascender()) * scale;
    let descent = -f32::from(face.descender()) * scale;
    (width, ascent + descent + (lines - 1.0) * size * LEADING)
}

fn advance(face: &Face, line: &str) -> f32 {
    line.chars()
        .map(|c| {
            face.glyph_index(c)
                .and_then(|g| face.glyph_hor_advance(g))
                .map_or(0.0, f32::from)
        })
        .sum()
}

/// Draws `text` with its first line's top-left corner at `at`.
pub(crate) fn draw(canvas: &mut PixmapMut, text: &str, at: Point, size: f32, paint: Paint) {
    let face = &*FACE;
    let scale = size / f32::from(face.units_per_em());
    let ascent = f32::from(face.ascender()) * scale;
    let mut path = Glyphs {
        path: PathBuilder::new(),
        scale,
        origin: (0.0, 0.0),
    };
    for (n, line) in text.lines().enumerate() {
        let baseline = at.y + ascent + n as f32 * size * LEADING;
        let mut x = at.x;
        for c in line.chars() {
            let Some(glyph) = face.glyph_index(c).or_else(|| face.glyph_index('?')) else {
                continue;
            };
            path.origin = (x, baseline);
            face.outline_glyph(glyph, &mut path);
            x += face.glyph_hor_advance(glyph).map_or(0.0, f32::from) * scale;
        }
    }
    if let Some(path) = path.path.finish() {
        canvas.fill_path(
            &path,
            &paint,
            FillRule::Winding,
            Transform::identity(),
            None,
        );
    }
}

/// Glyph outlines (font units, y up) into one path in pixels (y down).
struct Glyphs {
    path: PathBuilder,
    scale: f32,
    origin: (f32, f32),
}

impl Glyphs {
    fn at(&self, x: f32, y: f32) -> (f32, f32) {
        (
            self.origin.0 + x * self.scale,
            self.origin.1 - y * self.scale,
        )
    }
}

impl OutlineBuilder for Glyphs {
    fn move_to(&mut self, x: f32, y: f32) {
        let (x, y) = self.at(x, y);
        self.path.move_to(x, y);
    }

    fn line_to(&mut self, x: f32, y: f32) {
        let (x, y) = self.at(x, y);
        self.path.line_to(x, y);
    }

    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        let (x1, y1) = self.at(x1, y1);
        let (x, y) = self.at(x, y);
        self.path.quad_to(x1, y1, x, y);
    }

    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        let (x1, y1) = self.at(x1, y1);
        let (x2, y2) = self.at(x2, y2);
        let (x, y) = self.at(x, y);
        self.path.cubic_to(x1, y1, x2, y2, x, y);
    }

    fn close(&mut self) {
        self.path.close();
    }
}
