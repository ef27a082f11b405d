use traced::traced;

#[traced(kind = sever)]
fn handle() {}

fn main() {
    handle();
}
