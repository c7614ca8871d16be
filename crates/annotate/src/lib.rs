//! Annotations on a capture, and the one renderer that decides their
//! pixels.
//!
//! A [`Document`] is the capture's shapes in order (arrows, lines, boxes,
//! ellipses, pen and highlighter strokes, text, numbered steps, pixelated
//! and blurred areas) and an optional crop, all in the capture's own
//! (physical) pixels. The editor keeps shapes as objects until export;
//! [`render`] turns a document over a capture into flat RGBA pixels, and
//! is what both the editor's preview and the shared file come from, so
//! what is shared is what was shown.
//!
//! Shapes are drawn in order, each over what is already there:
//! - pixelate and blur are computed on the pixels under them at that
//!   point (the capture, and any shape drawn before), and replace them:
//!   every pixelate block is one colour, the mean of its pixels;
//! - steps number themselves 1, 2, 3… in the order they were added, so
//!   deleting one renumbers the rest;
//! - text is set in DejaVu Sans Bold (embedded: the same everywhere),
//!   from its outlines through tiny-skia, one line per `\n`.
//!
//! The output holds nothing but the pixels: no layers, no shapes, no
//! trace of what was under a pixelated area beyond its blocks' colours.

mod text;

use serde::{Deserialize, Serialize};
use tiny_skia::{FillRule, LineCap, LineJoin, Paint, PathBuilder, PixmapMut, Stroke, Transform};

/// A point in the capture's pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

/// A rectangle in the capture's pixels, from its top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Area {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

impl Area {
    /// The same rectangle with a positive width and height (as dragged
    /// from any corner).
    fn normal(&self) -> Area {
        let (x, width) = if self.width < 0.0 {
            (self.x + self.width, -self.width)
        } else {
            (self.x, self.width)
        };
        let (y, height) = if self.height < 0.0 {
            (self.y + self.height, -self.height)
        } else {
            (self.y, self.height)
        };
        Area {
            x,
            y,
            width,
            height,
        }
    }

    /// The whole pixels `(x0, y0, x1, y1)` it touches, even in part,
    /// inside an image of `size`; `None` when none are. Outwards, so that
    /// a pixelated area leaves no sliver of what it covers.
    fn pixels(&self, size: (u32, u32)) -> Option<(u32, u32, u32, u32)> {
        let a = self.normal();
        let clamp = |v: f32, max: u32| v.clamp(0.0, max as f32) as u32;
        let (x0, y0) = (clamp(a.x.floor(), size.0), clamp(a.y.floor(), size.1));
        let (x1, y1) = (
            clamp((a.x + a.width).ceil(), size.0),
            clamp((a.y + a.height).ceil(), size.1),
        );
        (x1 > x0 && y1 > y0).then_some((x0, y0, x1, y1))
    }
}

/// An sRGB colour with alpha.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Colour {
    pub r: u8,
    pub g: u8,
    pub b: u8,
    pub a: u8,
}

impl Colour {
    pub const fn rgb(r: u8, g: u8, b: u8) -> Colour {
        Colour { r, g, b, a: 255 }
    }

    fn paint(self) -> Paint<'static> {
        let mut paint = Paint::default();
        paint.set_color_rgba8(self.r, self.g, self.b, self.a);
        paint.anti_alias = true;
        paint
    }
}

/// One annotation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Shape {
    /// A line with a filled head at `to`.
    Arrow {
        from: Point,
        to: Point,
        colour: Colour,
        width: f32,
    },
    Line {
        from: Point,
        to: Point,
        colour: Colour,
        width: f32,
    },
    /// A rectangle's outline.
    Rectangle {
        area: Area,
        colour: Colour,
        width: f32,
    },
    /// The outline of the ellipse inside `area`.
    Ellipse {
        area: Area,
        colour: Colour,
        width: f32,
    },
    /// A freehand stroke through `points`.
    Pen {
        points: Vec<Point>,
        colour: Colour,
        width: f32,
    },
    /// A freehand stroke, translucent (its colour at 40%), as a marker.
    Highlighter {
        points: Vec<Point>,
        colour: Colour,
        width: f32,
    },
    /// Text whose first line's top-left corner is `at`; `size` is the
    /// font's size in pixels.
    Text {
        at: Point,
        text: String,
        size: f32,
        colour: Colour,
    },
    /// A numbered disc centred on `at`: its number is its place among the
    /// document's steps.
    Step {
        at: Point,
        colour: Colour,
        size: f32,
    },
    /// `area` in blocks of `block` pixels, each the mean of its pixels.
    Pixelate { area: Area, block: u32 },
    /// `area` blurred (three box blurs of `radius` pixels: near a
    /// Gaussian).
    Blur { area: Area, radius: u32 },
}

/// What the editor holds: the shapes in the order they were added, and
/// the part of the capture to keep.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Document {
    pub shapes: Vec<Shape>,
    pub crop: Option<Area>,
}

/// Why a document cannot be rendered.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RenderError {
    #[error("the capture is {0}x{1} pixels, but its pixels are {2} bytes")]
    Size(u32, u32, usize),
    #[error("the crop leaves nothing of the capture; draw it inside the picture")]
    EmptyCrop,
}

