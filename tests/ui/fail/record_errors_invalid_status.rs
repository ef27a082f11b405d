use traced::record_errors;

#[record_errors(status = 200)]
async fn checkout() -> Result<String, String> {
    Ok(String::new())
}

fn main() {
    let _ = checkout();
}
