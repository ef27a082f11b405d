use traced::traced;

#[traced(kind = server, attributes(http.method = method))]
fn handle(method: &str) -> usize {
    method.len()
}

fn main() {
    handle("GET");
}
