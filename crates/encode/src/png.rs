//! The PNG writer: every row Paeth-filtered, deflated at zlib level 3, in
//! horizontal strips compressed in parallel (one per core).
//!
//! A PNG's pixels are one zlib stream, but a deflate stream may be cut
//! anywhere into byte-aligned pieces: each strip is deflated on its own and
//! ended with a sync flush (the last one with the final block), and the
//! pieces are joined under one zlib header; the Adler-32 checksums of the
//! strips are combined into the stream's. Matches cannot reach back across
//! a strip boundary, which costs a few hundred bytes on a 1080p screen.
//! Paeth needs the row above, which every strip reads from the image.

use flate2::{Compress, Compression, FlushCompress};

/// Rows per strip at least: fewer than this is not worth a thread.
const MIN_STRIP_ROWS: u32 = 64;

/// How the pixels are laid out.
pub(crate) struct Pixels<'a> {
    pub rgba: &'a [u8],
    pub width: u32,
    pub height: u32,
    /// Write RGB (drop the alpha channel, which must be all 255).
    pub opaque: bool,
}

impl Pixels<'_> {
    fn bpp(&self) -> usize {
        if self.opaque {
            3
        } else {
            4
        }
    }

    /// Row `y` in the output's layout.
    fn row_into(&self, y: u32, out: &mut Vec<u8>) {
        let stride = self.width as usize * 4;
        let row = &self.rgba[y as usize * stride..(y as usize + 1) * stride];
        out.clear();
        if self.opaque {
            out.resize(self.width as usize * 3, 0);
            for (rgb, rgba) in out.chunks_exact_mut(3).zip(row.chunks_exact(4)) {
                rgb.copy_from_slice(&rgba[..3]);
            }
        } else {
            out.extend_from_slice(row);
        }
    }
}

/// A whole PNG file. `per_metre`: pixel density for a pHYs chunk.
pub(crate) fn write(pixels: &Pixels, per_metre: Option<u32>, threads: usize) -> Vec<u8> {
    let strips = threads
        .min((pixels.height / MIN_STRIP_ROWS) as usize)
        .max(1);
    let rows_per_strip = pixels.height.div_ceil(strips as u32);
    let pieces: Vec<(Vec<u8>, u32, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..strips as u32)
            .map(|k| {
                let first = k * rows_per_strip;
                let end = ((k + 1) * rows_per_strip).min(pixels.height);
                let last = end == pixels.height;
                scope.spawn(move || strip(pixels, first, end, last))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a strip does not panic"))
            .collect()
    });
    let mut adler = 1u32;
    let mut deflated = Vec::with_capacity(pieces.iter().map(|p| p.0.len()).sum::<usize>() + 6);
    // zlib header: deflate, 32 KiB window, "fast" level, no dictionary.
    deflated.extend_from_slice(&[0x78, 0x5e]);
    for (bytes, piece_adler, len) in &pieces {
        deflated.extend_from_slice(bytes);
        adler = adler32_combine(adler, *piece_adler, *len as u64);
    }
    deflated.extend_from_slice(&adler.to_be_bytes());

    let mut png = Vec::with_capacity(deflated.len() + 64);
    png.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&pixels.width.to_be_bytes());
    ihdr.extend_from_slice(&pixels.height.to_be_bytes());
    // 8 bits, colour type 2 (RGB) or 6 (RGBA), deflate, adaptive filters, no interlace.
    ihdr.extend_from_slice(&[8, if pixels.opaque { 2 } else { 6 }, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    if let Some(ppm) = per_metre {
        let mut phys = Vec::with_capacity(9);
        phys.extend_from_slice(&ppm.to_be_bytes());
        phys.extend_from_slice(&ppm.to_be_bytes());
        phys.push(1); // the unit is the metre
        chunk(&mut png, b"pHYs", &phys);
    }
    for part in deflated.chunks(1 << 20) {
        chunk(&mut png, b"IDAT", part);
    }
    chunk(&mut png, b"IEND", &[]);
    png
}

fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend_from_slice(&(data.len() as u32).to_be_bytes());
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    png.extend_from_slice(&crc.finalize().to_be_bytes());
}

/// Rows `first..end` filtered and deflated: the raw deflate bytes, the
/// Adler-32 of the filtered bytes and their length.
fn strip(pixels: &Pixels, first: u32, end: u32, last: bool) -> (Vec<u8>, u32, usize) {
    let bpp = pixels.bpp();
    let row_len = pixels.width as usize * bpp;
    let mut prev = vec![0u8; row_len];
    if first > 0 {
        pixels.row_into(first - 1, &mut prev);
    }
    let mut cur = Vec::with_capacity(row_len);
    // Filter a batch of rows, then deflate the batch.
    const BATCH: u32 = 16;
    let mut filtered = Vec::with_capacity((row_len + 1) * BATCH as usize);
    let mut compress = Compress::new(Compression::new(3), false);
    let mut out = Vec::with_capacity(row_len * (end - first) as usize / 3);
    let (mut adler, mut len) = (1u32, 0usize);
    let mut y = first;
    while y < end {
        filtered.clear();
        for _ in 0..BATCH.min(end - y) {
            pixels.row_into(y, &mut cur);
            paeth(&cur, &prev, bpp, &mut filtered);
            std::mem::swap(&mut cur, &mut prev);
            y += 1;
        }
        adler = adler32_combine(adler, adler32(&filtered), filtered.len() as u64);
        len += filtered.len();
        let flush = match (y == end, last) {
            (false, _) => FlushCompress::None,
            (true, true) => FlushCompress::Finish,
            (true, false) => FlushCompress::Sync,
        };
        deflate(&mut compress, &filtered, &mut out, flush);
    }
    (out, adler, len)
}

