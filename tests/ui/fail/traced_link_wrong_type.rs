use opentelemetry::trace::SpanContext;
use traced::traced;

#[traced(links(first, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))]
fn handle(first: SpanContext) {}

fn main() {
    handle(SpanContext::empty_context());
}
