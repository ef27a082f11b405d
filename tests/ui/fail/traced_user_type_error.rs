use traced::traced;

#[traced(attributes(id))]
fn load_item(id: u64) -> u64 {
    let name = format!("item-{id}");
    name
}

#[traced]
async fn load_later(id: u64) -> Result<u64, String> {
    Ok("not a number")
}

fn main() {
    load_item(1);
    drop(load_later(1));
}
