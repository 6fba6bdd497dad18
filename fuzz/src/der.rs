//! Just enough DER to wrap and rewrite signed structures: one-byte tags, definite lengths.

/// One TLV: its full encoding, its tag and its contents.
#[derive(Clone, Copy, Debug)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub full: &'a [u8],
    pub content: &'a [u8],
}

/// Reads one TLV from the front of `input`; returns it and the bytes after it.
pub fn read(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, after_tag) = input.split_first()?;
    let (&first, after_length) = after_tag.split_first()?;
    let (length, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || after_length.len() < count {
            return None;
        }
        let length = after_length[..count]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (length, 2 + count)
    };
    let end = header.checked_add(length)?;
    if input.len() < end {
        return None;
    }
    Some((
        Tlv {
            tag,
            full: &input[..end],
            content: &input[header..end],
        },
        &input[end..],
    ))
}

/// Every TLV inside `content`, in order; `None` if anything does not decode.
pub fn children(mut content: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (tlv, rest) = read(content)?;
        out.push(tlv);
        content = rest;
    }
    Some(out)
}

/// Encodes one TLV with the shortest definite length.
pub fn write(tag: u8, content: &[u8]) -> Vec<u8> {
    certgate_pki::der_tlv(tag, content)
}

pub const SEQUENCE: u8 = 0x30;
pub const BIT_STRING: u8 = 0x03;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lengths_round_trip() {
        for length in [0usize, 1, 127, 128, 255, 256, 65_535, 65_536] {
            let content = vec![0xab; length];
            let encoded = write(SEQUENCE, &content);
            let (tlv, rest) = read(&encoded).expect("own encoding decodes");
            assert!(rest.is_empty());
            assert_eq!(tlv.tag, SEQUENCE);
            assert_eq!(tlv.content.len(), length);
        }
    }

    #[test]
    fn truncated_input_is_rejected() {
        let encoded = write(SEQUENCE, &[1, 2, 3]);
        assert!(read(&encoded[..encoded.len() - 1]).is_none());
        assert!(read(&[0x30, 0x81]).is_none());
    }
}
