//! The HTML pages a user's browser sees: consent, refusals, errors. Plain forms, no scripts,
//! every shown value escaped, and headers that keep the pages out of frames and caches.

use http::{StatusCode, header};

use crate::web::WebResponse;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#222;line-height:1.5}\
h1{font-size:1.4rem}.box{border:1px solid #ccc;border-radius:8px;padding:1rem 1.25rem;margin:1rem 0}\
code{background:#f3f3f3;padding:0 .25rem;border-radius:3px}.note{color:#666;font-size:.9rem}\
button{font:inherit;font-size:1rem;padding:.5rem 1.25rem;margin-right:.5rem;border-radius:6px;border:1px solid #888;cursor:pointer}\
button.approve{background:#1a5fd0;color:#fff;border-color:#1a5fd0}";

/// HTML-escapes text for element content and quoted attribute values.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            '/' => out.push_str("&#x2F;"),
            c => out.push(c),
        }
    }
    out
}

/// A page with the protective headers; `body` must already be escaped HTML.
pub(super) fn html_page(status: StatusCode, title: &str, body: &str) -> WebResponse {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body>\n{body}\n</body></html>\n",
        title = escape(title),
    );
    WebResponse::new(status, "text/html; charset=utf-8", html)
        .with_header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        )
        .with_header(header::X_FRAME_OPTIONS, "DENY")
        .with_header(header::CACHE_CONTROL, "no-store")
        .with_header(header::PRAGMA, "no-cache")
        .with_header(header::REFERRER_POLICY, "no-referrer")
        .with_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
}

/// An error page with a title and a plain-text message.
pub(super) fn error_page(status: StatusCode, title: &str, message: &str) -> WebResponse {
    html_page(
        status,
        title,
        &format!("<h1>{}</h1>\n<p>{}</p>", escape(title), escape(message)),
    )
}

/// The logout confirmation, for a logout link followed from another site.
pub(super) fn logout_page(csrf: &str) -> WebResponse {
    html_page(
        StatusCode::OK,
        "Log out?",
        &format!(
            "<h1>Log out?</h1>\n<p>A link asked to end your session at this server.</p>\n\
             <form method=\"post\" action=\"/oauth/logout\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button type=\"submit\">Log out</button></form>",
            escape(csrf)
        ),
    )
}

/// What the consent page shows.
pub(super) struct Consent<'a> {
    pub client_name: Option<&'a str>,
    pub client_id: &'a str,
    /// For a client ID metadata document client: the host its document was fetched from over
    /// https, the one fact about it the proxy checked (its name is still self-asserted).
    pub verified_host: Option<&'a str>,
    /// Whether the browser goes back to a loopback address (a program on this computer).
    pub loopback_destination: bool,
    /// Where the browser goes afterwards (host, or the scheme of an app link).
    pub destination: &'a str,
    pub request_id: &'a str,
    pub csrf: &'a str,
}

/// Whether `c` is invisible or changes the direction of the text around it: bidi controls,
/// zero-width characters, fillers and other format characters a name has no use for.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// `name` with each invisible or direction-changing character written as `[U+XXXX]`, and
/// whether there was any.
fn mark_invisible(name: &str) -> (String, bool) {
    if !name.chars().any(is_invisible) {
        return (name.to_owned(), false);
    }
    let mut shown = String::with_capacity(name.len() + 16);
    for c in name.chars() {
        if is_invisible(c) {
            shown.push_str(&format!("[U+{:04X}]", u32::from(c)));
        } else {
            shown.push(c);
        }
    }
    (shown, true)
}

/// The consent page: Approve and Deny in one plain form.
pub(super) fn consent_page(consent: &Consent<'_>) -> WebResponse {
    let (name, hidden) = match consent.client_name {
        Some(name) => {
            let (shown, hidden) = mark_invisible(name);
            (format!("<strong>{}</strong>", escape(&shown)), hidden)
        }
        None => (
            format!("An app with id <code>{}</code>", escape(consent.client_id)),
            false,
        ),
    };
    // A metadata-document client is named by its verified host first; its own name after,
    // marked as what it calls itself.
    let name = match (consent.verified_host, consent.client_name) {
        (Some(host), Some(_)) => format!(
            "The app at <strong class=\"verified\">{}</strong> (verified: its https client ID) \
             calling itself {name}",
            escape(host)
        ),
        (Some(host), None) => format!(
            "The app at <strong class=\"verified\">{}</strong> (verified: its https client ID)",
            escape(host)
        ),
        (None, _) => name,
    };
    // MCP 2025-11-25: a metadata document listing localhost redirect URIs can be claimed by
    // any program on the user's computer, so the verified host proves less; say so.
    let localhost_note = if consent.verified_host.is_some() && consent.loopback_destination {
        "<p class=\"note\"><strong>Careful:</strong> this app signs in through a program on your own \
         computer (localhost). Any program there can present this host's client ID, so continue only \
         if you started this yourself, just now, from that app.</p>\n"
    } else {
        ""
    };
    let warning = if hidden {
        "<p class=\"note\"><strong>Careful:</strong> this name contains invisible or \
         direction-changing characters (shown as [U+…]), which can make it read as another app's.</p>\n"
    } else {
        ""
    };
    let body = format!(
        "<h1>Allow access to the Okta MCP server?</h1>\n\
         <div class=\"box\"><p>{name} wants to use the Okta MCP server as you, with the tools your role allows.</p>\n\
         {warning}{localhost_note}<p>After you decide, you will be sent to <code>{destination}</code>.</p>\n\
         <p class=\"note\">{origin_note} \
         You will sign in with Okta next.</p></div>\n\
         <form method=\"post\" action=\"/oauth/consent\">\n\
         <input type=\"hidden\" name=\"request\" value=\"{request}\">\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
         <button class=\"approve\" type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\n\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\n\
         </form>",
        destination = escape(consent.destination),
        origin_note = if consent.verified_host.is_some() {
            "The host above is checked: the app's client ID is a document served from it over https. \
             Its name is its own claim; allow it only if you trust that host and started this from its app."
        } else {
            "The app chose its own name; allow it only if you started this from an app you trust."
        },
        request = escape(consent.request_id),
        csrf = escape(consent.csrf),
    );
    html_page(StatusCode::OK, "Allow access?", &body)
}

