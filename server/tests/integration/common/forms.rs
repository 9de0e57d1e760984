//! Driving the portal like a browser in tests: plain HTML form POSTs to server functions (no
//! JavaScript: the answer is a redirect), the JSON calls the hydrated app makes, and page GETs,
//! each with or without a session cookie.

use actix_web::http::StatusCode;

/// `application/x-www-form-urlencoded`, as a browser encodes a form.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        let mut out = String::new();
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(b));
            } else if b == b' ' {
                out.push('+');
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// What came back: status, `Location` (if any) and body text.
pub struct Answer {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
}

/// A session cookie, or none: `&String`, `&str`, `Some(&cookie)` or `None::<&str>`.
pub trait CookieArg {
    fn cookie(self) -> Option<String>;
}

impl CookieArg for &String {
    fn cookie(self) -> Option<String> {
        Some(self.clone())
    }
}

impl CookieArg for &str {
    fn cookie(self) -> Option<String> {
        Some(self.to_owned())
    }
}

impl<T: CookieArg> CookieArg for Option<T> {
    fn cookie(self) -> Option<String> {
        self.and_then(CookieArg::cookie)
    }
}

/// The whole application (REST, CSAF tree, portal) as an actix test service over `$state`.
#[macro_export]
macro_rules! app {
    ($state:expr) => {
        actix_web::test::init_service(
            actix_web::App::new()
                .wrap(actix_web::middleware::from_fn(
                    herald_server::web::security_headers::security_headers,
                ))
                .configure(herald_server::web::configure($state.clone())),
        )
        .await
    };
}

/// A user of `org_id` with `role`, signed in: the `Cookie` header value.
pub fn signed_in(
    h: &super::Harness,
    org_id: &str,
    role: herald_storage::accounts::Role,
    email: &str,
) -> String {
    let mut conn = h.test_db.conn().expect("conn");
    let user = herald_storage::accounts::create_user(
        &mut conn,
        &herald_storage::accounts::NewUser {
            org_id,
            email,
            display_name: email,
            password: "correct horse battery staple",
            role,
        },
    )
    .expect("user");
    let session =
        herald_storage::sessions::create_session(&mut conn, &user.id, chrono::Duration::hours(1))
            .expect("session");
    format!("{}={}", app::SESSION_COOKIE, session.token)
}

/// What a browser holds after loading a portal page with `cookie` (a `Cookie` header value, or
/// none): the `Cookie` header to send (with the `herald_csrf` cookie the server set) and the
/// CSRF token its forms carry. Asked of the app itself with a GET, like a browser loading the
/// page first.
#[macro_export]
macro_rules! csrf {
    ($app:expr, $cookie:expr) => {
        async {
            let cookie: Option<String> = $cookie;
            let mut req = actix_web::test::TestRequest::get().uri("/api/viewer");
            if let Some(c) = &cookie {
                req = req.insert_header(("Cookie", c.clone()));
            }
            let resp = actix_web::test::call_service($app, req.to_request()).await;
            let set: Vec<String> = resp
                .headers()
                .get_all("set-cookie")
                .filter_map(|v| v.to_str().ok().map(str::to_owned))
                .collect();
            $crate::common::forms::csrf_answer(cookie, &set)
        }
    };
}

/// The `Cookie` header and token of [`csrf!`], from the cookies the server set.
pub fn csrf_answer(cookie: Option<String>, set_cookies: &[String]) -> (String, String) {
    let prefix = format!("{}=", app::csrf::CSRF_COOKIE);
    let set = set_cookies
        .iter()
        .find_map(|v| v.strip_prefix(prefix.as_str()))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned());
    // The browser already held the right cookie when the server set none.
    let token = set.unwrap_or_else(|| {
        cookie
            .as_deref()
            .unwrap_or_default()
            .split(';')
            .find_map(|p| p.trim().strip_prefix(prefix.as_str()))
            .expect("the server sets a CSRF cookie")
            .to_owned()
    });
    let header = match cookie {
        Some(c) if c.contains(prefix.as_str()) => c
            .split(';')
            .map(str::trim)
            .filter(|p| !p.starts_with(prefix.as_str()))
            .chain(std::iter::once(format!("{prefix}{token}").as_str()))
            .collect::<Vec<_>>()
            .join("; "),
        Some(c) => format!("{c}; {prefix}{token}"),
        None => format!("{prefix}{token}"),
    };
    (header, token)
}

