//! Runs the simulated users: starts them at the spawn rate, stops them at the deadline, the request
//! budget or an external stop signal, and merges what they saw.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{sleep, sleep_until, Instant};

use super::config::{is_loopback, LoadConfig, LoadError, WaitTime};
use super::progress::{Live, Progress};
use super::stats::{Stats, Summary};

/// Runs `config` against its host until its duration or request budget is used up.
pub async fn run(config: LoadConfig) -> Result<Summary, LoadError> {
    run_until(config, std::future::pending()).await
}

/// Like [`run`], but also stops early when `stop` completes (e.g. on Ctrl-C).
pub async fn run_until(config: LoadConfig, stop: impl Future<Output = ()>) -> Result<Summary, LoadError> {
    config.validate()?;
    let client =
        reqwest::Client::builder().timeout(config.request_timeout).redirect(redirect_policy(&config.host)).build()?;
    let config = Arc::new(config);
    let budget = Arc::new(AtomicU64::new(config.max_requests));
    let live = Arc::new(Live::default());
    let (stop_users, user_stop) = watch::channel(false);
    let mut seeds = SmallRng::seed_from_u64(config.seed.unwrap_or_else(rand::random));

    let started = Instant::now();
    let deadline = started + config.duration;
    let spawn_interval = Duration::from_secs_f64(1.0 / config.spawn_rate);
    let mut progress = Progress::new(config.progress, config.users, config.duration);
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let mut users = JoinSet::new();
    let mut spawned = 0;
    let mut next_spawn = started;
    let mut stats = Stats::default();
    tokio::pin!(stop);

    loop {
        tokio::select! {
            () = &mut stop => break,
            () = sleep_until(deadline) => break,
            () = sleep_until(next_spawn), if spawned < config.users => {
                let user = User {
                    client: client.clone(),
                    config: config.clone(),
                    budget: budget.clone(),
                    live: live.clone(),
                    stop: user_stop.clone(),
                    rng: SmallRng::seed_from_u64(seeds.random()),
                };
                users.spawn(user.run());
                spawned += 1;
                next_spawn += spawn_interval;
            }
            Some(finished) = users.join_next() => {
                if let Ok(user_stats) = finished {
                    stats.merge(user_stats);
                }
                // Users only finish on their own when the request budget is spent.
                if users.is_empty() && spawned == config.users {
                    break;
                }
            }
            _ = ticker.tick() => progress.show(started.elapsed(), spawned, &live),
        }
    }
    let elapsed = started.elapsed();
    stop_users.send_replace(true);
    while let Some(finished) = users.join_next().await {
        if let Ok(user_stats) = finished {
            stats.merge(user_stats);
        }
    }
    progress.finish(elapsed, spawned, &live);
    Ok(stats.summarize(elapsed))
}

/// One simulated user: request, record, wait, until stopped or out of budget.
struct User {
    client: reqwest::Client,
    config: Arc<LoadConfig>,
    budget: Arc<AtomicU64>,
    live: Arc<Live>,
    stop: watch::Receiver<bool>,
    rng: SmallRng,
}

impl User {
    async fn run(mut self) -> Stats {
        let mut stats = Stats::default();
        while take_one(&self.budget) {
            let (endpoint, path) = self.config.scenario.pick(&mut self.rng);
            let url = self.config.url(&path);
            let started = Instant::now();
            // A request cut short by the stop is not counted: it has neither succeeded nor failed.
            let Some(failure) = until_stopped(&mut self.stop, call(&self.client, &url)).await else {
                break;
            };
            self.live.record(failure.is_some());
            stats.record(endpoint, started.elapsed(), failure);
            let pause = wait_time(self.config.wait, &mut self.rng);
            if !pause.is_zero() && until_stopped(&mut self.stop, sleep(pause)).await.is_none() {
                break;
            }
        }
        stats
    }
}

/// reqwest's default (at most 10 hops), but a run against loopback stays on loopback: a redirect elsewhere
/// fails the request instead of loading a host `--allow-remote` was never given for.
fn redirect_policy(host: &reqwest::Url) -> reqwest::redirect::Policy {
    if !is_loopback(host) {
        return reqwest::redirect::Policy::default();
    }
    reqwest::redirect::Policy::custom(|attempt| {
        if !is_loopback(attempt.url()) {
            attempt.error(RemoteRedirect)
        } else if attempt.previous().len() >= MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else {
            attempt.follow()
        }
    })
}

const MAX_REDIRECTS: usize = 10;

/// A run against loopback was redirected to another host.
#[derive(Debug, thiserror::Error)]
#[error("redirect to a remote host refused")]
struct RemoteRedirect;

/// `None` when the run stops before `work` completes.
async fn until_stopped<T>(stop: &mut watch::Receiver<bool>, work: impl Future<Output = T>) -> Option<T> {
    tokio::select! {
        biased;
        _ = stop.wait_for(|stopped| *stopped) => None,
        done = work => Some(done),
    }
}