/// A capture's RGBA pixels (opaque) with its annotations drawn in,
/// cropped: the pixels that are shared.
pub fn render(
    rgba: &[u8],
    width: u32,
    height: u32,
    document: &Document,
) -> Result<(Vec<u8>, u32, u32), RenderError> {
    if rgba.len() as u64 != u64::from(width) * u64::from(height) * 4 || width == 0 || height == 0 {
        return Err(RenderError::Size(width, height, rgba.len()));
    }
    // Opaque pixels are their own premultiplied form.
    let mut pixels = rgba.to_vec();
    {
        let mut canvas = PixmapMut::from_bytes(&mut pixels, width, height)
            .expect("a non-empty size that matches the bytes");
        let mut step = 0;
        for shape in &document.shapes {
            if let Shape::Step { .. } = shape {
                step += 1;
            }
            draw(&mut canvas, shape, step);
        }
    }
    // Anti-aliased edges over an opaque capture stay opaque.
    let Some(crop) = document.crop else {
        return Ok((pixels, width, height));
    };
    let (x0, y0, x1, y1) = crop.pixels((width, height)).ok_or(RenderError::EmptyCrop)?;
    let (w, h) = (x1 - x0, y1 - y0);
    let mut out = Vec::with_capacity((w * h * 4) as usize);
    for y in y0..y1 {
        let row = (y * width + x0) as usize * 4;
        out.extend_from_slice(&pixels[row..row + w as usize * 4]);
    }
    Ok((out, w, h))
}

fn stroke(width: f32) -> Stroke {
    Stroke {
        width: width.max(1.0),
        line_cap: LineCap::Round,
        line_join: LineJoin::Round,
        ..Stroke::default()
    }
}

fn draw(canvas: &mut PixmapMut, shape: &Shape, step: u32) {
    let id = Transform::identity();
    match shape {
        Shape::Arrow {
            from,
            to,
            colour,
            width,
        } => {
            let (dx, dy) = (to.x - from.x, to.y - from.y);
            let length = (dx * dx + dy * dy).sqrt();
            if length < 1.0 {
                return;
            }
            let (ux, uy) = (dx / length, dy / length);
            // The head: a triangle 4 widths long (at least 12 px), with
            // the shaft stopping inside it.
            let head = (width * 4.0).max(12.0).min(length);
            let half = head * 0.5;
            let base = (to.x - ux * head, to.y - uy * head);
            let mut shaft = PathBuilder::new();
            shaft.move_to(from.x, from.y);
            shaft.line_to(base.0 + ux * head * 0.3, base.1 + uy * head * 0.3);
            if let Some(path) = shaft.finish() {
                canvas.stroke_path(&path, &colour.paint(), &stroke(*width), id, None);
            }
            let mut tip = PathBuilder::new();
            tip.move_to(to.x, to.y);
            tip.line_to(base.0 - uy * half, base.1 + ux * half);
            tip.line_to(base.0 + uy * half, base.1 - ux * half);
            tip.close();
            if let Some(path) = tip.finish() {
                canvas.fill_path(&path, &colour.paint(), FillRule::Winding, id, None);
            }
        }
        Shape::Line {
            from,
            to,
            colour,
            width,
        } => {
            let mut line = PathBuilder::new();
            line.move_to(from.x, from.y);
            line.line_to(to.x, to.y);
            if let Some(path) = line.finish() {
                canvas.stroke_path(&path, &colour.paint(), &stroke(*width), id, None);
            }
        }
        Shape::Rectangle {
            area,
            colour,
            width,
        }
        | Shape::Ellipse {
            area,
            colour,
            width,
        } => {
            let a = area.normal();
            let Some(rect) = tiny_skia::Rect::from_xywh(a.x, a.y, a.width, a.height) else {
                return;
            };
            let path = if matches!(shape, Shape::Rectangle { .. }) {
                Some(PathBuilder::from_rect(rect))
            } else {
                PathBuilder::from_oval(rect)
            };
            if let Some(path) = path {
                let mut s = stroke(*width);
                s.line_join = LineJoin::Miter;
                canvas.stroke_path(&path, &colour.paint(), &s, id, None);
            }
        }
        Shape::Pen {
            points,
            colour,
            width,
        } => polyline(canvas, points, *colour, *width),
        Shape::Highlighter {
            points,
            colour,
            width,
        } => {
            let translucent = Colour {
                a: (u16::from(colour.a) * 2 / 5) as u8,
                ..*colour
            };
            polyline(canvas, points, translucent, *width);
        }
        Shape::Text {
            at,
            text,
            size,
            colour,
        } => text::draw(canvas, text, *at, *size, colour.paint()),
        Shape::Step { at, colour, size } => {
            let radius = size.max(8.0) / 2.0;
            if let Some(disc) = PathBuilder::from_circle(at.x, at.y, radius) {
                canvas.fill_path(&disc, &colour.paint(), FillRule::Winding, id, None);
            }
            let label = step.to_string();
            let font = radius * 1.2;
            let (w, h) = text::measure(&label, font);
            let ink = if contrast_is_dark(*colour) {
                Colour::rgb(0, 0, 0)
            } else {
                Colour::rgb(255, 255, 255)
            };
            let top_left = Point {
                x: at.x - w / 2.0,
                y: at.y - h / 2.0,
            };
            text::draw(canvas, &label, top_left, font, ink.paint());
        }
        Shape::Pixelate { area, block } => {
            let size = (canvas.width(), canvas.height());
            if let Some(bounds) = area.pixels(size) {
                // A block larger than the area is the area: one colour.
                let block = (*block).clamp(2, (bounds.2 - bounds.0).max(bounds.3 - bounds.1));
                pixelate(canvas.data_mut(), size.0, bounds, block);
            }
        }
        Shape::Blur { area, radius } => {
            let size = (canvas.width(), canvas.height());
            if let Some(bounds) = area.pixels(size) {
                // Beyond the area's size a wider blur changes nothing more.
                let most = (bounds.2 - bounds.0).max(bounds.3 - bounds.1);
                blur(canvas.data_mut(), size.0, bounds, (*radius).clamp(1, most));
            }
        }
    }
}