/// A plain HTML form POST to a server function, as a browser without JavaScript sends it: from a
/// page of the portal, with the form's hidden CSRF field.
#[macro_export]
macro_rules! post_form {
    ($app:expr, $endpoint:expr, $cookie:expr, $pairs:expr $(,)?) => {
        async {
            use $crate::common::forms::CookieArg as _;
            let (cookie, token) = $crate::csrf!($app, ($cookie).cookie()).await;
            let fields = $crate::common::forms::form_encode($pairs);
            let csrf =
                $crate::common::forms::form_encode(&[(app::csrf::CSRF_FIELD, token.as_str())]);
            // A form read back from a page already holds its hidden field.
            let body = if fields.is_empty() {
                csrf
            } else if fields.split('&').any(|f| f.starts_with("csrf_token=")) {
                fields
            } else {
                format!("{fields}&{csrf}")
            };
            let req = actix_web::test::TestRequest::post()
                .uri(&format!("/api/{}", $endpoint))
                .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                .insert_header(("Accept", "text/html,application/xhtml+xml"))
                .insert_header(("Origin", $crate::common::BASE))
                .insert_header(("Referer", "http://herald.test/destinations"))
                .insert_header(("Cookie", cookie))
                .set_payload(body);
            let resp = actix_web::test::call_service($app, req.to_request()).await;
            let status = resp.status();
            let location = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body =
                String::from_utf8_lossy(&actix_web::test::read_body(resp).await).into_owned();
            $crate::common::forms::Answer {
                status,
                location,
                body,
            }
        }
    };
}

/// A server function called the way the hydrated app calls it (the answer is JSON): with the
/// CSRF token in its header, from a page of the portal.
#[macro_export]
macro_rules! call_fn {
    ($app:expr, $endpoint:expr, $cookie:expr, $pairs:expr $(,)?) => {
        async {
            use $crate::common::forms::CookieArg as _;
            let (cookie, token) = $crate::csrf!($app, ($cookie).cookie()).await;
            let req = actix_web::test::TestRequest::post()
                .uri(&format!("/api/{}", $endpoint))
                .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                .insert_header(("Accept", "application/json"))
                .insert_header(("Origin", $crate::common::BASE))
                .insert_header((app::csrf::CSRF_HEADER, token))
                .insert_header(("Cookie", cookie))
                .set_payload($crate::common::forms::form_encode($pairs));
            let resp = actix_web::test::call_service($app, req.to_request()).await;
            let status = resp.status();
            let body =
                String::from_utf8_lossy(&actix_web::test::read_body(resp).await).into_owned();
            (status, body)
        }
    };
}

/// A page GET; the answer is status and body text.
#[macro_export]
macro_rules! page {
    ($app:expr, $uri:expr, $cookie:expr $(,)?) => {
        async {
            use $crate::common::forms::CookieArg as _;
            let mut req = actix_web::test::TestRequest::get().uri($uri);
            if let Some(cookie) = ($cookie).cookie() {
                req = req.insert_header(("Cookie", cookie));
            }
            let resp = actix_web::test::call_service($app, req.to_request()).await;
            let status = resp.status();
            let body =
                String::from_utf8_lossy(&actix_web::test::read_body(resp).await).into_owned();
            (status, body)
        }
    };
}

/// Where a redirect answer points; fails the test on anything else.
pub fn redirect_target(a: &Answer) -> String {
    assert!(
        a.status.is_redirection(),
        "expected a redirect, got {}: {}",
        a.status,
        a.body
    );
    a.location.clone().expect("location")
}
