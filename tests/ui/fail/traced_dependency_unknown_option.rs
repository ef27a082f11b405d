use traced::traced_dependency;

#[traced_dependency(nme = "database_operation")]
async fn db(headers: axum::http::HeaderMap) -> usize {
    headers.len()
}

fn main() {}
