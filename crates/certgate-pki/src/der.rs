//! A DER reader over borrowed bytes: one TLV at a time, no allocation.
//!
//! Written here rather than taken from a crate because certificate parsing is on the sign-in
//! path and the crates on hand do more than it needs: x509-parser decodes every field into
//! owned structures up front (most of the cost of a sign-in that is not signature
//! verification), and `der` 0.7's reader refuses universal tags that names legitimately carry
//! (UniversalString, GeneralString). What certgate needs is the outline: where each element
//! starts and ends, so that fields can be decoded later, on first use, from the certificate's
//! own bytes.
//!
//! DER only (X.690 §10): definite lengths in the fewest octets, low-tag-number identifiers.

/// Identifier octets certgate reads (X.690 §8.1.2), class and constructed bit included.
pub(crate) mod tag {
    pub(crate) const BOOLEAN: u8 = 0x01;
    pub(crate) const INTEGER: u8 = 0x02;
    pub(crate) const BIT_STRING: u8 = 0x03;
    pub(crate) const OCTET_STRING: u8 = 0x04;
    pub(crate) const NULL: u8 = 0x05;
    pub(crate) const OID: u8 = 0x06;
    pub(crate) const UTC_TIME: u8 = 0x17;
    pub(crate) const GENERALIZED_TIME: u8 = 0x18;
    pub(crate) const SEQUENCE: u8 = 0x30;
    pub(crate) const SET: u8 = 0x31;

    /// `[n] IMPLICIT` of a primitive type.
    pub(crate) const fn context(n: u8) -> u8 {
        0x80 | n
    }
    /// `[n]` constructed: EXPLICIT tagging, or IMPLICIT of a SEQUENCE / CHOICE.
    pub(crate) const fn context_constructed(n: u8) -> u8 {
        0xa0 | n
    }
}

/// One element: its identifier octet, its content, and the whole encoding.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tlv<'a> {
    pub(crate) tag: u8,
    pub(crate) value: &'a [u8],
    pub(crate) raw: &'a [u8],
}

/// Why the bytes are not DER. Callers fold this into their own reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DerError(pub(crate) &'static str);

impl std::fmt::Display for DerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

pub(crate) type DerResult<T> = Result<T, DerError>;

/// Reads consecutive elements from a slice (the content of a SEQUENCE, SET, or a whole
/// encoding).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The identifier octet of the next element, without consuming it.
    #[inline]
    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next element, whatever its tag.
    #[inline]
    pub(crate) fn read(&mut self) -> DerResult<Tlv<'a>> {
        let input = self.rest;
        let (&identifier, after_tag) = input.split_first().ok_or(DerError("truncated"))?;
        if identifier & 0x1f == 0x1f {
            return Err(DerError("high-tag-number identifier"));
        }
        let (&first, after_first) = after_tag.split_first().ok_or(DerError("truncated"))?;
        let (length, after_length) = if first < 0x80 {
            (usize::from(first), after_first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 {
                return Err(DerError("indefinite length"));
            }
            if count > 4 {
                return Err(DerError("length too large"));
            }
            if after_first.len() < count {
                return Err(DerError("truncated"));
            }
            let (digits, after) = after_first.split_at(count);
            if digits[0] == 0 {
                return Err(DerError("length not in its shortest form"));
            }
            let length = digits
                .iter()
                .fold(0usize, |acc, &d| (acc << 8) | usize::from(d));
            if length < 0x80 {
                return Err(DerError("length not in its shortest form"));
            }
            (length, after)
        };
        if after_length.len() < length {
            return Err(DerError("truncated"));
        }
        let header = input.len() - after_length.len();
        let (raw, rest) = input.split_at(header + length);
        self.rest = rest;
        Ok(Tlv {
            tag: identifier,
            value: &raw[header..],
            raw,
        })
    }

    /// The next element, which must carry `tag`; returns its content.
    #[inline]
    pub(crate) fn expect(&mut self, tag: u8) -> DerResult<&'a [u8]> {
        Ok(self.expect_tlv(tag)?.value)
    }

    #[inline]
    pub(crate) fn expect_tlv(&mut self, tag: u8) -> DerResult<Tlv<'a>> {
        let element = self.read()?;
        if element.tag != tag {
            return Err(DerError("unexpected tag"));
        }
        Ok(element)
    }

    /// The next element's content when it carries `tag`; nothing is consumed otherwise.
    #[inline]
    pub(crate) fn optional(&mut self, tag: u8) -> DerResult<Option<&'a [u8]>> {
        if self.peek_tag() == Some(tag) {
            self.expect(tag).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Fails unless every byte was consumed.
    pub(crate) fn finish(&self) -> DerResult<()> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DerError("trailing data"))
        }
    }
}

