//! GeneralName and GeneralNames (RFC 5280 §4.2.1.6): walked borrowed from the encoding,
//! checked, and turned into owned [`GeneralName`]s on demand.

use super::{checked_oid, non_empty, owned_oid};
use crate::certificate::GeneralName;
use crate::der::{tag, DerError, DerResult, Reader};
use crate::name::Name;

/// A GeneralName borrowed from the encoding, checked: text is ASCII, OIDs are well formed,
/// a directory name is a well-formed Name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GeneralNameRef<'a> {
    Rfc822(&'a str),
    Dns(&'a str),
    Uri(&'a str),
    Ip(&'a [u8]),
    /// The Name's encoding.
    Directory(&'a [u8]),
    /// The type's OID content and the `[0] EXPLICIT` wrapper's content (the inner TLV).
    OtherName {
        type_id: &'a [u8],
        value: &'a [u8],
    },
    RegisteredId(&'a [u8]),
    Unsupported {
        tag: u32,
    },
}

impl GeneralNameRef<'_> {
    pub(crate) fn to_owned(self) -> GeneralName {
        match self {
            GeneralNameRef::Rfc822(text) => GeneralName::Rfc822(text.to_owned()),
            GeneralNameRef::Dns(text) => GeneralName::Dns(text.to_owned()),
            GeneralNameRef::Uri(text) => GeneralName::Uri(text.to_owned()),
            GeneralNameRef::Ip(octets) => GeneralName::Ip(octets.to_vec()),
            GeneralNameRef::Directory(der) => GeneralName::Directory(Name::from_checked_der(der)),
            GeneralNameRef::OtherName { type_id, value } => GeneralName::OtherName {
                type_id: owned_oid(type_id),
                value: value.to_vec(),
            },
            GeneralNameRef::RegisteredId(oid) => GeneralName::RegisteredId(owned_oid(oid)),
            GeneralNameRef::Unsupported { tag } => GeneralName::Unsupported { tag },
        }
    }
}

/// The content of GeneralNames (SEQUENCE SIZE (1..MAX) OF GeneralName), whether it came
/// from a SEQUENCE or an implicitly tagged field, one name at a time.
pub(crate) fn walk_general_names<'a>(
    content: &'a [u8],
    mut visit: impl FnMut(GeneralNameRef<'a>) -> DerResult<()>,
) -> DerResult<()> {
    let mut items = non_empty(Reader::new(content))?;
    while !items.is_empty() {
        visit(general_name_ref(&mut items)?)?;
    }
    Ok(())
}

/// The owned GeneralNames of `content` (see [`walk_general_names`]).
pub(crate) fn general_names(content: &[u8]) -> DerResult<Vec<GeneralName>> {
    let mut names = Vec::new();
    walk_general_names(content, |name| {
        names.push(name.to_owned());
        Ok(())
    })?;
    Ok(names)
}

/// GeneralName ::= CHOICE {
///   otherName [0] OtherName, rfc822Name [1] IA5String, dNSName [2] IA5String,
///   x400Address [3] ORAddress, directoryName [4] Name, ediPartyName [5] EDIPartyName,
///   uniformResourceIdentifier [6] IA5String, iPAddress [7] OCTET STRING,
///   registeredID [8] OBJECT IDENTIFIER }
/// Each alternative must carry its own primitive or constructed form. x400Address and
/// ediPartyName are kept as `Unsupported` so that name constraints can fail closed on them.
pub(crate) fn general_name_ref<'a>(items: &mut Reader<'a>) -> DerResult<GeneralNameRef<'a>> {
    let element = items.read()?;
    let ia5 = |content: &'a [u8]| -> DerResult<&'a str> {
        match std::str::from_utf8(content) {
            Ok(text) if text.is_ascii() => Ok(text),
            _ => Err(DerError("an IA5String with a non-ASCII octet")),
        }
    };
    Ok(match element.tag {
        t if t == tag::context_constructed(0) => {
            // OtherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY }
            let mut fields = Reader::new(element.value);
            let type_id = checked_oid(fields.expect(tag::OID)?)?;
            let mut explicit = Reader::new(fields.expect(tag::context_constructed(0))?);
            let value = explicit.read()?.raw;
            explicit.finish()?;
            fields.finish()?;
            GeneralNameRef::OtherName { type_id, value }
        }
        t if t == tag::context(1) => GeneralNameRef::Rfc822(ia5(element.value)?),
        t if t == tag::context(2) => GeneralNameRef::Dns(ia5(element.value)?),
        t if t == tag::context_constructed(3) => GeneralNameRef::Unsupported { tag: 3 },
        t if t == tag::context_constructed(4) => {
            // A CHOICE (Name) under a tag is explicitly tagged.
            crate::name::check_der(element.value)?;
            GeneralNameRef::Directory(element.value)
        }
        t if t == tag::context_constructed(5) => GeneralNameRef::Unsupported { tag: 5 },
        t if t == tag::context(6) => GeneralNameRef::Uri(ia5(element.value)?),
        t if t == tag::context(7) => GeneralNameRef::Ip(element.value),
        t if t == tag::context(8) => GeneralNameRef::RegisteredId(checked_oid(element.value)?),
        _ => return Err(DerError("not a GeneralName alternative")),
    })
}
