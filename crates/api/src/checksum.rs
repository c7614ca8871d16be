//! CRC64-NVME: the checksum of every part and of every whole file.
//!
//! It is the checksum S3 verifies for a part and, as a `FULL_OBJECT`
//! checksum, for the whole object at `CompleteMultipartUpload`. CRCs
//! compose: the whole file's value is [`Crc64::then`] over its parts'
//! values and lengths, so neither side reads a byte twice. On the wire (a
//! header or JSON) a value is the base64 of its eight big-endian bytes, as
//! S3 writes it; [`Crc64::to_hex`] is the form kept in databases.

use crc_fast::CrcAlgorithm::Crc64Nvme;

/// The header that carries a part's CRC64-NVME on `PUT <part url>`: the name
/// S3 uses, so a presigned S3 URL verifies it too.
pub const CHECKSUM_HEADER: &str = "x-amz-checksum-crc64nvme";

/// A CRC64-NVME value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Crc64(pub u64);

impl Crc64 {
    /// The CRC of `bytes` in one call.
    pub fn of(bytes: &[u8]) -> Crc64 {
        Crc64(crc_fast::checksum(Crc64Nvme, bytes))
    }

    /// The CRC of this value's bytes followed by `next_len` bytes whose
    /// CRC is `next`. The CRC of nothing is `Crc64::default()`.
    ///
    /// Appending `n` bytes multiplies the first value by x^(8n) modulo the
    /// polynomial; the initial value and the final xor are both all ones,
    /// so they cancel. x^(8n) is a product of the powers x^(2^k) in
    /// [`X_TO_2_TO_K`], one per set bit of 8n: about a microsecond a
    /// call, where crc-fast's matrix method takes some 170.
    pub fn then(self, next: Crc64, next_len: u64) -> Crc64 {
        let mut shift = ONE;
        let mut k = 3; // 8n = n << 3
        let mut n = next_len;
        while n != 0 {
            if n & 1 == 1 {
                shift = mul_mod(X_TO_2_TO_K[k], shift);
            }
            n >>= 1;
            k += 1;
        }
        Crc64(mul_mod(shift, self.0) ^ next.0)
    }

    /// The wire form: base64 of the eight big-endian bytes.
    pub fn to_base64(self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.0.to_be_bytes())
    }

    /// Reads [`Crc64::to_base64`]'s form; `None` for anything else.
    pub fn from_base64(s: &str) -> Option<Crc64> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .ok()?;
        Some(Crc64(u64::from_be_bytes(bytes.try_into().ok()?)))
    }

    /// Sixteen lowercase hex digits.
    pub fn to_hex(self) -> String {
        format!("{:016x}", self.0)
    }

    /// Reads [`Crc64::to_hex`]'s form; `None` for anything else.
    pub fn from_hex(s: &str) -> Option<Crc64> {
        if s.len() != 16 {
            return None;
        }
        u64::from_str_radix(s, 16).ok().map(Crc64)
    }
}

// Polynomials in CRC-64/NVME's bit order: reflected, so the top bit is
// x^0 and bit 0 is x^63.

/// CRC-64/NVME's polynomial, 0xAD93D23594C93659, reflected (x^64 implied).
const POLY: u64 = 0x9a6c_9329_ac4b_c9b5;
/// The polynomial 1.
const ONE: u64 = 1 << 63;

/// `a * b` modulo the polynomial.
const fn mul_mod(a: u64, mut b: u64) -> u64 {
    let mut product = 0;
    let mut bit = ONE; // a's x^0 term, then x^1, ...
    while bit != 0 {
        if a & bit != 0 {
            product ^= b;
        }
        // b * x
        b = if b & 1 == 1 { (b >> 1) ^ POLY } else { b >> 1 };
        bit >>= 1;
    }
    product
}

/// x^(2^k) modulo the polynomial, for k in 0..67: enough for 8n with any
/// u64 length n.
const X_TO_2_TO_K: [u64; 67] = {
    let mut table = [0u64; 67];
    let mut p = ONE >> 1; // x^1
    let mut k = 0;
    while k < 67 {
        table[k] = p;
        p = mul_mod(p, p);
        k += 1;
    }
    table
};

impl std::fmt::Display for Crc64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl serde::Serialize for Crc64 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64())
    }
}

impl<'de> serde::Deserialize<'de> for Crc64 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Crc64::from_base64(&s).ok_or_else(|| {
            serde::de::Error::custom(
                "a CRC64-NVME is the base64 of its 8 big-endian bytes (12 characters)",
            )
        })
    }
}

/// A CRC64-NVME computed over bytes as they stream past.
#[derive(Clone)]
pub struct Crc64Digest {
    inner: crc_fast::Digest,
    len: u64,
}

impl Default for Crc64Digest {
    fn default() -> Self {
        Crc64Digest {
            inner: crc_fast::Digest::new(Crc64Nvme),
            len: 0,
        }
    }
}

impl Crc64Digest {
    pub fn update(&mut self, bytes: &[u8]) {
        self.inner.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// Bytes seen so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn finish(&self) -> Crc64 {
        Crc64(self.inner.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_published_check_value() {
        // CRC-64/NVME's check value for "123456789" (the CRC catalogue).
        assert_eq!(Crc64::of(b"123456789").0, 0xae8b_1486_0a79_9888);
        assert_eq!(Crc64::of(b""), Crc64::default());
    }

    #[test]
    fn combining_parts_gives_the_whole_files_value() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for cut in [0, 1, 4096, 99_999, 100_000] {
            let (a, b) = data.split_at(cut);
            let combined = Crc64::of(a).then(Crc64::of(b), b.len() as u64);
            assert_eq!(combined, Crc64::of(&data), "cut at {cut}");
        }
        let parts = data.chunks(30_000).fold(Crc64::default(), |acc, p| {
            acc.then(Crc64::of(p), p.len() as u64)
        });
        assert_eq!(parts, Crc64::of(&data));
    }

    #[test]
    fn combining_agrees_with_crc_fast_for_large_and_odd_lengths() {
        let (a, b) = (Crc64::of(b"first"), Crc64::of(b"second"));
        for len in [
            1u64,
            7,
            4096,
            8 << 20,
            (5 << 30) + 3,
            u64::MAX >> 4,
            u64::MAX,
        ] {
            assert_eq!(
                a.then(b, len).0,
                crc_fast::checksum_combine(Crc64Nvme, a.0, b.0, len),
                "{len}"
            );
        }
        assert_eq!(a.then(Crc64::default(), 0), a);
    }

    #[test]
    fn streaming_equals_one_call() {
        let mut d = Crc64Digest::default();
        d.update(b"1234");
        d.update(b"56789");
        assert_eq!(d.finish(), Crc64::of(b"123456789"));
        assert_eq!(d.len(), 9);
    }

    #[test]
    fn wire_and_hex_forms_round_trip_and_refuse_other_lengths() {
        let c = Crc64::of(b"x");
        assert_eq!(Crc64::from_base64(&c.to_base64()), Some(c));
        assert_eq!(Crc64::from_hex(&c.to_hex()), Some(c));
        assert_eq!(c.to_base64().len(), 12);
        // A SHA-256 in either form is not a CRC.
        assert_eq!(
            Crc64::from_base64("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="),
            None
        );
        assert_eq!(Crc64::from_hex(&"0".repeat(64)), None);
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Crc64>(&json).unwrap(), c);
        assert!(serde_json::from_str::<Crc64>("\"nope\"").is_err());
    }
}
