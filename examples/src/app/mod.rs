//! The FastAPI guide's sample app on axum: `/`, `/ping`, `/items/{item_id}?q=`, `/external-api`,
//! `/exception`, plus `/users/{user_id}` backed by a database-like dependency.
//!
//! Tests start it in-process on an ephemeral port:
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use traced_examples::app::{AppConfig, SampleApp};
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let app = SampleApp::start(AppConfig::default()).await?.spawn(listener)?;
//! let hello = reqwest::get(app.url("/")).await;
//! app.stop().await?;
//! # Ok(())
//! # }
//! ```
//!
//! The process (`sample-app`) is [`run`]; what happens on SIGTERM or Ctrl-C is in [`serve`].

mod config;
mod database;
mod downstream;
mod error;
mod handlers;
mod run;
pub mod serve;
mod state;
pub mod telemetry;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use traced::axum::TracedLayer;

pub use config::{AppArgs, AppConfig};
pub use database::{Database, DbSession, User};
pub use error::AppError;
pub use run::{run, EXIT_FAILURE, EXIT_OK, EXIT_USAGE};
pub use serve::{Drained, ServeOptions, StopSignals};
pub use state::{AppMetrics, AppState, ExternalApi};

/// The app serving in the background; see [`SampleApp::spawn`].
pub type RunningApp = serve::Background;

/// Outbound calls give up after this long, so `/external-api` cannot hang a request forever.
const OUTBOUND_TIMEOUT: Duration = Duration::from_secs(10);

/// The app's routes over `state`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(handlers::hello))
        .route("/ping", get(handlers::ping))
        .route("/items/{item_id}", get(handlers::read_item))
        .route("/external-api", get(handlers::external_api))
        .route("/exception", get(handlers::exception))
        .route("/users/{user_id}", get(handlers::read_user))
        .with_state(state)
        // Server spans named by route, and the RED metrics; built after `traced::init()`.
        .layer(TracedLayer::new())
}

/// A ready-to-serve app, with the todo service it calls when no external URL was given.
#[derive(Debug)]
pub struct SampleApp {
    state: AppState,
    serve: ServeOptions,
    downstream: Option<serve::Background>,
}

impl SampleApp {
    /// Builds the shared state and, without `external_url`, starts the todo service on 127.0.0.1.
    ///
    /// Call it after `traced::init()`: the app's instruments come from the providers set then.
    pub async fn start(config: AppConfig) -> io::Result<Self> {
        let (external, downstream) = match config.external_url {
            Some(url) => (external_api(url)?, None),
            None => {
                let todo = downstream::start(config.serve).await?;
                (ExternalApi { url: todo.url("/todos/1"), service: downstream::SERVICE_NAME.to_owned() }, Some(todo))
            }
        };
        // CLIENT spans, and `traceparent` so the called service joins the trace.
        let http = traced::client::Client::from(
            reqwest::Client::builder().timeout(OUTBOUND_TIMEOUT).build().map_err(io::Error::other)?,
        );
        let state = AppState {
            io_delay: config.io_delay,
            external: Arc::new(external),
            http,
            database: Database::demo(),
            metrics: AppMetrics::new(),
        };
        Ok(Self { state, serve: config.serve, downstream })
    }

    /// The routes, for serving with extra layers.
    pub fn router(&self) -> Router {
        router(self.state.clone())
    }

    /// The URL `/external-api` calls.
    pub fn external_url(&self) -> &str {
        &self.state.external.url
    }

    /// Serves on `listener` until `shutdown` completes, then drains as [`serve`] describes and stops
    /// the todo service within the same deadline.
    pub async fn serve(self, listener: TcpListener, shutdown: impl Future<Output = ()>) -> io::Result<Drained> {
        let served = serve::serve(listener, self.router(), self.serve, shutdown).await;
        self.finish(served).await
    }

    /// Serves in the background on `listener` (e.g. `127.0.0.1:0` in a test) until [`RunningApp::stop`].
    pub fn spawn(self, listener: TcpListener) -> io::Result<RunningApp> {
        self.spawn_with(listener, |router| router)
    }

    /// Like [`SampleApp::spawn`], with the routes passed through `customize` (e.g. to add a layer).
    pub fn spawn_with(self, listener: TcpListener, customize: impl FnOnce(Router) -> Router) -> io::Result<RunningApp> {
        let router = customize(self.router());
        let options = self.serve;
        serve::Background::spawn_then(listener, router, options, move |served| self.finish(served))
    }

    /// Once the app has drained, nothing calls the todo service any more: it stops by the same deadline.
    async fn finish(self, served: io::Result<Drained>) -> io::Result<Drained> {
        if let (Some(todo), Ok(drained)) = (self.downstream, &served) {
            if let Err(error) = todo.stop_by(drained.deadline).await {
                eprintln!("sample-app: the todo service stopped with an error: {error}");
            }
        }
        served
    }
}

/// A user-given external URL, counted under its host name. A bad one is not quoted: it may carry a
/// password or a token, and the error goes to stderr.
fn external_api(url: String) -> io::Result<ExternalApi> {
    let parsed = reqwest::Url::parse(&url).map_err(|e| {
        let message =
            format!("the external URL (`--external-url`, `SAMPLE_APP_EXTERNAL_URL`) is not an absolute URL: {e}");
        io::Error::new(io::ErrorKind::InvalidInput, message)
    })?;
    let service = parsed.host_str().unwrap_or("unknown").to_owned();
    Ok(ExternalApi { url, service })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_urls_are_counted_under_their_host() {
        let api = external_api("http://api.internal:8080/todos/1".to_owned()).expect("valid URL");
        assert_eq!(api.service, "api.internal");
        let error = external_api("not a url".to_owned()).expect_err("must be refused");
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("SAMPLE_APP_EXTERNAL_URL"), "{error}");
    }

    #[test]
    fn a_bad_external_url_is_refused_without_quoting_its_credentials() {
        // The error goes to stderr: a URL carrying a password or a token must not.
        for url in ["http://user:SECRET@api.internal:80x/todos", "http://api.internal:99999/?token=SECRET"] {
            let error = external_api(url.to_owned()).expect_err("must be refused");
            let text = format!("{error} {error:?}");
            assert!(!text.contains("SECRET"), "{text}");
            assert!(text.contains("--external-url") && text.contains("port"), "{text}");
        }
    }
}
