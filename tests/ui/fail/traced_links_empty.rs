use traced::traced;

#[traced(links())]
fn handle() {}

fn main() {
    handle();
}
