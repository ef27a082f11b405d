use traced::traced_dependency;

#[traced_dependency]
async fn _2fa(headers: axum::http::HeaderMap) -> usize {
    headers.len()
}

fn main() {}