/// Takes one request from the run's budget; false once it is spent.
fn take_one(budget: &AtomicU64) -> bool {
    budget.fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| left.checked_sub(1)).is_ok()
}

fn wait_time(wait: WaitTime, rng: &mut SmallRng) -> Duration {
    if wait.max <= wait.min {
        return wait.min;
    }
    Duration::from_secs_f64(rng.random_range(wait.min.as_secs_f64()..=wait.max.as_secs_f64()))
}

/// Sends one GET and reads the whole body; the failure reason, or `None` on success (any status below 400).
async fn call(client: &reqwest::Client, url: &str) -> Option<String> {
    let mut response = match client.get(url).send().await {
        Ok(response) => response,
        Err(error) => return Some(describe(&error)),
    };
    let status = response.status();
    // Read to the end, a chunk at a time, keeping nothing: a huge answer costs time, not memory.
    loop {
        match response.chunk().await {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(error) => return Some(describe(&error)),
        }
    }
    (status.is_client_error() || status.is_server_error()).then(|| format!("HTTP {}", status.as_u16()))
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timeout".to_owned()
    } else if error.is_connect() {
        "connection error".to_owned()
    } else if error.is_redirect() {
        let remote = std::error::Error::source(error).is_some_and(|source| source.is::<RemoteRedirect>());
        if remote {
            RemoteRedirect.to_string()
        } else {
            "redirect error".to_owned()
        }
    } else if error.is_body() || error.is_decode() {
        "broken response body".to_owned()
    } else {
        "request error".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_runs_out_exactly() {
        let budget = AtomicU64::new(3);
        assert_eq!((0..5).filter(|_| take_one(&budget)).count(), 3);
        assert_eq!(budget.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn wait_times_stay_in_range() {
        let mut rng = SmallRng::seed_from_u64(5);
        let wait = WaitTime { min: Duration::from_millis(10), max: Duration::from_millis(20) };
        for _ in 0..1000 {
            let pause = wait_time(wait, &mut rng);
            assert!(pause >= wait.min && pause <= wait.max, "{pause:?}");
        }
        let fixed = WaitTime { min: Duration::from_millis(7), max: Duration::from_millis(7) };
        assert_eq!(wait_time(fixed, &mut rng), Duration::from_millis(7));
    }

    /// A config against `address` that stops on its budget, with no wait between requests.
    fn config(address: std::net::SocketAddr, max_requests: u64) -> LoadConfig {
        LoadConfig {
            users: 2,
            spawn_rate: 1000.0,
            max_requests,
            wait: WaitTime { min: Duration::ZERO, max: Duration::ZERO },
            seed: Some(1),
            ..LoadConfig::new(&format!("http://{address}"), false).expect("loopback")
        }
    }

    #[tokio::test]
    async fn a_server_that_never_answers_counts_timeouts() {
        // Accepts connections and keeps them open without a word.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let silent = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((connection, _)) = listener.accept().await {
                open.push(connection);
            }
        });
        let config = LoadConfig { request_timeout: Duration::from_millis(100), ..config(address, 4) };
        let summary = run(config).await.expect("the run completes");
        silent.abort();
        assert_eq!((summary.total.requests, summary.total.failures), (4, 4));
        assert!(summary.failures.iter().all(|f| f.reason == "timeout"), "{:?}", summary.failures);
    }

    #[tokio::test]
    async fn a_loopback_run_does_not_follow_a_redirect_to_a_remote_host() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        // `.invalid` never resolves: a client that follows the redirect fails with a connection error.
        let away =
            axum::Router::new().fallback(|| async { axum::response::Redirect::temporary("http://load-me.invalid:9/") });
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, away).await;
        });
        let summary = run(config(address, 2)).await.expect("the run completes");
        server.abort();
        assert_eq!((summary.total.requests, summary.total.failures), (2, 2), "{summary}");
        assert!(
            summary.failures.iter().all(|f| f.reason == "redirect to a remote host refused"),
            "{:?}",
            summary.failures
        );
    }

    #[tokio::test]
    async fn the_deadline_interrupts_a_user_waiting_between_requests() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, axum::Router::new().fallback(|| async { "ok" })).await;
        });
        // Each user sends one request, then would wait an hour: only the deadline can end the run.
        let config = LoadConfig {
            duration: Duration::from_millis(500),
            wait: WaitTime { min: Duration::from_secs(3600), max: Duration::from_secs(3600) },
            ..config(address, 1000)
        };
        let summary = run(config).await.expect("the run completes");
        server.abort();
        // Returning at all proves the wait was cut short; a loaded machine may not finish both requests.
        assert!(summary.total.requests <= 2 && summary.total.failures == 0, "{summary}");
        assert!(summary.elapsed < Duration::from_secs(3600));
    }
}
