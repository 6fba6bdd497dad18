//! PEM encoding (RFC 7468), so that the targets can feed DER through the PEM code path.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `-----BEGIN {label}-----`, base64 in 64-column lines, `-----END {label}-----`.
pub fn encode(label: &str, der: &[u8]) -> String {
    let mut body = Vec::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            body.push(if i <= chunk.len() {
                ALPHABET[(n >> (18 - 6 * i)) as usize & 63]
            } else {
                b'='
            });
        }
    }
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in body.chunks(64) {
        pem.extend(line.iter().map(|&b| char::from(b)));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_rfc4648_test_vectors() {
        let body = |s: &str| {
            let pem = super::encode("X", s.as_bytes());
            pem.lines().nth(1).unwrap_or_default().to_string()
        };
        assert_eq!(body("f"), "Zg==");
        assert_eq!(body("fo"), "Zm8=");
        assert_eq!(body("foo"), "Zm9v");
        assert_eq!(body("foobar"), "Zm9vYmFy");
    }
}
