//! The immutable ID Entra Connect derives from an Active Directory GUID, and the GUID's text
//! form.

use base64::Engine as _;

/// The immutable ID of an account whose sourceAnchor is `guid` (objectGUID or
/// ms-DS-ConsistencyGuid): standard, padded base64 of the 16 bytes exactly as AD stores and
/// sends them, which is what Entra Connect writes to onPremisesImmutableId ("Azure AD Connect:
/// Design concepts", sourceAnchor; ms-DS-ConsistencyGuid is set to the objectGUID's bytes, so
/// both give the same value for an account that never moved between forests).
///
/// AD stores a GUID in Microsoft's in-memory `GUID` layout (MS-DTYP §2.3.4.2): the first
/// three fields little-endian, the last eight bytes as they are. So the bytes are *not* the
/// big-endian RFC 9562 order of the text form; [`guid_text`] shows the text. `None` when
/// `guid` is not 16 bytes.
pub fn immutable_id_from_guid(guid: &[u8]) -> Option<String> {
    (guid.len() == 16).then(|| base64::engine::general_purpose::STANDARD.encode(guid))
}

/// The text form (`1343c776-81b7-4724-8f9a-15dff1eb6920`) of a GUID in AD's byte order, as
/// `samba-tool`, PowerShell's `Get-ADUser` and ADSI Edit show objectGUID: the first three
/// fields read little-endian. `None` when `guid` is not 16 bytes.
pub fn guid_text(guid: &[u8]) -> Option<String> {
    let bytes: &[u8; 16] = guid.try_into().ok()?;
    let reversed = |range: std::ops::Range<usize>| {
        crate::hex(&bytes[range].iter().rev().copied().collect::<Vec<u8>>())
    };
    Some(format!(
        "{}-{}-{}-{}-{}",
        reversed(0..4),
        reversed(4..6),
        reversed(6..8),
        crate::hex(&bytes[8..10]),
        crate::hex(&bytes[10..16]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A GUID that Samba 4.17 gave a test account, seen three ways: `samba-tool user show`
    /// printed `objectGUID: 1343c776-81b7-4724-8f9a-15dff1eb6920`, and `ldapsearch` printed the
    /// raw attribute as `objectGUID:: dsdDE7eBJEePmhXf8etpIA==`. By hand: the first field
    /// 1343c776 is stored little-endian as 76 c7 43 13, the second 81b7 as b7 81, the third
    /// 4724 as 24 47, and the last eight bytes 8f 9a 15 df f1 eb 69 20 as written; base64 of
    /// those 16 bytes is dsdDE7eBJEePmhXf8etpIA== (Python's `uuid.UUID(...).bytes_le` agrees).
    const GUID_TEXT: &str = "1343c776-81b7-4724-8f9a-15dff1eb6920";
    const GUID_AS_STORED: [u8; 16] = [
        0x76, 0xc7, 0x43, 0x13, 0xb7, 0x81, 0x24, 0x47, 0x8f, 0x9a, 0x15, 0xdf, 0xf1, 0xeb, 0x69,
        0x20,
    ];
    const IMMUTABLE_ID: &str = "dsdDE7eBJEePmhXf8etpIA==";

    #[test]
    fn the_immutable_id_is_base64_of_the_guid_bytes_as_ad_stores_them() {
        assert_eq!(
            immutable_id_from_guid(&GUID_AS_STORED).as_deref(),
            Some(IMMUTABLE_ID)
        );
        assert_eq!(guid_text(&GUID_AS_STORED).as_deref(), Some(GUID_TEXT));
    }

    #[test]
    fn the_big_endian_text_order_gives_another_immutable_id() {
        // The mistake this module exists to avoid: the bytes in text order.
        let text_order = crate::parse_hex(&GUID_TEXT.replace('-', "")).expect("hex");
        assert_ne!(
            immutable_id_from_guid(&text_order).as_deref(),
            Some(IMMUTABLE_ID)
        );
    }

    #[test]
    fn only_sixteen_bytes_are_a_guid() {
        assert_eq!(immutable_id_from_guid(&GUID_AS_STORED[..15]), None);
        assert_eq!(immutable_id_from_guid(&[0; 17]), None);
        assert_eq!(guid_text(&[]), None);
    }
}
