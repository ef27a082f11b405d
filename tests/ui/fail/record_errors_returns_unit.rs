use traced::record_errors;

#[record_errors]
fn store(value: u32) {
    let _ = value;
}

fn main() {
    store(1);
}
