use traced::TracedDependency;

#[derive(TracedDependency)]
#[dependency(name = "context")]
#[dependency(name = "other")]
struct Context {
    headers: axum::http::HeaderMap,
}

fn main() {}
