use traced::traced;

#[traced(level = error)]
fn at_error() {}

#[traced(level = warn, name = "warned")]
fn at_warn() -> Result<(), String> {
    Ok(())
}

#[traced(level = info)]
async fn at_info() -> u8 {
    1
}

#[traced(level = debug, root)]
fn at_debug() -> ! {
    panic!("never called")
}

#[traced(level = trace, attributes(id))]
fn at_trace(id: u64) -> impl std::fmt::Display {
    id
}

struct Store;

#[traced(level = debug)]
impl Store {
    fn get(&self) {}

    #[traced(level = error)]
    fn put(&self) {}
}

fn main() {
    traced::set_span_level(tracing::level_filters::LevelFilter::TRACE);
    at_error();
    let _ = at_warn();
    let _ = at_info();
    let _ = at_trace(1).to_string();
    Store.get();
    Store.put();
    if std::env::args().count() > 10 {
        at_debug();
    }
}
