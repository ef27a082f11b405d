use traced::record_errors;

#[record_errors(respond)]
fn load() -> Result<u32, String> {
    Ok(1)
}

fn main() {
    let _ = load();
}
