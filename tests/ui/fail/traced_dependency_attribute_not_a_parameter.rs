use traced::traced_dependency;

#[allow(non_upper_case_globals, dead_code)]
const user_id: u32 = 7;

#[traced_dependency(attributes(user_id))]
async fn db(headers: axum::http::HeaderMap) -> usize {
    headers.len()
}

fn main() {}
