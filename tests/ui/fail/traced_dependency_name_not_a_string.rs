use traced::traced_dependency;

#[traced_dependency(name = 5)]
async fn db(headers: axum::http::HeaderMap) -> usize {
    headers.len()
}

fn main() {}
