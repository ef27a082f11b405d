use traced::traced;

#[traced(kind = client, attributes("http.url" = url))]
fn call(url: &str) -> usize {
    url.len()
}

fn main() {
    call("http://127.0.0.1/");
}
