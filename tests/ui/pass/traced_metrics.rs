//! `#[traced(metrics)]` on every shape of function.

use async_trait::async_trait;
use traced::traced;

#[traced(metrics)]
fn unit() {}

#[traced(metrics, name = "checked")]
fn result(fail: bool) -> Result<u8, String> {
    if fail {
        return Err("no".to_owned());
    }
    Ok(1)
}

#[traced(metrics)]
fn opaque() -> impl std::fmt::Display {
    1
}

#[traced(metrics)]
fn never() -> ! {
    panic!("never called")
}

#[traced(metrics)]
#[track_caller]
fn tracked() -> Result<(), String> {
    Ok(())
}

#[traced(metrics, level = debug, root)]
async fn async_result() -> std::io::Result<u8> {
    Ok(1)
}

#[traced(metrics)]
async fn async_unit() {}

#[traced(metrics)]
async fn async_never() -> ! {
    panic!("never called")
}

struct Service;

#[async_trait]
trait Handle {
    async fn handle(&self) -> Result<u8, String>;
}

#[async_trait]
impl Handle for Service {
    #[traced(metrics)]
    async fn handle(&self) -> Result<u8, String> {
        Ok(1)
    }
}

#[traced(metrics)]
impl Service {
    fn get(&self) -> Option<u8> {
        Some(1)
    }
}

fn main() {
    unit();
    let _ = result(false);
    let _ = opaque().to_string();
    let _ = tracked();
    let _ = async_result();
    let _ = async_unit();
    let _ = Service.handle();
    let _ = Service.get();
    if std::env::args().count() > 10 {
        never();
    }
    if std::env::args().count() > 10 {
        let _ = async_never();
    }
}
