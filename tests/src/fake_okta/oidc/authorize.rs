//! `GET|POST …/v1/authorize`: checks the request like Okta, then logs a user in — through the
//! login page (one button per demo user, a plain form posting back here) or at once when a test
//! set `auto_login` — and sends the browser back with a one-time code.
//!
//! Order of checks, as Okta: an unknown `client_id` or `redirect_uri` gets an error page (a
//! redirect there would hand codes or errors to a stranger); everything after that goes back to
//! the redirect URI as `error`, `error_description` and `state`. Every answer to the redirect
//! URI names the issuer in `iss` (RFC 9207), as Okta does, unless a test changed it
//! (`authorize_iss`). A pushed request (PAR) comes as `client_id` + `request_uri`; with
//! `--require-par` nothing else is accepted.

use super::grants::CodeGrant;
use super::{AuthServer, AuthorizeIss, Provider, base_url, escape_html, now_epoch, parse_params};
use crate::fake_okta::dataset::{ALICE_ID, BOB_ID, CAROL_ID, DAVE_ID, UserStatus};
use crate::fake_okta::error::random_token;
use crate::fake_okta::state::{AppState, Org};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

/// Users with a button on the login page.
const DEMO_USERS: &[&str] = &[ALICE_ID, BOB_ID, CAROL_ID, DAVE_ID];

/// A checked authorize request.
#[derive(Debug)]
struct AuthorizeRequest {
    redirect_uri: String,
    state: String,
    scopes: Vec<String>,
    nonce: Option<String>,
    challenge: Option<String>,
    prompt_none: bool,
    /// All parameters, to carry through the login form.
    params: HashMap<String, String>,
}

/// Why an authorize request is refused, and how.
#[derive(Debug)]
enum Refusal {
    /// An error page: the client or redirect URI cannot be trusted.
    Page(StatusCode, String),
    /// Back to the client.
    Redirect {
        redirect_uri: String,
        error: &'static str,
        description: String,
        state: Option<String>,
    },
}

impl Refusal {
    /// The answer; a redirect names `iss` when given.
    fn respond(self, iss: Option<String>) -> Response {
        match self {
            Refusal::Page(status, summary) => error_page(status, &summary),
            Refusal::Redirect {
                redirect_uri,
                error,
                description,
                state,
            } => {
                let mut pairs = vec![
                    ("error", error.to_owned()),
                    ("error_description", description),
                ];
                if let Some(state) = state {
                    pairs.push(("state", state));
                }
                if let Some(iss) = iss {
                    pairs.push(("iss", iss));
                }
                redirect(&redirect_uri, &pairs)
            }
        }
    }
}

/// `GET …/authorize`.
pub async fn page(
    State(state): State<AppState>,
    Extension(server): Extension<AuthServer>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let base = base_url(&headers, &state);
    match parse_params(query.unwrap_or_default().as_bytes()) {
        Ok(params) => authorize(&state, server, &base, params, None),
        Err(name) => error_page(StatusCode::BAD_REQUEST, &duplicate(&name)),
    }
}

/// `POST …/authorize`: the login form (its parameters plus the chosen `user`).
pub async fn submit(
    State(state): State<AppState>,
    Extension(server): Extension<AuthServer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let base = base_url(&headers, &state);
    match parse_params(&body) {
        Ok(mut params) => {
            let user = params.remove("user").unwrap_or_default();
            authorize(&state, server, &base, params, Some(user))
        }
        Err(name) => error_page(StatusCode::BAD_REQUEST, &duplicate(&name)),
    }
}

fn duplicate(name: &str) -> String {
    format!(
        "The '{}' parameter was given more than once.",
        name.chars().take(64).collect::<String>()
    )
}

