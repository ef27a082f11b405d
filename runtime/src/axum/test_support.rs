//! What the layer's unit tests share.

use axum::extract::MatchedPath;
use http::Request;

/// The `MatchedPath` that `template` gives for a request to `uri`. It has no public constructor: take
/// one from a router.
pub(super) fn matched_path(uri: &str, template: &str) -> MatchedPath {
    use tower::ServiceExt as _;
    let (sender, receiver) = std::sync::mpsc::channel();
    let router = axum::Router::new().route(
        template,
        axum::routing::get(move |path: MatchedPath| {
            let _ = sender.send(path);
            async {}
        }),
    );
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    runtime
        .block_on(router.oneshot(Request::get(uri).body(axum::body::Body::empty()).expect("request")))
        .expect("routed");
    receiver.recv().expect("matched path")
}
