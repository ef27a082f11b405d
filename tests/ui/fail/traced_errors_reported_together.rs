use traced::traced;

#[traced(nmae = "x", kind = sever, attributes(Item = 1, http.method = "GET"))]
const fn load_item() -> u32 {
    1
}

fn main() {
    assert_eq!(load_item(), 1);
}
