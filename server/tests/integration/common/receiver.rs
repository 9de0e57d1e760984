//! A loopback webhook receiver for the tests that run `herald serve` as a process: it accepts
//! every `POST /hook` carrying a `webhook-id` and records (webhook-id, user-agent) in arrival
//! order; a request without one gets 400.

use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};

#[derive(Default)]
pub struct Received {
    requests: Mutex<Vec<(String, String)>>,
}

impl Received {
    /// Requests received so far.
    pub fn count(&self) -> usize {
        self.requests.lock().map(|r| r.len()).unwrap_or(0)
    }

    /// Every webhook-id received, in arrival order (a redelivery appears twice).
    pub fn ids(&self) -> Vec<String> {
        self.requests
            .lock()
            .map(|r| r.iter().map(|(id, _)| id.clone()).collect())
            .unwrap_or_default()
    }

    /// The user-agent of the request(s) carrying `id`.
    pub fn agents_of(&self, id: &str) -> Vec<String> {
        self.requests
            .lock()
            .map(|r| {
                r.iter()
                    .filter(|(i, _)| i == id)
                    .map(|(_, ua)| ua.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

async fn hook(
    req: actix_web::HttpRequest,
    got: actix_web::web::Data<Received>,
) -> actix_web::HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let Some(id) = header("webhook-id") else {
        return actix_web::HttpResponse::BadRequest().body("no webhook-id");
    };
    if let Ok(mut requests) = got.requests.lock() {
        requests.push((id, header("user-agent").unwrap_or_default()));
    }
    actix_web::HttpResponse::Ok().body("accepted")
}

/// Starts a receiver with `workers` actix workers on its own thread; its port and its record.
pub fn start(workers: usize) -> Result<(u16, Arc<Received>)> {
    let received = Arc::new(Received::default());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("binding the receiver")?;
    let port = listener.local_addr()?.port();
    let data = actix_web::web::Data::from(received.clone());
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(data.clone())
            .route("/hook", actix_web::web::post().to(hook))
    })
    .workers(workers)
    .backlog(1024)
    .listen(listener)?
    .run();
    std::thread::spawn(move || actix_web::rt::System::new().block_on(server));
    Ok((port, received))
}
