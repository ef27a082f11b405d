use traced::traced;

#[traced(kind = client, attributes(http.status_code = status))]
fn call(status: u16) -> bool {
    status < 400
}

fn main() {
    call(200);
}
