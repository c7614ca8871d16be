use super::*;

const RED: Colour = Colour::rgb(230, 20, 30);

/// A capture of `w` x `h` with a different colour at every pixel.
fn capture(w: u32, h: u32) -> Vec<u8> {
    let mut rgba = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h {
        for x in 0..w {
            rgba.extend_from_slice(&[(x * 7 % 256) as u8, (y * 5 % 256) as u8, 90, 255]);
        }
    }
    rgba
}

fn pixel(rgba: &[u8], width: u32, x: u32, y: u32) -> [u8; 4] {
    let i = ((y * width + x) * 4) as usize;
    rgba[i..i + 4].try_into().unwrap()
}

fn p(x: f32, y: f32) -> Point {
    Point { x, y }
}

fn area(x: f32, y: f32, width: f32, height: f32) -> Area {
    Area {
        x,
        y,
        width,
        height,
    }
}

fn render_one(shapes: Vec<Shape>) -> Vec<u8> {
    let doc = Document { shapes, crop: None };
    render(&capture(200, 120), 200, 120, &doc).unwrap().0
}

#[test]
fn a_rectangle_is_its_colour_along_its_edges_and_leaves_every_other_pixel_alone() {
    let base = capture(200, 120);
    let out = render_one(vec![Shape::Rectangle {
        area: area(40.0, 30.0, 100.0, 50.0),
        colour: RED,
        width: 4.0,
    }]);
    for (x, y) in [(90, 30), (40, 55), (140, 55), (90, 80), (40, 30)] {
        assert_eq!(pixel(&out, 200, x, y), [230, 20, 30, 255], "at {x},{y}");
    }
    // Inside and outside, beyond the stroke's half width and its
    // anti-aliased edge, the capture is untouched.
    for y in 0..120 {
        for x in 0..200 {
            let near = |e: i64, v: i64| (v - e).abs() <= 3;
            let on_edge = ((near(40, x) || near(140, x)) && (27..=83).contains(&y))
                || ((near(30, y) || near(80, y)) && (37..=143).contains(&x));
            if !on_edge {
                assert_eq!(
                    pixel(&out, 200, x as u32, y as u32),
                    pixel(&base, 200, x as u32, y as u32),
                    "at {x},{y}"
                );
            }
        }
    }
}

#[test]
fn an_arrow_is_its_colour_along_its_shaft_and_at_its_head() {
    let out = render_one(vec![Shape::Arrow {
        from: p(20.0, 60.0),
        to: p(180.0, 60.0),
        colour: RED,
        width: 6.0,
    }]);
    for x in (20..170).step_by(10) {
        assert_eq!(pixel(&out, 200, x, 60), [230, 20, 30, 255], "at {x}");
    }
    // The head is wider than the shaft.
    assert_eq!(pixel(&out, 200, 165, 65), [230, 20, 30, 255]);
    assert_ne!(pixel(&out, 200, 60, 65), [230, 20, 30, 255]);
}

#[test]
fn every_pixelate_block_is_one_colour_the_mean_of_its_pixels() {
    let base = capture(200, 120);
    let out = render_one(vec![Shape::Pixelate {
        area: area(10.0, 10.0, 50.0, 25.0),
        block: 10,
    }]);
    for by in (10..35).step_by(10) {
        for bx in (10..60).step_by(10) {
            let ey = (by + 10).min(35);
            let first = pixel(&out, 200, bx, by);
            let mut sum = [0u32; 3];
            for y in by..ey {
                for x in bx..bx + 10 {
                    assert_eq!(pixel(&out, 200, x, y), first, "block {bx},{by}");
                    let b = pixel(&base, 200, x, y);
                    for c in 0..3 {
                        sum[c] += u32::from(b[c]);
                    }
                }
            }
            let n = 10 * (ey - by);
            for c in 0..3 {
                assert!(u32::from(first[c]).abs_diff(sum[c] / n) <= 1);
            }
        }
    }
    assert_eq!(pixel(&out, 200, 60, 10), pixel(&base, 200, 60, 10));
}

#[test]
fn a_blur_changes_only_its_area_and_smooths_it() {
    let base = capture(200, 120);
    let out = render_one(vec![Shape::Blur {
        area: area(100.0, 20.0, 60.0, 60.0),
        radius: 4,
    }]);
    assert_eq!(pixel(&out, 200, 99, 50), pixel(&base, 200, 99, 50));
    assert_eq!(pixel(&out, 200, 160, 50), pixel(&base, 200, 160, 50));
    // The red channel steps by 7 a pixel in the capture; blurred, the
    // steps inside are as big but the jump where it wraps is spread.
    let reds: Vec<i32> = (100..160)
        .map(|x| i32::from(pixel(&out, 200, x, 50)[0]))
        .collect();
    let biggest = reds.windows(2).map(|w| (w[1] - w[0]).abs()).max().unwrap();
    assert!(biggest < 100, "{reds:?}");
}