/// Feeds all of `input` to `compress`, growing `out` as needed.
fn deflate(compress: &mut Compress, mut input: &[u8], out: &mut Vec<u8>, flush: FlushCompress) {
    loop {
        if out.capacity() - out.len() < 64 * 1024 {
            out.reserve(256 * 1024);
        }
        let before = compress.total_in();
        let status = compress
            .compress_vec(input, out, flush)
            .expect("deflating memory cannot fail");
        input = &input[(compress.total_in() - before) as usize..];
        let room_left = out.capacity() > out.len();
        match flush {
            // Done when the input is taken and the flush fitted in `out`.
            FlushCompress::Finish if status == flate2::Status::StreamEnd => return,
            FlushCompress::Finish => {}
            _ if input.is_empty() && room_left => return,
            _ => {}
        }
    }
}

/// One row, Paeth-filtered (filter type 4), appended to `out`.
fn paeth(row: &[u8], prev: &[u8], bpp: usize, out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + 1 + row.len(), 0);
    let filtered = &mut out[start..];
    filtered[0] = 4;
    let filtered = &mut filtered[1..];
    // The first pixel has nothing to its left: a = c = 0, so b predicts.
    for ((f, x), b) in filtered[..bpp]
        .iter_mut()
        .zip(&row[..bpp])
        .zip(&prev[..bpp])
    {
        *f = x.wrapping_sub(*b);
    }
    let n = row.len() - bpp;
    let lanes = filtered[bpp..]
        .iter_mut()
        .zip(&row[bpp..])
        .zip(&row[..n])
        .zip(&prev[bpp..])
        .zip(&prev[..n]);
    for ((((f, x), a), b), c) in lanes {
        let (a, b, c) = (*a as i16, *b as i16, *c as i16);
        let pa = (b - c).abs();
        let pb = (a - c).abs();
        let pc = (a + b - 2 * c).abs();
        let predicted = if pa <= pb && pa <= pc {
            a
        } else if pb <= pc {
            b
        } else {
            c
        };
        *f = x.wrapping_sub(predicted as u8);
    }
}

const ADLER_MOD: u32 = 65521;

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    // 5552 bytes is the most that cannot overflow b before the modulo.
    for block in data.chunks(5552) {
        for &byte in block {
            a += byte as u32;
            b += a;
        }
        a %= ADLER_MOD;
        b %= ADLER_MOD;
    }
    (b << 16) | a
}

/// The Adler-32 of `A ++ B` from those of `A` and `B` and B's length.
fn adler32_combine(first: u32, second: u32, second_len: u64) -> u32 {
    let m = ADLER_MOD as u64;
    let rem = second_len % m;
    let (a1, b1) = ((first & 0xffff) as u64, (first >> 16) as u64);
    let (a2, b2) = ((second & 0xffff) as u64, (second >> 16) as u64);
    let a = (a1 + a2 + m - 1) % m;
    let b = (b1 + b2 + rem * a1 + m - rem) % m;
    ((b << 16) | a) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adler_of_joined_pieces_is_the_adler_of_the_whole() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 31 % 251) as u8).collect();
        for cut in [0, 1, 5552, 65521, 70_000, 100_000] {
            let (x, y) = data.split_at(cut);
            let joined = adler32_combine(adler32(x), adler32(y), y.len() as u64);
            assert_eq!(joined, adler32(&data), "cut at {cut}");
        }
        assert_eq!(adler32(b"Wikipedia"), 0x11E60398);
    }

    #[test]
    fn paeth_predicts_from_left_up_and_up_left() {
        let prev = [10, 20, 30, 40];
        let row = [11, 22, 33, 44];
        let mut out = Vec::new();
        paeth(&row, &prev, 2, &mut out);
        // First pixel: up predicts (11-10, 22-20). Then a=11, b=30, c=10:
        // p=31, pa=20, pb=1, pc=21 -> b (30); likewise b (40) for the last.
        assert_eq!(out, [4, 1, 2, 3, 4]);
    }

    #[test]
    fn strips_join_into_one_valid_stream_for_any_number_of_threads() {
        let (width, height) = (301, 397);
        let rgba: Vec<u8> = (0..width * height * 4)
            .map(|i| ((i * 7) ^ (i / 1203)) as u8 | if i % 4 == 3 { 0xff } else { 0 })
            .collect();
        for opaque in [true, false] {
            for threads in [1, 2, 3, 7] {
                let pixels = Pixels {
                    rgba: &rgba,
                    width,
                    height,
                    opaque,
                };
                let file = write(&pixels, None, threads);
                let decoded = image::load_from_memory(&file).unwrap().into_rgba8();
                assert_eq!(
                    decoded.as_raw(),
                    &rgba,
                    "{threads} threads, opaque {opaque}"
                );
            }
        }
    }
}
