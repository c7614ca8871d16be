//! Just enough of the MP4 box structure to repair a recording cut short.
//!
//! A fragmented MP4 is a run of top-level boxes (`ftyp`, `moov`, then
//! `moof` + `mdat` pairs), each starting with its size. A recording killed
//! mid-write can end in part of a box, or in a `moof` whose `mdat` never
//! came; [`trim_incomplete`] cuts the file back to its last whole fragment,
//! so what is uploaded is exactly what plays.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The length of the longest prefix of `file` (of `len` bytes) made of
/// whole boxes, not ending in a `moof` without its `mdat`.
pub fn complete_length(file: &mut (impl Read + Seek), len: u64) -> std::io::Result<u64> {
    scan(file, len).map(|(good, _)| good)
}

/// The whole fragments (`mdat` boxes) in the MP4 file at `path`.
pub fn fragments(path: &Path) -> std::io::Result<u64> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    scan(&mut file, len).map(|(_, mdats)| mdats)
}

/// (complete length, whole `mdat` boxes in it).
fn scan(file: &mut (impl Read + Seek), len: u64) -> std::io::Result<(u64, u64)> {
    let mut at = 0u64;
    let mut good = 0u64;
    let mut mdats = 0u64;
    while at + 8 <= len {
        file.seek(SeekFrom::Start(at))?;
        let mut head = [0u8; 16];
        let have = if at + 16 <= len { 16 } else { 8 };
        file.read_exact(&mut head[..have])?;
        let size32 = u32::from_be_bytes(head[0..4].try_into().expect("4 bytes"));
        let kind = &head[4..8];
        let size = match size32 {
            // To the end of the file: a box still being written.
            0 => break,
            1 if have == 16 => u64::from_be_bytes(head[8..16].try_into().expect("8 bytes")),
            1 => break,
            n => u64::from(n),
        };
        let header = if size32 == 1 { 16 } else { 8 };
        // (`at` is at most `len`; a 64-bit size can be anything.)
        if size < header || size > len - at {
            break;
        }
        at += size;
        if kind != b"moof" {
            good = at;
        }
        mdats += u64::from(kind == b"mdat");
    }
    Ok((good, mdats))
}

/// Cuts the MP4 file at `path` back to its last whole box (see
/// [`complete_length`]); answers the bytes removed.
pub fn trim_incomplete(path: &Path) -> std::io::Result<u64> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let len = file.metadata()?.len();
    let good = complete_length(&mut file, len)?;
    if good < len {
        file.set_len(good)?;
        file.sync_all()?;
    }
    Ok(len - good)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn boxed(kind: &[u8; 4], body: usize) -> Vec<u8> {
        let mut b = ((body + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend(std::iter::repeat_n(7u8, body));
        b
    }

    fn length(bytes: &[u8]) -> u64 {
        complete_length(&mut Cursor::new(bytes), bytes.len() as u64).unwrap()
    }

    #[test]
    fn a_file_cut_anywhere_keeps_only_its_whole_fragments() {
        let head = [boxed(b"ftyp", 16), boxed(b"moov", 100)].concat();
        let frag = [boxed(b"moof", 40), boxed(b"mdat", 500)].concat();
        let whole = [head.clone(), frag.clone(), frag.clone()].concat();
        assert_eq!(length(&whole), whole.len() as u64);
        let one = (head.len() + frag.len()) as u64;
        // Cut inside the second mdat, inside its moof, right after its moof.
        for cut in [whole.len() - 1, one as usize + 20, one as usize + 48] {
            assert_eq!(length(&whole[..cut]), one, "cut at {cut}");
        }
        // Cut inside a box header.
        assert_eq!(length(&whole[..head.len() + 5]), head.len() as u64);
        assert_eq!(length(&[]), 0);
    }

    #[test]
    fn large_sizes_and_boxes_to_the_end_of_the_file_are_understood() {
        let mut big = 1u32.to_be_bytes().to_vec();
        big.extend_from_slice(b"mdat");
        big.extend_from_slice(&(16u64 + 4).to_be_bytes());
        big.extend_from_slice(&[1, 2, 3, 4]);
        let file = [boxed(b"ftyp", 8), big].concat();
        assert_eq!(length(&file), file.len() as u64);
        let open_ended = [
            boxed(b"ftyp", 8),
            vec![0, 0, 0, 0, b'm', b'd', b'a', b't', 9],
        ]
        .concat();
        assert_eq!(length(&open_ended), 16);
    }

    #[test]
    fn a_large_size_smaller_than_its_own_header_ends_the_file() {
        let mut bad = 1u32.to_be_bytes().to_vec();
        bad.extend_from_slice(b"mdat");
        bad.extend_from_slice(&8u64.to_be_bytes());
        let file = [boxed(b"ftyp", 8), bad].concat();
        assert_eq!(length(&file), 16);
    }

    #[test]
    fn a_large_size_past_any_file_ends_the_file() {
        // Found by the fuzzer: the end of such a box overflowed.
        let mut huge = 1u32.to_be_bytes().to_vec();
        huge.extend_from_slice(b"mdat");
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        let file = [boxed(b"ftyp", 8), huge, vec![0; 32]].concat();
        assert_eq!(length(&file), 16);
    }

    #[test]
    fn trimming_a_file_on_disk_cuts_it_to_its_whole_boxes() {
        let dir = std::env::temp_dir().join(format!("dropcast-mp4-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cut.mp4");
        let whole = [boxed(b"ftyp", 8), boxed(b"moov", 8), boxed(b"moof", 8)].concat();
        std::fs::write(&path, &whole[..whole.len() - 3]).unwrap();
        assert_eq!(trim_incomplete(&path).unwrap(), 13);
        assert_eq!(std::fs::read(&path).unwrap(), whole[..32]);
        assert_eq!(trim_incomplete(&path).unwrap(), 0);
        assert_eq!(fragments(&path).unwrap(), 0, "a header and no video");
        let with_video = [whole.clone(), boxed(b"mdat", 4)].concat();
        std::fs::write(&path, &with_video).unwrap();
        assert_eq!(fragments(&path).unwrap(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
