//! `certgate user import`: adds the users of a CSV file, one transaction per row, and reports
//! every row.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use certgate_core::directory::{import_users, parse_users_csv};
use certgate_pki::UnixTime;
use certgate_server::admin_api::resource::{NewUser, User};
use certgate_store::SqlStore;
use serde_json::{json, Value};

use super::directory_refused;
use crate::remote::Remote;

/// One row of an import: the UPN and object ID added, or the refusal's code and message.
struct ImportRow {
    row: u64,
    upn: Option<String>,
    result: Result<(String, String), (String, String)>,
}

fn print_import(report: &[ImportRow], json: bool) -> anyhow::Result<ExitCode> {
    let refused_rows = report.iter().filter(|row| row.result.is_err()).count();
    let added = report.len() - refused_rows;
    if json {
        let rows: Vec<Value> = report
            .iter()
            .map(|row| match &row.result {
                Ok((upn, id)) => json!({
                    "row": row.row, "userPrincipalName": upn, "ok": true, "id": id,
                }),
                Err((code, message)) => json!({
                    "row": row.row, "userPrincipalName": row.upn,
                    "ok": false, "code": code, "message": message,
                }),
            })
            .collect();
        outln!(
            "{}",
            serde_json::to_string_pretty(
                &json!({ "added": added, "refused": refused_rows, "rows": rows })
            )?
        );
    } else {
        for row in report {
            // A refused row's UPN and message quote the file as it is: escaped for the terminal.
            let upn = certgate_core::escape_control(row.upn.as_deref().unwrap_or("(no UPN)"));
            match &row.result {
                Ok((_, id)) => outln!("row {:>4}  added    {upn} ({id})", row.row),
                Err((code, message)) => outln!(
                    "row {:>4}  REFUSED  {upn}: {} ({code})",
                    row.row,
                    certgate_core::escape_control(message)
                ),
            }
        }
        outln!(
            "{added} user{} added, {refused_rows} row{} refused",
            if added == 1 { "" } else { "s" },
            if refused_rows == 1 { "" } else { "s" }
        );
    }
    Ok(if refused_rows == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub(super) async fn run(
    store: &SqlStore,
    file: PathBuf,
    json: bool,
    now: UnixTime,
    actor: &str,
) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    let rows = match parse_users_csv(&bytes) {
        Ok(rows) => rows,
        Err(error) => return Ok(directory_refused(&error, json)),
    };
    let report: Vec<ImportRow> = import_users(store, rows, now, actor)
        .await
        .into_iter()
        .map(|row| ImportRow {
            row: row.row,
            upn: row.upn,
            result: row
                .result
                .map(|user| (user.upn.to_string(), user.id.to_string()))
                .map_err(|error| (error.code().to_owned(), error.to_string())),
        })
        .collect();
    print_import(&report, json)
}

pub(super) async fn run_remote(
    remote: &Remote,
    file: PathBuf,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    let rows = match parse_users_csv(&bytes) {
        Ok(rows) => rows,
        Err(error) => return Ok(directory_refused(&error, json)),
    };
    // One request per row: each row is its own transaction, as in a local import.
    let mut report = Vec::with_capacity(rows.len());
    for row in rows {
        let result = match row.draft {
            Ok(draft) => match remote
                .post::<_, User>("/users", Some(&NewUser::from(draft)))
                .await?
            {
                Ok(user) => Ok((user.user_principal_name, user.id)),
                Err(refusal) => Err((refusal.code, refusal.message)),
            },
            Err(error) => Err((error.code().to_owned(), error.to_string())),
        };
        report.push(ImportRow {
            row: row.row,
            upn: row.upn,
            result,
        });
    }
    print_import(&report, json)
}
