use traced::traced;

#[traced(parent = request_id)]
fn handle(request_id: u64) {}

fn main() {
    handle(1);
}
