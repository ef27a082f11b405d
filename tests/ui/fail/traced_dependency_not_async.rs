use traced::traced_dependency;

#[traced_dependency]
fn request_id(headers: axum::http::HeaderMap) -> usize {
    headers.len()
}

fn main() {}
