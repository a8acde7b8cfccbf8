//! `GET /api/user-profile/{userId}` and `POST /api/user-profiles`: the
//! profiles the dataflow job keeps in the `user-profiles` hash.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use model::keys;
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult, ErrorBody};
use crate::shared_hash;
use crate::state::AppState;

/// Most user ids per batch request.
pub const MAX_IDS: usize = 500;

/// A user's profile: the job's `user-profiles` document
/// ([`model::ProfileDocument`]). Unknown users get an empty one (tag scores
/// `{}`, counts 0, `lastEventAt` null), as the original system answered.
pub type Profile = model::ProfileDocument;

/// Reading profiles as the job stored them.
pub trait StoredProfile: Sized {
    /// Parses what the job stored for `user_id` (None → empty).
    fn from_stored(user_id: &str, stored: Option<&[u8]>) -> AppResult<Self>;
}

impl StoredProfile for Profile {
    /// Parses what the job stored for `user_id` (None or unreadable → empty).
    fn from_stored(user_id: &str, stored: Option<&[u8]>) -> AppResult<Self> {
        let Some(bytes) = stored else { return Ok(Self::empty(user_id)) };
        let mut profile: Profile = serde_json::from_slice(bytes).map_err(|e| {
            AppError::Internal(format!("stored profile of {user_id:?} is unreadable: {e}"))
        })?;
        profile.user_id = user_id.to_owned();
        Ok(profile)
    }
}

fn check_user_id(user_id: &str) -> AppResult<()> {
    if user_id.is_empty() || user_id.len() > 256 {
        return Err(AppError::field("userId", "invalid", "a user id is 1 to 256 bytes"));
    }
    Ok(())
}

/// `GET /api/user-profile/{userId}`.
#[utoipa::path(
    get,
    path = "/api/user-profile/{userId}",
    tag = "profiles",
    summary = "A user's tag scores, top tags and event counts",
    description = "An empty profile for an unknown user.",
    params(("userId" = String, Path, description = "the user (1 to 256 bytes)")),
    responses(
        (status = 200, description = "the profile", body = Profile),
        (status = 400, description = "invalid user id", body = ErrorBody<'static>),
        (status = 503, description = "Redis unavailable and no recent answer to fall back on", body = ErrorBody<'static>),
    )
)]
pub async fn profile(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
) -> AppResult<Json<Profile>> {
    check_user_id(&user_id)?;
    let key = state.config().hash_layout.key(keys::USER_PROFILES, user_id.as_bytes()).into_owned();
    let field = user_id.clone();
    let stored: Option<Vec<u8>> = state
        .with_redis(|mut conn| async move {
            redis::cmd("HGET").arg(key).arg(field).query_async(&mut conn).await
        })
        .await?;
    Ok(Json(Profile::from_stored(&user_id, stored.as_deref())?))
}

/// Body of `POST /api/user-profiles`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfilesRequest {
    /// 1 to 500 user ids.
    #[schema(min_items = 1, max_items = 500)]
    pub user_ids: Vec<String>,
}

/// Answer of `POST /api/user-profiles`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Profiles {
    /// One profile per requested id, in request order.
    pub profiles: Vec<Profile>,
}

/// `POST /api/user-profiles`: `{"userIds":[…]}` → profiles in order.
#[utoipa::path(
    post,
    path = "/api/user-profiles",
    tag = "profiles",
    summary = "Profiles of up to 500 users, in request order",
    request_body = ProfilesRequest,
    responses(
        (status = 200, description = "one profile per id, in order", body = Profiles),
        (status = 400, description = "invalid body or ids", body = ErrorBody<'static>),
        (status = 413, description = "body over the limit", body = ErrorBody<'static>),
        (status = 503, description = "Redis unavailable and no recent answer to fall back on", body = ErrorBody<'static>),
    )
)]
pub async fn profiles(
    State(state): State<AppState>,
    body: Result<Json<ProfilesRequest>, JsonRejection>,
) -> AppResult<Json<Profiles>> {
    let Json(request) = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge(state.config().body_limit),
        _ => AppError::field(
            "body",
            "schema",
            format!("expected {{\"userIds\": [string, …]}}: {}", rejection.body_text()),
        ),
    })?;
    let ids = request.user_ids;
    if ids.is_empty() || ids.len() > MAX_IDS {
        return Err(AppError::field(
            "userIds",
            "too_many_ids",
            format!("{} user ids: give 1 to {MAX_IDS}", ids.len()),
        ));
    }
    for (i, id) in ids.iter().enumerate() {
        check_user_id(id).map_err(|_| {
            AppError::field(&format!("userIds[{i}]"), "invalid", "a user id is 1 to 256 bytes")
        })?;
    }
    let query_ids = ids.clone();
    let layout = state.config().hash_layout;
    let stored: Vec<Option<Vec<u8>>> = state
        .with_redis(|mut conn| async move {
            shared_hash::hmget(&mut conn, layout, keys::USER_PROFILES, &query_ids).await
        })
        .await?;
    let profiles = ids
        .iter()
        .zip(stored.iter().map(Option::as_deref).chain(std::iter::repeat(None)))
        .map(|(id, stored)| Profile::from_stored(id, stored))
        .collect::<AppResult<_>>()?;
    Ok(Json(Profiles { profiles }))
}