/// Whether black reads better than white on `c`.
fn contrast_is_dark(c: Colour) -> bool {
    let luma = 0.2126 * f32::from(c.r) + 0.7152 * f32::from(c.g) + 0.0722 * f32::from(c.b);
    luma > 150.0
}

fn polyline(canvas: &mut PixmapMut, points: &[Point], colour: Colour, width: f32) {
    let Some(first) = points.first() else {
        return;
    };
    let mut path = PathBuilder::new();
    path.move_to(first.x, first.y);
    if points.len() == 1 {
        // A dot: a stroke of no length with round caps.
        path.line_to(first.x + 0.01, first.y);
    }
    for p in &points[1..] {
        path.line_to(p.x, p.y);
    }
    if let Some(path) = path.finish() {
        let id = Transform::identity();
        canvas.stroke_path(&path, &colour.paint(), &stroke(width), id, None);
    }
}

/// Each `block`-pixel square of `bounds` (from its top-left corner; the
/// last ones cut by its edges) becomes the mean of its pixels.
fn pixelate(data: &mut [u8], width: u32, bounds: (u32, u32, u32, u32), block: u32) {
    let (x0, y0, x1, y1) = bounds;
    let mut by = y0;
    while by < y1 {
        let ey = (by + block).min(y1);
        let mut bx = x0;
        while bx < x1 {
            let ex = (bx + block).min(x1);
            let mut sum = [0u64; 4];
            for y in by..ey {
                for x in bx..ex {
                    let i = ((y * width + x) * 4) as usize;
                    for (s, v) in sum.iter_mut().zip(&data[i..i + 4]) {
                        *s += u64::from(*v);
                    }
                }
            }
            let n = u64::from((ex - bx) * (ey - by));
            let mean = sum.map(|s| ((s + n / 2) / n) as u8);
            for y in by..ey {
                for x in bx..ex {
                    let i = ((y * width + x) * 4) as usize;
                    data[i..i + 4].copy_from_slice(&mean);
                }
            }
            bx = ex;
        }
        by = ey;
    }
}

/// Three horizontal and vertical box blurs of `radius` over `bounds`,
/// reading only pixels inside it (its edges repeat outwards).
fn blur(data: &mut [u8], width: u32, bounds: (u32, u32, u32, u32), radius: u32) {
    let (x0, y0, x1, y1) = bounds;
    let (w, h) = ((x1 - x0) as usize, (y1 - y0) as usize);
    let mut area: Vec<[f32; 4]> = Vec::with_capacity(w * h);
    for y in y0..y1 {
        for x in x0..x1 {
            let i = ((y * width + x) * 4) as usize;
            area.push([0, 1, 2, 3].map(|c| f32::from(data[i + c])));
        }
    }
    let r = radius as isize;
    let mut line = Vec::new();
    for _ in 0..3 {
        // Rows, then columns: (how many, where each starts, step, length).
        for (count, stride, step, len) in [(h, w, 1, w), (w, 1, w, h)] {
            for k in 0..count {
                let at = |j: usize| k * stride + j * step;
                line.clear();
                line.extend((0..len).map(|j| area[at(j)]));
                let edge = |j: isize| line[j.clamp(0, len as isize - 1) as usize];
                // A running sum of the window round j: one pixel in, one
                // out per step, whatever the radius.
                let mut sum = [0f32; 4];
                for d in -r..=r {
                    let p = edge(d);
                    for c in 0..4 {
                        sum[c] += p[c];
                    }
                }
                let n = (2 * r + 1) as f32;
                for j in 0..len as isize {
                    area[at(j as usize)] = sum.map(|s| s / n);
                    let (gone, next) = (edge(j - r), edge(j + r + 1));
                    for c in 0..4 {
                        sum[c] += next[c] - gone[c];
                    }
                }
            }
        }
    }
    for (n, y) in (y0..y1).enumerate() {
        for (m, x) in (x0..x1).enumerate() {
            let i = ((y * width + x) * 4) as usize;
            let p = area[n * w + m];
            for c in 0..4 {
                data[i + c] = p[c].round().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests;
