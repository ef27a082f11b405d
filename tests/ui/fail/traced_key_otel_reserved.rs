use traced::traced;

#[traced(attributes(otel.kind = "server", "otel.status_code" = "ERROR"))]
fn handle(id: u64) -> u64 {
    id
}

fn main() {
    handle(1);
}
