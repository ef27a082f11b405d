use traced::traced_dependency;

#[traced_dependency]
async fn user(headers: axum::http::HeaderMap, id: u64) -> String {
    format!("{} {id}", headers.len())
}

fn main() {}
