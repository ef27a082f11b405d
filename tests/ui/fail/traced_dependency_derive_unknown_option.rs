use traced::TracedDependency;

#[derive(TracedDependency)]
#[dependency(name = "context", attributes(user.id = 1))]
struct Context {
    headers: axum::http::HeaderMap,
}

fn main() {}