/// 403 for a user whose groups grant no role: which groups would, and a way back to the app.
pub(super) fn no_role_page<'a>(
    granting: impl Iterator<Item = (&'a str, &'a [String])>,
    back: Option<&str>,
) -> WebResponse {
    let mut rows = String::new();
    for (role, groups) in granting {
        let groups: Vec<String> = groups
            .iter()
            .map(|g| format!("<code>{}</code>", escape(g)))
            .collect();
        rows.push_str(&format!(
            "<li>{}: {}</li>\n",
            escape(role),
            if groups.is_empty() {
                "no group".to_owned()
            } else {
                groups.join(", ")
            }
        ));
    }
    let back = match back {
        Some(url) => format!("<p><a href=\"{}\">Return to the app</a></p>", escape(url)),
        None => "<p><a href=\"/\">Back</a></p>".to_owned(),
    };
    let body = format!(
        "<h1>No access</h1>\n<p>You signed in, but none of your Okta groups grants a role on this MCP server.</p>\n\
         <div class=\"box\"><p>Membership in one of these groups grants access:</p>\n<ul>\n{rows}</ul></div>\n\
         <p class=\"note\">Ask your Okta administrator to add you to one of them, then sign in again.</p>\n{back}"
    );
    html_page(StatusCode::FORBIDDEN, "No access", &body)
}

/// The query of a browser endpoint that takes only `GET`, or the HTML page refusing the request.
/// `get_hint` tells the person what to do instead of another method.
#[allow(clippy::result_large_err)] // the error is the page to send
pub(super) fn browser_get_query(
    request: &crate::web::WebRequest,
    get_hint: &str,
) -> Result<super::params::Params, WebResponse> {
    if request.method != http::Method::GET {
        return Err(error_page(
            StatusCode::METHOD_NOT_ALLOWED,
            "Not allowed",
            get_hint,
        ));
    }
    super::params::Params::parse_query(request.query.as_deref()).map_err(|error| {
        error_page(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            &error.describe(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2F;script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn pages_carry_the_protective_headers() {
        let page = error_page(StatusCode::BAD_REQUEST, "Oops <b>", "msg <i>");
        let csp = page.headers.get(header::CONTENT_SECURITY_POLICY).unwrap();
        assert_eq!(
            csp,
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
        );
        assert!(!csp.to_str().unwrap().contains("form-action"));
        assert_eq!(page.headers.get(header::X_FRAME_OPTIONS).unwrap(), "DENY");
        assert_eq!(page.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
        assert_eq!(
            page.headers.get(header::REFERRER_POLICY).unwrap(),
            "no-referrer"
        );
        let body = std::str::from_utf8(&page.body).unwrap();
        assert!(body.contains("Oops &lt;b&gt;"));
        assert!(body.contains("msg &lt;i&gt;"));
        assert!(!body.contains("<b>") && !body.contains("<i>"));
    }

    #[test]
    fn the_no_role_page_lists_escaped_groups() {
        let groups = vec!["sso-help-desk".to_owned(), "<evil>".to_owned()];
        let page = no_role_page(
            [("viewer", groups.as_slice())].into_iter(),
            Some("https://app.example/cb?error=access_denied&state=\"x\""),
        );
        assert_eq!(page.status, StatusCode::FORBIDDEN);
        let body = std::str::from_utf8(&page.body).unwrap();
        assert!(body.contains("<code>sso-help-desk</code>"));
        assert!(body.contains("&lt;evil&gt;"));
        assert!(body.contains("error=access_denied&amp;state=&quot;x&quot;"));
    }

    #[test]
    fn the_consent_page_tells_a_verified_host_from_a_self_asserted_name() {
        let consent = |verified_host, client_name| {
            let page = consent_page(&Consent {
                client_name,
                client_id: "https://app.example/client.json",
                verified_host,
                loopback_destination: true,
                destination: "app.example",
                request_id: "r",
                csrf: "c",
            });
            String::from_utf8(page.body.to_vec()).unwrap()
        };
        let cimd = consent(Some("app.example"), Some("Totally <Official>"));
        assert!(cimd.contains("<strong class=\"verified\">app.example</strong> (verified"));
        assert!(cimd.contains("calling itself <strong>Totally &lt;Official&gt;</strong>"));
        assert!(cimd.contains("Its name is its own claim"));
        assert!(cimd.contains("program on your own computer"));
        let dcr = consent(None, Some("Totally Official"));
        assert!(!dcr.contains("verified"));
        assert!(dcr.contains("The app chose its own name"));
        assert!(!dcr.contains("program on your own computer"));
    }
}
