//! `certgate user import`: reading a CSV file of users (columns named as in Microsoft Graph)
//! into drafts, and adding each usable row in its own transaction.

use certgate_pki::UnixTime;

use super::{add_user, DirectoryError, User, UserDraft, UserStore};

/// Columns of `certgate user import`, by Microsoft Graph name (case-insensitive).
/// Multi-valued cells separate values with `;` (a `;` inside a certificateUserIds value is
/// kept: values are split only before `X509:`).
pub const IMPORT_COLUMNS: [&str; 8] = [
    "userPrincipalName",
    "displayName",
    "mail",
    "onPremisesImmutableId",
    "proxyAddresses",
    "certificateUserIds",
    "accountEnabled",
    "groups",
];

/// One data row of an import file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvUserRow {
    /// Line number in the file (the header is line 1).
    pub row: u64,
    /// The UPN cell, when the row has one (for the report).
    pub upn: Option<String>,
    /// The user the row describes, or why the row cannot be imported (a bad cell, a wrong number of
    /// fields).
    pub draft: Result<UserDraft, DirectoryError>,
}

/// Reads an import file. A header that cannot be used (no userPrincipalName column, an
/// unknown or repeated column) refuses the whole file, since a column certgate does not know
/// would otherwise be dropped silently. Every data row comes back, each with its draft or the
/// reason it is unusable.
pub fn parse_users_csv(bytes: &[u8]) -> Result<Vec<CsvUserRow>, DirectoryError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header = reader
        .byte_headers()
        .map_err(|error| DirectoryError::ImportHeader {
            why: error.to_string(),
        })?
        .clone();
    let mut columns: Vec<usize> = Vec::with_capacity(header.len());
    for cell in header.iter() {
        let name = String::from_utf8_lossy(cell);
        let Some(index) = IMPORT_COLUMNS
            .iter()
            .position(|known| known.eq_ignore_ascii_case(&name))
        else {
            return Err(DirectoryError::ImportHeader {
                why: format!(
                    "unknown column \"{name}\" (the columns are {})",
                    IMPORT_COLUMNS.join(", ")
                ),
            });
        };
        if columns.contains(&index) {
            return Err(DirectoryError::ImportHeader {
                why: format!("the column {} appears twice", IMPORT_COLUMNS[index]),
            });
        }
        columns.push(index);
    }
    if !columns.contains(&0) {
        return Err(DirectoryError::ImportHeader {
            why: "the userPrincipalName column is required (first line: the column names)".into(),
        });
    }
    let mut rows = Vec::new();
    let mut record = csv::ByteRecord::new();
    // Line numbers are counted here from the record's byte offset: the csv reader's own line
    // count is off by one per line in a CRLF file (Excel's and Windows' default).
    let line_of = |position: &csv::Position| line_at(bytes, position.byte());
    loop {
        let line = line_of(reader.position());
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let row = record.position().map_or(line, line_of);
                rows.push(parse_row(row, &columns, &record));
            }
            Err(error) => {
                let row = error.position().map_or(line, line_of);
                rows.push(CsvUserRow {
                    row,
                    upn: None,
                    draft: Err(DirectoryError::ImportRowMalformed {
                        why: error.to_string(),
                    }),
                });
                if matches!(error.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
            }
        }
    }
    Ok(rows)
}

/// The 1-based line that byte `offset` of `bytes` is on; CRLF, LF and a lone CR each end a
/// line.
fn line_at(bytes: &[u8], offset: u64) -> u64 {
    let end = usize::try_from(offset).map_or(bytes.len(), |offset| offset.min(bytes.len()));
    let before = &bytes[..end];
    let mut line = 1;
    for (i, &byte) in before.iter().enumerate() {
        let ends_line = byte == b'\n' || (byte == b'\r' && before.get(i + 1) != Some(&b'\n'));
        if ends_line {
            line += 1;
        }
    }
    line
}

fn parse_row(row: u64, columns: &[usize], record: &csv::ByteRecord) -> CsvUserRow {
    let mut cells: [Option<String>; IMPORT_COLUMNS.len()] = Default::default();
    let mut malformed = None;
    if record.len() != columns.len() {
        malformed = Some(format!(
            "it has {} fields, the header has {}",
            record.len(),
            columns.len()
        ));
    }
    for (cell, &column) in record.iter().zip(columns) {
        match std::str::from_utf8(cell) {
            Ok(text) if !text.is_empty() => cells[column] = Some(text.to_owned()),
            Ok(_) => {}
            Err(_) => {
                malformed
                    .get_or_insert(format!("the {} field is not UTF-8", IMPORT_COLUMNS[column]));
            }
        }
    }
    let upn = cells[0].clone();
    let draft = match (malformed, &upn) {
        (Some(why), _) => Err(DirectoryError::ImportRowMalformed { why }),
        (None, None) => Err(DirectoryError::UpnInvalid {
            upn: String::new(),
            why: "the userPrincipalName field is empty".into(),
        }),
        (None, Some(upn)) => draft_from_cells(upn, cells),
    };
    CsvUserRow { row, upn, draft }
}