/// Where `part`, a subslice of `whole` (a value the reader returned), lies in it.
pub(crate) fn range_in(whole: &[u8], part: &[u8]) -> std::ops::Range<usize> {
    let start = (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize);
    start..start + part.len()
}

/// Exactly one element carrying `tag` and nothing after it; returns its content.
pub(crate) fn single(bytes: &[u8], tag: u8) -> DerResult<&[u8]> {
    let mut reader = Reader::new(bytes);
    let content = reader.expect(tag)?;
    reader.finish()?;
    Ok(content)
}

/// A DER BOOLEAN's content: 0x00 or 0xFF (X.690 §11.1).
pub(crate) fn boolean(content: &[u8]) -> DerResult<bool> {
    match content {
        [0x00] => Ok(false),
        [0xff] => Ok(true),
        _ => Err(DerError("BOOLEAN is not 0x00 or 0xFF")),
    }
}

/// A non-negative INTEGER that fits in 32 bits, minimally encoded (X.690 §8.3.2).
pub(crate) fn small_unsigned(content: &[u8]) -> DerResult<u32> {
    let (&first, _) = content.split_first().ok_or(DerError("empty INTEGER"))?;
    if first & 0x80 != 0 {
        return Err(DerError("negative INTEGER"));
    }
    if content.len() > 1 && first == 0 && content[1] & 0x80 == 0 {
        return Err(DerError("INTEGER not in its shortest form"));
    }
    let digits = if first == 0 { &content[1..] } else { content };
    if digits.len() > 4 {
        return Err(DerError("INTEGER too large"));
    }
    Ok(digits
        .iter()
        .fold(0u32, |acc, &d| (acc << 8) | u32::from(d)))
}

/// A BIT STRING's bits when no bit is unused (keys and signatures).
pub(crate) fn whole_octets_bit_string(content: &[u8]) -> DerResult<&[u8]> {
    match content.split_first() {
        Some((0, bits)) => Ok(bits),
        Some(_) => Err(DerError("BIT STRING with unused bits")),
        None => Err(DerError("empty BIT STRING")),
    }
}

/// One TLV with the shortest definite length (X.690 §10.1): the one DER writer the workspace
/// uses (certgate-ca's issuance and the fuzz harness call it too).
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    write_tlv(&mut out, tag, content);
    out
}

/// Appends `tag`, the DER length of `content`, and `content`.
pub(crate) fn write_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    let length = content.len();
    if length < 0x80 {
        out.push(length as u8);
    } else {
        let bytes = length.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_must_be_definite_and_shortest() {
        assert_eq!(
            Reader::new(&[0x04, 0x80]).read().unwrap_err().0,
            "indefinite length"
        );
        assert_eq!(
            Reader::new(&[0x04, 0x81, 0x05, 0, 0, 0, 0, 0])
                .read()
                .unwrap_err()
                .0,
            "length not in its shortest form"
        );
        assert_eq!(
            Reader::new(&[0x04, 0x82, 0x00, 0x80]).read().unwrap_err().0,
            "length not in its shortest form"
        );
        assert_eq!(
            Reader::new(&[0x04, 0x02, 0]).read().unwrap_err().0,
            "truncated"
        );
        assert_eq!(
            Reader::new(&[0x1f, 0x22, 0]).read().unwrap_err().0,
            "high-tag-number identifier"
        );
        let long = [&[0x04, 0x81, 0x80][..], &[7u8; 0x80]].concat();
        let element = Reader::new(&long).read().unwrap();
        assert_eq!(element.value.len(), 0x80);
        assert_eq!(element.raw.len(), long.len());
    }

    #[test]
    fn writer_round_trips_through_reader() {
        for length in [0usize, 1, 0x7f, 0x80, 0xff, 0x100, 70_000] {
            let content = vec![0x5a; length];
            let mut out = Vec::new();
            write_tlv(&mut out, tag::OCTET_STRING, &content);
            assert_eq!(single(&out, tag::OCTET_STRING).unwrap(), &content[..]);
        }
    }

    #[test]
    fn integers_and_booleans_follow_der() {
        assert_eq!(small_unsigned(&[0x00]), Ok(0));
        assert_eq!(small_unsigned(&[0x00, 0x80]), Ok(128));
        assert!(small_unsigned(&[0x00, 0x7f]).is_err());
        assert!(small_unsigned(&[0xff]).is_err());
        assert!(small_unsigned(&[1, 0, 0, 0, 0]).is_err());
        assert_eq!(boolean(&[0xff]), Ok(true));
        assert!(boolean(&[0x01]).is_err());
    }
}
