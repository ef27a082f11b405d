use traced::record_errors;

#[record_errors]
fn count() -> u32 {
    1
}

fn main() {
    count();
}