fn draft_from_cells(
    upn: &str,
    cells: [Option<String>; IMPORT_COLUMNS.len()],
) -> Result<UserDraft, DirectoryError> {
    let [_, display_name, mail, immutable_id, proxy_addresses, certificate_user_ids, enabled, groups] =
        cells;
    let list = |cell: Option<String>| -> Vec<String> {
        cell.iter()
            .flat_map(|text| text.split(';'))
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let enabled = match enabled.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("true" | "yes" | "1") => true,
        Some("false" | "no" | "0") => false,
        Some(_) => {
            return Err(DirectoryError::FieldInvalid {
                field: "accountEnabled",
                value: enabled.unwrap_or_default(),
                why: "use true or false".into(),
            })
        }
    };
    Ok(UserDraft {
        upn: upn.to_owned(),
        immutable_id,
        display_name,
        mail,
        proxy_addresses: list(proxy_addresses),
        certificate_user_ids: certificate_user_ids
            .as_deref()
            .map(split_certificate_user_ids)
            .unwrap_or_default(),
        enabled,
        groups: list(groups),
    })
}

/// Splits `X509:<...>;X509:<...>` at the `;` that start a new value.
fn split_certificate_user_ids(cell: &str) -> Vec<String> {
    let mut values: Vec<String> = Vec::new();
    for piece in cell.split(';') {
        match values.last_mut() {
            Some(last) if !piece.trim_start().starts_with("X509:") => {
                last.push(';');
                last.push_str(piece);
            }
            _ => values.push(piece.to_owned()),
        }
    }
    values
        .into_iter()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
        .collect()
}

/// What happened to one row of an import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedRow {
    /// Line number in the file, as in [`CsvUserRow::row`].
    pub row: u64,
    /// The UPN cell, when the row has one.
    pub upn: Option<String>,
    /// The user as added, or why the row was refused (unusable, or refused by
    /// [`add_user`](super::add_user)).
    pub result: Result<User, DirectoryError>,
}

/// Adds every usable row, each in its own transaction; a refused row is reported and the
/// others are kept. Returns one entry per row, in file order.
pub async fn import_users<S: UserStore>(
    store: &S,
    rows: Vec<CsvUserRow>,
    now: UnixTime,
    actor: &str,
) -> Vec<ImportedRow> {
    let mut report = Vec::with_capacity(rows.len());
    for row in rows {
        let result = match row.draft {
            Ok(draft) => add_user(store, draft, now, actor).await,
            Err(error) => Err(error),
        };
        report.push(ImportedRow {
            row: row.row,
            upn: row.upn,
            result,
        });
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_become_drafts_or_reasons_with_their_line_numbers() {
        let csv = "\u{feff}userPrincipalName,displayName,proxyAddresses,certificateUserIds,accountEnabled,groups\n\
                   alice@contoso.example,Alice,SMTP:alice@contoso.example;smtp:al@contoso.example,\"X509:<S>CN=A;B,O=C;X509:<SKI>ab\",true,staff;vpn\n\
                   \"bob@contoso.example\",\"Bob, Jr.\",,,no,\n\
                   carol@contoso.example,Carol,,,maybe,\n\
                   dave@contoso.example,too,many,fields,true,x,y\n\
                   ,No UPN,,,,\n";
        let rows = parse_users_csv(csv.as_bytes()).expect("header is fine");
        assert_eq!(rows.len(), 5);
        let alice = rows[0].draft.as_ref().expect("alice");
        assert_eq!(rows[0].row, 2);
        assert_eq!(
            alice.proxy_addresses,
            ["SMTP:alice@contoso.example", "smtp:al@contoso.example"]
        );
        assert_eq!(
            alice.certificate_user_ids,
            ["X509:<S>CN=A;B,O=C", "X509:<SKI>ab"]
        );
        assert_eq!(alice.groups, ["staff", "vpn"]);
        let bob = rows[1].draft.as_ref().expect("bob");
        assert_eq!(bob.display_name.as_deref(), Some("Bob, Jr."));
        assert!(!bob.enabled);
        assert_eq!(rows[2].row, 4);
        assert_eq!(
            rows[2].draft.as_ref().unwrap_err().code(),
            "user-field-invalid"
        );
        assert_eq!(
            rows[3].draft.as_ref().unwrap_err().code(),
            "import-row-malformed"
        );
        assert_eq!(rows[3].upn.as_deref(), Some("dave@contoso.example"));
        assert_eq!(rows[4].row, 6);
        assert_eq!(
            rows[4].draft.as_ref().unwrap_err().code(),
            "user-upn-invalid"
        );
    }

    /// Excel and Windows write CRLF: the row numbers of the report are the lines an editor
    /// shows, whatever the line ending (a quoted cell may span lines: its row is the first).
    #[test]
    fn csv_row_numbers_are_lines_with_crlf_lf_and_cr_endings() {
        let lf = "userPrincipalName,displayName\n\
                  alice@contoso.example,Alice\n\
                  bob@contoso.example,\"Bob\nSecond line\"\n\
                  ,No UPN\n\
                  carol@contoso.example,Carol\n";
        for ending in ["\n", "\r\n", "\r"] {
            let text = lf.replace('\n', ending);
            let rows = parse_users_csv(text.as_bytes()).expect("header is fine");
            let numbers: Vec<u64> = rows.iter().map(|row| row.row).collect();
            assert_eq!(numbers, [2, 3, 5, 6], "{ending:?}");
            assert_eq!(
                rows[2].draft.as_ref().unwrap_err().code(),
                "user-upn-invalid",
                "{ending:?}"
            );
        }
    }

    #[test]
    fn a_csv_header_that_would_drop_data_refuses_the_file() {
        for header in [
            "displayName\nAlice\n",
            "userPrincipalName,department\nalice@x,Sales\n",
            "userPrincipalName,mail,MAIL\na@x,a@x,a@x\n",
        ] {
            assert_eq!(
                parse_users_csv(header.as_bytes()).unwrap_err().code(),
                "import-header-invalid",
                "{header}"
            );
        }
    }
}
