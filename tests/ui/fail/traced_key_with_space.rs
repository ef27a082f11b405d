use traced::traced;

#[traced(attributes("http route" = route))]
fn handle(route: &str) -> usize {
    route.len()
}

fn main() {
    handle("/items");
}