#[test]
fn steps_number_themselves_in_order_so_removing_one_renumbers_the_rest() {
    let step = |x| Shape::Step {
        at: p(x, 60.0),
        colour: RED,
        size: 30.0,
    };
    let two = render_one(vec![step(40.0), step(120.0)]);
    let alone = render_one(vec![step(120.0)]);
    let first_alone = render_one(vec![step(40.0)]);
    let around = |img: &[u8], cx: u32| -> Vec<[u8; 4]> {
        (45..75)
            .flat_map(|y| (cx - 15..cx + 15).map(move |x| (x, y)))
            .map(|(x, y)| pixel(img, 200, x, y))
            .collect()
    };
    // The second step shows 2; alone it shows 1, as the first did.
    assert_ne!(around(&two, 120), around(&alone, 120));
    let shifted: Vec<[u8; 4]> = around(&first_alone, 40);
    let mut moved = around(&alone, 120);
    // Compare the discs' ink only: the capture under them differs.
    for (a, b) in shifted.iter().zip(moved.iter_mut()) {
        if *a == [230, 20, 30, 255] {
            assert_eq!(*b, *a);
        }
    }
}

#[test]
fn text_is_drawn_inside_the_box_it_measures() {
    let base = capture(200, 120);
    let out = render_one(vec![Shape::Text {
        at: p(20.0, 30.0),
        text: "Step two".into(),
        size: 24.0,
        colour: RED,
    }]);
    let (w, h) = text::measure("Step two", 24.0);
    assert!(w > 80.0 && h > 20.0, "{w}x{h}");
    let mut inked = 0;
    for y in 0..120 {
        for x in 0..200 {
            let changed = pixel(&out, 200, x, y) != pixel(&base, 200, x, y);
            let inside = (19..=(21 + w as u32)).contains(&x) && (29..=(31 + h as u32)).contains(&y);
            assert!(!changed || inside, "ink outside at {x},{y}");
            if pixel(&out, 200, x, y) == [230, 20, 30, 255] {
                inked += 1;
            }
        }
    }
    assert!(inked > 200, "{inked} pixels of solid ink");
}

#[test]
fn a_highlighter_lets_the_capture_show_through() {
    let base = capture(200, 120);
    let out = render_one(vec![Shape::Highlighter {
        points: vec![p(20.0, 60.0), p(180.0, 60.0)],
        colour: Colour::rgb(255, 230, 0),
        width: 16.0,
    }]);
    let (b, o) = (pixel(&base, 200, 100, 60), pixel(&out, 200, 100, 60));
    assert_ne!(o, b);
    assert_ne!(o, [255, 230, 0, 255]);
    assert_eq!(o[3], 255);
}

#[test]
fn a_crop_keeps_its_pixels_and_an_empty_one_is_refused() {
    let base = capture(200, 120);
    let doc = Document {
        shapes: vec![],
        crop: Some(area(150.0, 100.0, -50.0, -40.0)),
    };
    let (out, w, h) = render(&base, 200, 120, &doc).unwrap();
    assert_eq!((w, h), (50, 40));
    assert_eq!(pixel(&out, 50, 0, 0), pixel(&base, 200, 100, 60));
    let outside = Document {
        shapes: vec![],
        crop: Some(area(300.0, 0.0, 10.0, 10.0)),
    };
    assert_eq!(
        render(&base, 200, 120, &outside).unwrap_err(),
        RenderError::EmptyCrop
    );
    assert!(matches!(
        render(&base, 201, 120, &doc),
        Err(RenderError::Size(201, 120, _))
    ));
}

#[test]
fn documents_round_trip_through_json_as_the_editor_sends_them() {
    let doc = Document {
        shapes: vec![
            Shape::Pixelate {
                area: area(1.0, 2.0, 3.0, 4.0),
                block: 12,
            },
            Shape::Step {
                at: p(5.0, 6.0),
                colour: RED,
                size: 28.0,
            },
        ],
        crop: None,
    };
    let json = serde_json::to_string(&doc).unwrap();
    assert!(json.contains("\"kind\":\"pixelate\""), "{json}");
    assert_eq!(serde_json::from_str::<Document>(&json).unwrap(), doc);
}

#[test]
fn a_pixelated_area_covers_every_pixel_it_touches_and_odd_values_do_no_harm() {
    let base = capture(200, 120);
    // A fractional box: column 30 and row 20 are touched in part.
    let out = render_one(vec![Shape::Pixelate {
        area: area(10.4, 10.6, 20.0, 9.6),
        block: u32::MAX,
    }]);
    let one = pixel(&out, 200, 10, 10);
    for (x, y) in [(10, 10), (30, 10), (10, 20), (30, 20)] {
        assert_eq!(pixel(&out, 200, x, y), one, "at {x},{y}");
    }
    assert_eq!(pixel(&out, 200, 31, 10), pixel(&base, 200, 31, 10));
    assert_eq!(pixel(&out, 200, 10, 21), pixel(&base, 200, 10, 21));
    // Huge and non-finite values are clamped, not a panic or a hang.
    render_one(vec![
        Shape::Blur {
            area: area(0.0, 0.0, 50.0, 50.0),
            radius: u32::MAX,
        },
        Shape::Rectangle {
            area: area(f32::NAN, 0.0, f32::INFINITY, -5.0),
            colour: RED,
            width: f32::NAN,
        },
    ]);
}
