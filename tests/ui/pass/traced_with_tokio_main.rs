//! `#[traced]` next to `#[tokio::main]`, in either order, and nested in a traced body.

use traced::traced;

#[traced]
async fn child(n: u32) -> u32 {
    n + 1
}

#[traced]
fn outer() -> u32 {
    #[traced(name = "outer.helper")]
    fn helper() -> u32 {
        41
    }
    helper()
}

mod traced_first {
    #[traced::traced]
    #[tokio::main(flavor = "current_thread")]
    pub async fn run() -> u32 {
        super::child(1).await
    }
}

#[tokio::main(flavor = "current_thread")]
#[traced(name = "main")]
async fn main() {
    assert_eq!(child(1).await, 2);
    assert_eq!(outer(), 41);
    let from_thread = std::thread::spawn(traced_first::run).join();
    assert_eq!(from_thread.ok(), Some(2));
}
