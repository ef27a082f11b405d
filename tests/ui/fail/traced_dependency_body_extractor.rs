use traced::traced_dependency;

#[traced_dependency]
async fn payload(axum::Json(body): axum::Json<String>) -> String {
    body
}

fn main() {}