fn authorize(
    state: &AppState,
    server: AuthServer,
    base: &str,
    params: HashMap<String, String>,
    chosen: Option<String>,
) -> Response {
    let Some(provider) = &state.oidc else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let iss = match provider.runtime().controls.authorize_iss.clone() {
        AuthorizeIss::Issuer => Some(server.issuer(base)),
        AuthorizeIss::Fixed(value) => Some(value),
        AuthorizeIss::Omitted => None,
    };
    let params = match pushed_params(provider, server, params) {
        Ok(params) => params,
        Err(summary) => return error_page(StatusCode::BAD_REQUEST, &summary),
    };
    let request_uri = params.get("request_uri").cloned();
    let request = match check(provider, params) {
        Ok(request) => request,
        Err(refusal) => return refusal.respond(iss),
    };
    // Read the switch first: the login page takes the same lock.
    let auto_login = provider.runtime().controls.auto_login;
    let user = match chosen {
        Some(id) => match active_user(&state.org(), &id) {
            Some(user) => user,
            None => return error_page(StatusCode::BAD_REQUEST, "Unknown or inactive user."),
        },
        None => match auto_login {
            // Okta signs in active users only, page or not.
            Some(user)
                if state
                    .org()
                    .dataset
                    .users
                    .get(user)
                    .is_some_and(|u| u.status == UserStatus::Active) =>
            {
                user
            }
            Some(_) => {
                return error_page(StatusCode::BAD_REQUEST, "Unknown or inactive user.");
            }
            None if request.prompt_none => {
                return Refusal::Redirect {
                    redirect_uri: request.redirect_uri,
                    error: "login_required",
                    description:
                        "The client specified not to prompt, but the user is not logged in.".into(),
                    state: Some(request.state),
                }
                .respond(iss);
            }
            None => return login_page(provider, &state.org(), &request),
        },
    };
    if let Some(request_uri) = request_uri {
        // A pushed request is used once, when it yields a code.
        provider.runtime().pushed.remove(&request_uri);
    }
    let code = random_token("", 43);
    provider.runtime().grants.add_code(
        code.clone(),
        CodeGrant {
            user,
            server,
            redirect_uri: request.redirect_uri.clone(),
            scopes: request.scopes,
            nonce: request.nonce,
            challenge: request.challenge,
            auth_time: now_epoch(),
        },
    );
    tracing::info!(user = %state.org().dataset.users[user].profile.login, ?server, "OIDC login");
    let mut pairs = vec![("code", code), ("state", request.state)];
    if let Some(iss) = iss {
        pairs.push(("iss", iss));
    }
    redirect(&request.redirect_uri, &pairs)
}

/// The parameters of a pushed request when `request_uri` names one (with `request_uri` kept,
/// so the login form carries it), else `params` — refused with `--require-par`. `Err` is an
/// error page's text.
fn pushed_params(
    provider: &Provider,
    server: AuthServer,
    params: HashMap<String, String>,
) -> Result<HashMap<String, String>, String> {
    let Some(request_uri) = params.get("request_uri") else {
        if provider.require_par {
            return Err("This client requires pushed authorization requests (PAR): the request must be 'client_id' and a 'request_uri' from the PAR endpoint.".into());
        }
        return Ok(params);
    };
    if params.get("client_id") != Some(&provider.client_id) {
        return Err("Invalid value for 'client_id' parameter.".into());
    }
    let expired = || "The 'request_uri' is invalid or has expired.".to_owned();
    let mut runtime = provider.runtime();
    let now = now_epoch();
    runtime.pushed.retain(|_, (_, _, until)| *until >= now);
    let (pushed, pushed_server, _) = runtime.pushed.get(request_uri).ok_or_else(expired)?;
    if *pushed_server != server {
        return Err(expired());
    }
    let mut pushed = pushed.clone();
    pushed.insert("request_uri".into(), request_uri.clone());
    Ok(pushed)
}

/// Index of an ACTIVE user by id or login.
fn active_user(org: &Org, id_or_login: &str) -> Option<usize> {
    org.find_user(id_or_login)
        .filter(|&i| org.dataset.users[i].status == UserStatus::Active)
}

