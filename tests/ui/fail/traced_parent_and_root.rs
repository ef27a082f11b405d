use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::Context;
use traced::traced;

#[traced(parent = cx, root)]
fn handle(cx: &Context) -> bool {
    cx.has_active_span()
}

fn main() {
    handle(&Context::new());
}
