use traced::traced;

#[traced(kind = client, attributes(net.peer.name = host))]
fn connect(host: &str) -> usize {
    host.len()
}

fn main() {
    connect("127.0.0.1");
}