fn check(
    provider: &Provider,
    params: HashMap<String, String>,
) -> Result<AuthorizeRequest, Refusal> {
    let page = |summary: &str| Refusal::Page(StatusCode::BAD_REQUEST, summary.to_owned());
    match params.get("client_id") {
        None => return Err(page("The 'client_id' parameter is required.")),
        Some(id) if *id != provider.client_id => {
            return Err(page("Invalid value for 'client_id' parameter."));
        }
        Some(_) => {}
    }
    let redirect_uri = match params.get("redirect_uri") {
        None => return Err(page("The 'redirect_uri' parameter is required.")),
        Some(uri) if !provider.redirect_uris.contains(uri) => {
            return Err(page(
                "The 'redirect_uri' parameter must be a Login redirect URI in the client app settings.",
            ));
        }
        Some(uri) => uri.clone(),
    };
    let state = params.get("state").filter(|s| !s.is_empty()).cloned();
    let refuse = |error: &'static str, description: &str| Refusal::Redirect {
        redirect_uri: redirect_uri.clone(),
        error,
        description: description.to_owned(),
        state: state.clone(),
    };

    match params.get("response_type").map(String::as_str) {
        Some("code") => {}
        Some(_) => {
            return Err(refuse(
                "unsupported_response_type",
                "The response type is not supported by the authorization server. Configured response types: [code].",
            ));
        }
        None => {
            return Err(refuse(
                "invalid_request",
                "The 'response_type' parameter is required.",
            ));
        }
    }
    if params.get("response_mode").is_some_and(|m| m != "query") {
        return Err(refuse(
            "invalid_request",
            "The fake org answers with response_mode 'query' only.",
        ));
    }
    let scopes: Vec<String> = params
        .get("scope")
        .map(|s| {
            s.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if scopes.is_empty() {
        return Err(refuse(
            "invalid_scope",
            "The authorization server resource does not have any configured default scopes, 'scope' must be provided.",
        ));
    }
    if scopes
        .iter()
        .any(|s| !provider.supported_scopes().contains(&s.as_str()))
    {
        return Err(refuse(
            "invalid_scope",
            "One or more scopes are not configured for the authorization server resource.",
        ));
    }
    if !scopes.iter().any(|s| s == "openid") {
        return Err(refuse(
            "invalid_scope",
            "The authentication request must include the 'openid' scope.",
        ));
    }
    let Some(state) = state.clone() else {
        return Err(refuse(
            "invalid_request",
            "The authentication request has an invalid 'state' parameter.",
        ));
    };
    let challenge = params.get("code_challenge").cloned();
    match (
        params.get("code_challenge_method").map(String::as_str),
        &challenge,
    ) {
        (Some("S256"), Some(_)) | (None, None) => {}
        (Some("S256"), None) => {
            return Err(refuse(
                "invalid_request",
                "The 'code_challenge' parameter is required with 'code_challenge_method'.",
            ));
        }
        _ => {
            return Err(refuse(
                "invalid_request",
                "PKCE code challenge method is not supported. Supported: [S256].",
            ));
        }
    }
    if let Some(challenge) = &challenge {
        let well_formed = (43..=128).contains(&challenge.len())
            && challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        if !well_formed {
            return Err(refuse(
                "invalid_request",
                "The 'code_challenge' parameter is malformed.",
            ));
        }
    } else if !provider.confidential() {
        return Err(refuse(
            "invalid_request",
            "PKCE code challenge is required when the token endpoint authentication method is 'NONE'.",
        ));
    }
    let prompts: Vec<&str> = params
        .get("prompt")
        .map(|p| p.split(' ').filter(|p| !p.is_empty()).collect())
        .unwrap_or_default();
    let prompt_none = prompts.contains(&"none");
    if prompt_none && prompts.len() > 1 {
        return Err(refuse(
            "invalid_request",
            "The 'prompt' value 'none' cannot be combined with other values.",
        ));
    }
    Ok(AuthorizeRequest {
        redirect_uri,
        state,
        scopes,
        nonce: params.get("nonce").filter(|n| !n.is_empty()).cloned(),
        challenge,
        prompt_none,
        params,
    })
}

/// A 302 to `uri` with `pairs` added to its query.
fn redirect(uri: &str, pairs: &[(&str, String)]) -> Response {
    let Ok(mut url) = url::Url::parse(uri) else {
        return error_page(StatusCode::BAD_REQUEST, "The redirect URI is not a URL.");
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in pairs {
            query.append_pair(name, value);
        }
    }
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, url.to_string()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response()
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
            ),
        ],
        body,
    )
        .into_response()
}

/// Okta's error page, in spirit: a status and one sentence.
fn error_page(status: StatusCode, summary: &str) -> Response {
    html(
        status,
        format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>fake-okta: error</title></head>\n\
             <body><h1>{} {}</h1>\n<p id=\"error-summary\">{}</p></body></html>\n",
            status.as_u16(),
            escape_html(status.canonical_reason().unwrap_or("Error")),
            escape_html(summary)
        ),
    )
}

/// The sign-in page: one submit button per demo user; the form carries the request back here.
fn login_page(provider: &Provider, org: &Org, request: &AuthorizeRequest) -> Response {
    let mut names: Vec<&String> = request.params.keys().collect();
    names.sort();
    let hidden: String = names
        .into_iter()
        .map(|name| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
                escape_html(name),
                escape_html(&request.params[name])
            )
        })
        .collect();
    let buttons: String = DEMO_USERS
        .iter()
        .filter_map(|id| org.find_user(id))
        .map(|i| {
            let user = &org.dataset.users[i];
            let groups = provider.groups_of(org, i).join(", ");
            format!(
                "<p><button type=\"submit\" name=\"user\" value=\"{}\">Sign in as {}</button> \
                 <small>{} {} — groups: {}</small></p>\n",
                escape_html(&user.id),
                escape_html(&user.profile.login),
                escape_html(&user.profile.first_name),
                escape_html(&user.profile.last_name),
                escape_html(&groups)
            )
        })
        .collect();
    html(
        StatusCode::OK,
        format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>fake-okta: sign in</title></head>\n\
             <body><h1>Sign in to the fake Okta org</h1>\n\
             <p>App <code>{}</code> asks for: {}</p>\n\
             <form method=\"post\" action=\"authorize\">\n{hidden}{buttons}</form>\n</body></html>\n",
            escape_html(&provider.client_id),
            escape_html(&request.scopes.join(" ")),
        ),
    )
}
