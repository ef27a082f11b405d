use traced::traced;

#[traced(kind = Server)]
fn handle() {}

fn main() {
    handle();
}
