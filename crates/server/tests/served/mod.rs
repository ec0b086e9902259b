//! A [`Server`] started in process and served on a task, with an HTTP client: what the tests of
//! `run --http` (`live.rs`) and `smartfolio serve` (`serve.rs`) drive.
#![allow(dead_code)]

use serde_json::Value;
use smartfolio_server::{ServeError, ServeOptions, Server, Stopped};
use tokio::sync::oneshot;

/// Loopback, any free port, a new token, no demo.
pub fn options() -> ServeOptions {
    ServeOptions {
        ip: [127, 0, 0, 1].into(),
        port: 0,
        new_token: true,
        demo: None,
    }
}

/// A served node: its URL, token and the way to stop it.
pub struct Served {
    pub url: String,
    pub token: String,
    pub http: reqwest::Client,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<Stopped, ServeError>>,
}

impl Served {
    /// Serve `server` (started with a new token) on a task until [`Served::stop`].
    pub fn run(server: Server) -> Served {
        let url = server.url.trim_end_matches('/').to_string();
        let token = server.new_token.clone().expect("a new token");
        let (stop, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = stop_rx.await;
        }));
        Served {
            url,
            token,
            http: reqwest::Client::new(),
            stop,
            task,
        }
    }

    /// `GET path`, which must answer 200 with JSON.
    pub async fn get(&self, path: &str) -> Value {
        let res = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        assert_eq!(status, 200, "GET {path}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// `POST path` with `body` and the token: the status and the JSON answered.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let res = self
            .http
            .post(format!("{}{path}", self.url))
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Stop serving (as SIGINT does); how it ended.
    pub async fn stop(self) -> Stopped {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap()
    }
}
