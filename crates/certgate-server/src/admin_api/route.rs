//! The admin API's route table vocabulary: one [`Route`] per method and path, which the
//! router registers and the OpenAPI document describes. Each resource module holds the
//! routes of its handlers; [`concat`] joins them into the one table.

use axum::routing::MethodFilter;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum HttpMethod {
    Get,
    Post,
    Patch,
    Delete,
}

impl HttpMethod {
    pub(super) const ALL: [HttpMethod; 4] = [
        HttpMethod::Get,
        HttpMethod::Post,
        HttpMethod::Patch,
        HttpMethod::Delete,
    ];

    pub(super) fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }

    pub(super) fn filter(self) -> MethodFilter {
        match self {
            HttpMethod::Get => MethodFilter::GET,
            HttpMethod::Post => MethodFilter::POST,
            HttpMethod::Patch => MethodFilter::PATCH,
            HttpMethod::Delete => MethodFilter::DELETE,
        }
    }
}

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Access {
    Admin,
    /// Only the OpenAPI document: it describes the API, it grants nothing.
    Public,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Operation {
    OpenApi,
    ListCertificateAuthorities,
    AddCertificateAuthorities,
    GetCertificateAuthority,
    UpdateCertificateAuthority,
    RemoveCertificateAuthority,
    CrlStatus,
    RefreshCrls,
    ListIssuedCertificates,
    RevokeIssuedCertificate,
    ListPublishedCrls,
    PublishCrls,
    ListUsers,
    AddUser,
    GetUser,
    UpdateUser,
    RemoveUser,
    RevokeSignInSessions,
    CreateAccessPass,
    ResetSecondFactor,
    SetStsRefreshTokensValidFrom,
    CreateDeviceProfile,
    ListCertificateUserBindings,
    AddCertificateUserBinding,
    UpdateCertificateUserBindings,
    RemoveCertificateUserBinding,
    ListAuthenticationModeRules,
    AddAuthenticationModeRule,
    RemoveAuthenticationModeRule,
    ListApplications,
    AddApplication,
    GetApplication,
    RemoveApplication,
    ListRelyingParties,
    AddRelyingParty,
    GetRelyingParty,
    UpdateRelyingParty,
    RemoveRelyingParty,
    ListTokenSigningKeys,
    RotateTokenSigningKeys,
    ListSignIns,
    ListDirectoryAudits,
}

/// Where a parameter goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum In {
    Path,
    Query,
}

/// A parameter, for the OpenAPI document.
#[derive(Clone, Copy, Debug)]
pub(super) struct Parameter {
    pub(super) name: &'static str,
    pub(super) location: In,
    /// JSON Schema type: `string` or `integer`.
    pub(super) schema: &'static str,
    pub(super) description: &'static str,
}

/// One route: the router registers it, the OpenAPI document describes it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Route {
    pub(super) method: HttpMethod,
    pub(super) path: &'static str,
    pub(super) operation: Operation,
    pub(super) access: Access,
    pub(super) operation_id: &'static str,
    pub(super) tag: &'static str,
    pub(super) summary: &'static str,
    pub(super) parameters: &'static [Parameter],
    /// Component schema of the request body.
    pub(super) request: Option<&'static str>,
    /// Success status and the component schema of its body.
    pub(super) response: (u16, &'static str),
    /// Error statuses besides 401/403/503 (which every admin route can answer).
    pub(super) errors: &'static [u16],
}

/// How many routes `parts` hold: the length [`concat`] needs.
pub(super) const fn count(parts: &[&[Route]]) -> usize {
    let mut total = 0;
    let mut part = 0;
    while part < parts.len() {
        total += parts[part].len();
        part += 1;
    }
    total
}

/// The routes of `parts`, in order, as one table; `N` is their [`count`]. Evaluated at compile
/// time, so a wrong `N` does not build.
pub(super) const fn concat<const N: usize>(parts: &[&[Route]]) -> [Route; N] {
    let mut all = [parts[0][0]; N];
    let mut next = 0;
    let mut part = 0;
    while part < parts.len() {
        let mut i = 0;
        while i < parts[part].len() {
            all[next] = parts[part][i];
            next += 1;
            i += 1;
        }
        part += 1;
    }
    assert!(next == N, "N is not the number of routes in parts");
    all
}
