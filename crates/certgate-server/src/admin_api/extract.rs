//! Reading a request's JSON body, answering the API's own error when it is not one.

use axum::extract::rejection::JsonRejection;
use axum::extract::Json;

use super::ApiError;

/// A JSON body, or the API's error for a body that is not one.
pub(super) type Body<T> = Result<Json<T>, JsonRejection>;

pub(super) fn body<T>(body: Body<T>) -> Result<T, ApiError> {
    body.map(|Json(value)| value)
        .map_err(|rejection| ApiError::body(&rejection))
}
